// `npm start`: a small OAuth-protected MCP server on localhost that shows
// the fix. Without a token, initialize gets a 401 whose WWW-Authenticate is
// the challenge `authenticate` computed; with `Bearer demo-token` it works.
//
//   curl -i http://localhost:3000/mcp \
//     -H 'Content-Type: application/json' \
//     -H 'Accept: application/json, text/event-stream' \
//     -d '{"jsonrpc":"2.0","method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"test-client","version":"1.0"}},"id":1}'
import type { IncomingMessage } from "node:http";

import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";

import { startHTTPServer } from "../src/index.js";

const port = Number(process.env.PORT ?? 3000);
const origin = `http://localhost:${port}`;
const resource = `${origin}/mcp`;
const resourceMetadataUrl = `${origin}/.well-known/oauth-protected-resource/mcp`;
const token = "demo-token";

const authenticate = async (req: IncomingMessage) => {
  const authorization = req.headers.authorization;

  if (authorization === `Bearer ${token}`) {
    return { authenticated: true, user: "demo-user" };
  }

  // RFC 6750 §3.1: no error code when no credentials were sent.
  const error = authorization
    ? ', error="invalid_token", error_description="Unknown token"'
    : "";

  return {
    authenticated: false,
    error: authorization ? "Invalid token" : "Missing token",
    statusCode: 401,
    wwwAuthenticate: `Bearer realm="MCP Server", resource_metadata="${resourceMetadataUrl}"${error}`,
  };
};

const createServer = async () => {
  const server = new Server(
    { name: "mcp-proxy-demo", version: "1.0.0" },
    { capabilities: { tools: {} } },
  );

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: [
      {
        description: "Says hello",
        inputSchema: { properties: {}, type: "object" },
        name: "hello",
      },
    ],
  }));
  server.setRequestHandler(CallToolRequestSchema, async () => ({
    content: [{ text: "Hello from behind OAuth!", type: "text" }],
  }));

  return server;
};

await startHTTPServer({
  authenticate,
  createServer,
  host: "127.0.0.1",
  // RFC 9728: where a client learns which authorization server to use.
  onUnhandledRequest: async (req, res) => {
    if (req.url === "/.well-known/oauth-protected-resource/mcp") {
      res.writeHead(200, { "Content-Type": "application/json" }).end(
        JSON.stringify({
          authorization_servers: ["https://auth.example.com"],
          bearer_methods_supported: ["header"],
          resource,
        }),
      );
      return;
    }

    res.writeHead(404).end();
  },
  port,
  stateless: true,
});

console.log(`MCP demo server on ${resource} (token: ${token})`);
console.log(`Try it:

  curl -i ${resource} \\
    -H 'Content-Type: application/json' \\
    -H 'Accept: application/json, text/event-stream' \\
    -d '{"jsonrpc":"2.0","method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"test-client","version":"1.0"}},"id":1}'
`);
