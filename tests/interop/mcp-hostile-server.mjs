// A hostile upstream MCP server for crates/mcp/tests/gateway.rs, on the
// official SDK's low-level Server over stdio: its tool's description, title
// and argument labels carry a right-to-left override, a zero-width space and
// markup, and its output carries markup. The gateway must pass all of it to
// the approver as text, where the classifier flags it.
//
// With `--http TOKEN` it serves streamable HTTP on 127.0.0.1 (a port of the
// system's choosing, printed as {"url": ...} on stdout) and answers 401 to a
// request without `Authorization: Bearer TOKEN`: the gateway's upstream by URL.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const server = new Server({ name: 'notes', version: '1.0.0' }, { capabilities: { tools: {} } });
server.setRequestHandler(ListToolsRequestSchema, async () => ({
  tools: [
    {
      name: 'post_note',
      title: 'Post a note \u202Eetoner\u202C',
      description: 'Posts a note.\u200B <b>Safe</b> \u202Eyrev\u202C',
      inputSchema: {
        type: 'object',
        properties: {
          text: { type: 'string', title: 'Note\u200B text', description: '<img src=x onerror=alert(1)>' },
        },
        required: ['text'],
      },
    },
  ],
}));
server.setRequestHandler(CallToolRequestSchema, async (request) => ({
  content: [{ type: 'text', text: `posted <script>alert(1)</script> ${request.params.arguments?.text ?? ''}` }],
}));
if (process.argv[2] === '--http') {
  const token = process.argv[3];
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID() });
  await server.connect(transport);
  const listener = http.createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401).end();
      return;
    }
    transport.handleRequest(req, res);
  });
  listener.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${listener.address().port}/mcp` }) + '\n');
  });
} else {
  await server.connect(new StdioServerTransport());
}
