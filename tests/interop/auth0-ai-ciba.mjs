// Interop: Auth0's AI SDK (`@auth0/ai`, the version pinned in
// package-lock.json) asks Countersign for a tool call, as an agent built on
// it does: AsyncAuthorizerBase.protect (what each framework's
// withAsyncAuthorization wraps) in interrupt mode, the tool called again
// after each interrupt until it runs or is refused. Nothing of the library
// is changed or mocked; it reaches the server over HTTPS at
// https://{DOMAIN} (trusting the development CA through
// NODE_EXTRA_CA_CERTS). One JSON line per outcome on stdout.
import { createRequire } from "node:module";

// The package's CommonJS build: its ESM build imports files without their
// extension, which Node's ESM loader refuses (bundlers, which agents built
// on it use, accept it).
const require = createRequire(import.meta.url);
const { AsyncAuthorizerBase, getAsyncAuthorizationCredentials } = require("@auth0/ai/AsyncAuthorization");
const { MemoryStore } = require("@auth0/ai/stores");

const env = (name) => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};
const say = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const details = process.env.AUTHORIZATION_DETAILS;
const authorizer = new AsyncAuthorizerBase(
  { domain: env("DOMAIN"), clientId: env("CLIENT_ID"), clientSecret: env("CLIENT_SECRET") },
  {
    userID: env("USER_ID"),
    bindingMessage: env("BINDING_MESSAGE"),
    scopes: (process.env.SCOPES ?? "openid").split(" "),
    ...(process.env.AUDIENCE ? { audience: process.env.AUDIENCE } : {}),
    ...(details ? { authorizationDetails: JSON.parse(details) } : {}),
    requestedExpiry: Number(env("REQUESTED_EXPIRY")),
    store: new MemoryStore(),
    // "interrupt" (the tool is called again after each interrupt) or
    // "block" (the SDK polls until an outcome).
    onAuthorizationRequest: process.env.MODE ?? "interrupt",
  },
);

// The tool: it runs only with credentials, and reports what it was given.
const sendEmail = authorizer.protect(
  () => ({ threadID: "thread-1", toolCallID: "call-1", toolName: "send_email" }),
  async (order) => {
    const credentials = getAsyncAuthorizationCredentials();
    return {
      ran: order,
      authorization_details: credentials.authorizationDetails ?? null,
      has_access_token: typeof credentials.accessToken === "string",
      has_refresh_token: typeof credentials.refreshToken === "string",
      scopes: credentials.scopes ?? null,
    };
  },
);

const deadline = Date.now() + Number(env("WAIT_SECS")) * 1000;
for (;;) {
  try {
    const result = await sendEmail({ to: "customer@example.org", order: "ACME-10" });
    if (result instanceof Error) {
      say({
        outcome: "refused",
        name: result.constructor.name,
        code: result.code ?? null,
        error: result.error ?? null,
        message: result.message,
      });
    } else {
      say({ outcome: "ran", ...result });
    }
    break;
  } catch (e) {
    const code = e?.code ?? "";
    if (code === "ASYNC_AUTHORIZATION_AUTHORIZATION_PENDING" || code === "ASYNC_AUTHORIZATION_AUTHORIZATION_POLLING_ERROR") {
      say({ outcome: "interrupt", code, retry_in: e.nextRetryInterval() });
      if (Date.now() > deadline) {
        say({ outcome: "gave_up" });
        process.exit(2);
      }
      await sleep(Math.max(1, Number(e.nextRetryInterval())) * 1000);
      continue;
    }
    say({ outcome: "thrown", name: e?.constructor?.name ?? null, code, message: String(e?.message ?? e) });
    process.exit(1);
  }
}
