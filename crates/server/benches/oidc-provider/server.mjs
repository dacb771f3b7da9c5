// node-oidc-provider as a CIBA (poll mode) peer for the Countersign throughput
// benchmark. Benchmark use only: keys are generated per process, state lives in
// process memory (a Map, see MemoryAdapter), and nobody ever approves a request.
//
// Usage: node server.mjs [--port 9400] [--users 64]
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '9400' },
    users: { type: 'string', default: '64' },
  },
});
const port = Number(args.port);
const users = Number(args.users);
if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError(`bad --port ${args.port}`);
if (!Number.isInteger(users) || users < 1) throw new TypeError(`bad --users ${args.users}`);

const issuer = `http://127.0.0.1:${port}`;
const RESOURCE = 'urn:countersign:bench:trading';

// `user-<i>` for 0 <= i < users; anything else is unknown.
const USER = /^user-(0|[1-9][0-9]*)$/;
const isKnownUser = (id) => {
  const m = USER.exec(id);
  return m !== null && Number(m[1]) < users;
};

// Signing key (RS256 is the default ID Token alg) and cookie keys, in memory.
const signingKey = {
  ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  kid: randomBytes(8).toString('hex'),
  use: 'sig',
  alg: 'RS256',
};

// The one RAR type the benchmark sends, Countersign's built-in stock_trade
// (schemas/stock_trade.schema.json), with its required members checked:
// {"type":"urn:countersign:details:v1:stock_trade","action":"buy",
//  "symbol":"ACME","quantity":"10","order_type":"market"}
const STOCK_TRADE = 'urn:countersign:details:v1:stock_trade';
function validateStockTrade(_ctx, detail) {
  const { action, symbol, quantity, order_type: orderType } = detail;
  const ok = ['buy', 'sell'].includes(action)
    && typeof symbol === 'string' && /^[A-Z0-9][A-Z0-9.-]{0,11}$/.test(symbol)
    && typeof quantity === 'string' && /^(0|[1-9][0-9]{0,11})(\.[0-9]{1,8})?$/.test(quantity)
    && ['market', 'limit', 'stop', 'stop_limit'].includes(orderType);
  if (!ok) {
    throw new errors.InvalidAuthorizationDetails(
      'stock_trade requires action buy|sell, a symbol, quantity as a decimal string and an order_type',
    );
  }
}

// The built-in in-memory adapter is a 1,000-entry LRU cache: under load it
// forgets pending requests (a poll then answers invalid_grant). This one keeps
// everything until it expires, as a database would.
const stores = new Map();
class MemoryAdapter {
  constructor(name) {
    if (!stores.has(name)) stores.set(name, new Map());
    this.store = stores.get(name);
  }
  async upsert(id, payload, expiresIn) {
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
    this.store.set(id, { payload, expiresAt });
  }
  async find(id) {
    const entry = this.store.get(id);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.store.delete(id);
      return undefined;
    }
    return entry.payload;
  }
  async findByUserCode() { return undefined; }
  async findByUid() { return undefined; }
  async consume(id) {
    const entry = this.store.get(id);
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }
  async destroy(id) { this.store.delete(id); }
  async revokeByGrantId(grantId) {
    for (const [id, { payload }] of this.store) if (payload.grantId === grantId) this.store.delete(id);
  }
}

const provider = new Provider(issuer, {
  adapter: MemoryAdapter,
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  clients: [{
    client_id: 'bench-agent',
    client_secret: 'bench-agent-secret-0123456789abcdef',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['urn:openid:params:grant-type:ciba'],
    response_types: [],
    redirect_uris: [],
    backchannel_token_delivery_mode: 'poll',
    // the client metadata default is [], which allows no RAR type at all
    authorization_details_types: [STOCK_TRADE],
  }],
  scopes: ['openid'],
  claims: { openid: ['sub'] },
  async findAccount(_ctx, sub) {
    if (!isKnownUser(sub)) return undefined;
    return { accountId: sub, async claims() { return { sub }; } };
  },
  routes: {
    backchannel_authentication: '/bc-authorize',
    token: '/token',
  },
  // Same value as the library default (10 min, capped requested_expiry);
  // set explicitly only so the "you SHOULD change ttl" notice is not printed.
  ttl: {
    BackchannelAuthenticationRequest(ctx) {
      const requested = ctx?.oidc?.params.requested_expiry;
      return requested ? Math.min(600, Number(requested)) : 600;
    },
  },
  features: {
    devInteractions: { enabled: false },
    ciba: {
      enabled: true,
      deliveryModes: ['poll'],
      async processLoginHint(_ctx, loginHint) {
        // undefined -> oidc-provider answers 400 unknown_user_id
        return isKnownUser(loginHint) ? loginHint : undefined;
      },
      // Same check as the library default, minus its "SHOULD change" notice:
      // optional, 1-20 chars of a basic character set.
      async validateBindingMessage(_ctx, bindingMessage) {
        if (bindingMessage?.match(/^[a-zA-Z0-9-._+/!?#]{1,20}$/) === null) {
          throw new errors.InvalidBindingMessage(
            'the binding_message value, when provided, needs to be 1 - 20 characters in length and use only a basic set of characters (matching the regex: ^[a-zA-Z0-9-._+/!?#]{1,20}$ )',
          );
        }
      },
      // The library defaults for these two throw "not implemented" on every
      // request; request_context and user_code are not used by the benchmark.
      async validateRequestContext() {},
      async verifyUserCode() {},
      async triggerAuthenticationDevice() {},
    },
    // oidc-provider refuses authorization_details unless the request has (or
    // defaults to) a resource indicator, so every request targets one
    // in-memory resource server.
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf ?? RESOURCE,
      async getResourceServerInfo(_ctx, resource) {
        if (resource !== RESOURCE) throw new errors.InvalidTarget();
        return { scope: '', audience: RESOURCE, accessTokenFormat: 'opaque' };
      },
    },
    richAuthorizationRequests: {
      enabled: true,
      types: { [STOCK_TRADE]: { validate: validateStockTrade } },
    },
  },
});

// No per-request logging. Only unexpected server errors go to stderr.
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

const server = provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`ready ${issuer}\n`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
