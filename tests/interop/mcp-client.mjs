// Interop: the official MCP TypeScript SDK's client (@modelcontextprotocol/sdk,
// pinned in package-lock.json) talks to countersign-mcp over stdio, as any
// MCP client (Claude Code, the MCP Inspector, an SDK agent) would.
//
// Driven by crates/mcp/tests/gateway.rs: one JSON command per line on stdin,
// one JSON line per event on stdout.
//   {"op":"list_tools"}                                  -> {"op":"tools","tools":[...]}
//   {"op":"call","id":"c1","tool":"...","arguments":{}}  -> {"op":"progress","id":"c1",...}*
//                                                           then {"op":"result","id":"c1","result":{...}}
//                                                           or {"op":"error","id":"c1","message":"..."}
//   {"op":"cancel","id":"c1"}                            -> the call's AbortSignal fires (the SDK sends
//                                                           notifications/cancelled)
//   {"op":"close"}                                       -> {"op":"closed"}, exit
// Environment: GATEWAY (the countersign-mcp binary), GATEWAY_ARGS (a JSON
// array of its arguments) and GATEWAY_ENV (a JSON object, optional) to start
// it over stdio; or GATEWAY_URL and
// GATEWAY_TOKEN to reach a running one over streamable HTTP.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import readline from 'node:readline';

const emit = (event) => process.stdout.write(JSON.stringify(event) + '\n');

const transport = process.env.GATEWAY_URL
  ? new StreamableHTTPClientTransport(new URL(process.env.GATEWAY_URL), {
      requestInit: { headers: { Authorization: `Bearer ${process.env.GATEWAY_TOKEN}` } },
    })
  : new StdioClientTransport({
      command: process.env.GATEWAY,
      args: JSON.parse(process.env.GATEWAY_ARGS),
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...JSON.parse(process.env.GATEWAY_ENV ?? '{}') },
      stderr: 'inherit',
    });
const client = new Client({ name: 'countersign-interop', version: '1.0.0' });
await client.connect(transport);
emit({ op: 'ready', pid: transport.pid ?? null, server: client.getServerVersion() });

const calls = new Map();
const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  const cmd = JSON.parse(line);
  if (cmd.op === 'list_tools') {
    const { tools } = await client.listTools();
    emit({ op: 'tools', tools });
  } else if (cmd.op === 'call') {
    const abort = new AbortController();
    calls.set(cmd.id, abort);
    client
      .callTool({ name: cmd.tool, arguments: cmd.arguments }, undefined, {
        signal: abort.signal,
        timeout: 120_000,
        resetTimeoutOnProgress: true,
        onprogress: (p) => emit({ op: 'progress', id: cmd.id, ...p }),
      })
      .then(
        (result) => emit({ op: 'result', id: cmd.id, result }),
        (e) => emit({ op: 'error', id: cmd.id, message: String(e?.message ?? e) }),
      );
  } else if (cmd.op === 'cancel') {
    calls.get(cmd.id)?.abort('cancelled by the test');
  } else if (cmd.op === 'close') {
    await client.close();
    emit({ op: 'closed' });
    process.exit(0);
  }
}
