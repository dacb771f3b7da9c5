// Runs the CIBA poll flow with openid-client (panva), a certified OpenID
// client library, used unchanged: discovery, client_secret_basic, the
// backchannel authentication request, polling the token endpoint (honouring
// interval and slow_down) and ID token validation (iss, aud, sub, exp, iat,
// alg from the metadata, and its signature against the server's jwks_uri via
// the library's enableNonRepudiationChecks).
//
// Input (environment): ISSUER, CLIENT_ID, CLIENT_SECRET, LOGIN_HINT,
// BINDING_MESSAGE, AUTHORIZATION_DETAILS (JSON text).
// Output: one JSON object per line on stdout:
//   {"event":"initiated","auth_req_id_length":N,"expires_in":N,"interval":N}
//   {"event":"tokens", ...}   or   {"event":"error", "error": "...", ...}
import * as client from 'openid-client';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`missing environment variable ${name}`);
  return value;
};

const emit = (object) => process.stdout.write(`${JSON.stringify(object)}\n`);

const causeCodes = (error) => {
  const codes = [];
  for (let e = error?.cause, depth = 0; e && depth < 8; e = e.cause, depth += 1) {
    codes.push(e.code ?? e.name ?? null);
  }
  return codes;
};

try {
  // HTTPS, with the server's CA trusted through NODE_EXTRA_CA_CERTS: the
  // library is used with its defaults (it refuses plain http issuers).
  const issuer = new URL(env('ISSUER'));
  // The client is registered with client_secret_basic; the library's default
  // for a bare secret is client_secret_post, so name the method (its public
  // ClientSecretBasic helper).
  const config = await client.discovery(
    issuer,
    env('CLIENT_ID'),
    undefined,
    client.ClientSecretBasic(env('CLIENT_SECRET')),
  );
  // Also verify the ID token's signature against the server's JWKS (by
  // default the library trusts the TLS-protected token response).
  client.enableNonRepudiationChecks(config);

  const started = await client.initiateBackchannelAuthentication(config, {
    scope: 'openid',
    login_hint: env('LOGIN_HINT'),
    binding_message: env('BINDING_MESSAGE'),
    authorization_details: env('AUTHORIZATION_DETAILS'),
  });
  emit({
    event: 'initiated',
    auth_req_id_length: started.auth_req_id.length,
    expires_in: started.expires_in,
    interval: started.interval ?? null,
  });

  const tokens = await client.pollBackchannelAuthenticationGrant(config, started);
  emit({
    event: 'tokens',
    token_type: tokens.token_type,
    access_token: tokens.access_token,
    expires_in: tokens.expires_in ?? null,
    scope: tokens.scope ?? null,
    id_token: tokens.id_token ?? null,
    authorization_details: tokens.authorization_details ?? null,
    id_token_claims: tokens.claims() ?? null,
  });
} catch (error) {
  emit({
    event: 'error',
    name: error?.name ?? null,
    code: error?.code ?? null,
    error: error?.error ?? null,
    status: error?.status ?? null,
    message: String(error?.message ?? error),
    // The codes along the error's causes (a TLS refusal is a cause of the
    // fetch error: CERT_HAS_EXPIRED, ERR_TLS_CERT_ALTNAME_INVALID, ...).
    causes: causeCodes(error),
    // WWWAuthenticateChallengeError: the parsed challenges.
    challenges: error?.code === 'OAUTH_WWW_AUTHENTICATE_CHALLENGE' ? error.cause ?? null : null,
  });
  process.exitCode = 1;
}
