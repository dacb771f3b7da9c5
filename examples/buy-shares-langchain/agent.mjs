// A LangChain tool that buys shares only after its user approved exactly
// that trade on their Countersign approver (desktop app or CLI), through
// Auth0's AI SDK for LangChain pointed at a Countersign server instead of
// an Auth0 tenant. Nothing of the SDK is changed: `domain` is the server.
//
//   COUNTERSIGN_DOMAIN=localhost:8443   the server (the SDK adds https://)
//   CLIENT_ID, CLIENT_SECRET           the agent's client (client_secret_post)
//   USER_SUB                           whom to ask (`countersign-server user list`)
//   NODE_EXTRA_CA_CERTS                the server's development CA, if it uses one
//   SYMBOL, QUANTITY, LIMIT_PRICE      the trade (ACME, 10, 123.50 by default)
//   MODE                               block (default) or interrupt (LangGraph)
//
// It prints one JSON line: what the tool did, or why it did not.
import { tool } from "@langchain/core/tools";
import { z } from "zod";
import { createRequire } from "node:module";

// The SDK's CommonJS build (its ESM build imports files without their
// extension, which Node's own loader refuses; bundlers accept either).
const require = createRequire(import.meta.url);
const { Auth0AI, getCIBACredentials } = require("@auth0/ai-langchain");

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`set ${name}`);
  return value;
};

const auth0AI = new Auth0AI({
  auth0: {
    domain: env("COUNTERSIGN_DOMAIN"),
    clientId: env("CLIENT_ID"),
    clientSecret: env("CLIENT_SECRET"),
  },
});

// What the user is asked to approve: exactly this trade (Countersign's
// built-in stock_trade type, rendered by every approver with its display
// schema), and a code shown on both sides.
const trade = ({ symbol, quantity, limitPrice }) => [
  {
    type: "urn:countersign:details:v1:stock_trade",
    action: "buy",
    symbol,
    exchange: "XNAS",
    quantity: String(quantity),
    order_type: "limit",
    limit_price: { amount: limitPrice, currency: "USD" },
    time_in_force: "day",
  },
];

const withConfirmation = auth0AI.withAsyncUserConfirmation({
  userID: env("USER_SUB"),
  bindingMessage: ({ symbol, quantity }) => `BUY-${quantity}-${symbol}`,
  scopes: ["openid"],
  authorizationDetails: trade,
  requestedExpiry: 300,
  // "block": the call waits (the SDK polls) until the user decides.
  // "interrupt": the call ends with a GraphInterrupt that a LangGraph
  // graph turns into a pause, and resumes (GraphResumer) to poll again.
  onAuthorizationRequest: env("MODE", "block"),
  // A denial or an expiry: what the tool returns instead of running.
  onUnauthorized: (e) => ({ bought: false, reason: e.code ?? e.error ?? e.name, message: e.message }),
});

const buyShares = withConfirmation(
  tool(
    async ({ symbol, quantity, limitPrice }) => {
      // Runs only once approved: the token carries what the user approved.
      const credentials = getCIBACredentials();
      const approved = credentials?.authorizationDetails ?? [];
      // A broker would be called here with credentials.accessToken; the
      // example reports what it would send.
      return { bought: true, symbol, quantity, limitPrice, approved };
    },
    {
      name: "buy_shares",
      description: "Buy shares at a limit price, after the user approved the trade",
      schema: z.object({ symbol: z.string(), quantity: z.number().int().positive(), limitPrice: z.string() }),
    },
  ),
);

const args = {
  symbol: env("SYMBOL", "ACME"),
  quantity: Number(env("QUANTITY", "10")),
  limitPrice: env("LIMIT_PRICE", "123.50"),
};
// LangGraph's ToolNode passes the thread and tool call ids like this.
const config = { configurable: { thread_id: "example-thread", tool_call_id: "call-1" } };
try {
  const result = await buyShares.invoke(args, config);
  process.stdout.write(`${typeof result === "string" ? result : JSON.stringify(result)}\n`);
} catch (e) {
  // Interrupt mode: the graph would pause here and resume later.
  process.stdout.write(`${JSON.stringify({ interrupted: true, name: e?.name ?? null, message: String(e?.message ?? e) })}\n`);
  process.exitCode = 3;
}
