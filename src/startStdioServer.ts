import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  SSEClientTransport,
  type SSEClientTransportOptions,
} from "@modelcontextprotocol/sdk/client/sse.js";
import {
  StreamableHTTPClientTransport,
  type StreamableHTTPClientTransportOptions,
} from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";

import { proxyServer } from "./proxyServer.js";

export enum ServerType {
  HTTPStream = "HTTPStream",
  SSE = "SSE",
}

/**
 * Serves, on this process's stdin/stdout, the MCP server found at `url`.
 * Resolves with the stdio server once both sides are connected.
 */
export const startStdioServer = async ({
  initStdioServer,
  initStreamClient,
  serverType,
  transportOptions = {},
  url,
}: {
  initStdioServer?: () => Promise<Server>;
  initStreamClient?: () => Promise<Client>;
  serverType: ServerType;
  transportOptions?:
    SSEClientTransportOptions | StreamableHTTPClientTransportOptions;
  url: string;
}): Promise<Server> => {
  const transport =
    serverType === ServerType.SSE
      ? new SSEClientTransport(new URL(url), transportOptions)
      : new StreamableHTTPClientTransport(new URL(url), transportOptions);

  const client = initStreamClient
    ? await initStreamClient()
    : new Client({ name: "mcp-proxy", version: "1.0.0" }, { capabilities: {} });
  await client.connect(transport);

  // The handshake that connect() completed set both of these.
  const serverVersion = client.getServerVersion()!;
  const serverCapabilities = client.getServerCapabilities()!;

  const server = initStdioServer
    ? await initStdioServer()
    : new Server(serverVersion, { capabilities: serverCapabilities });
  // Handlers go in before stdin is read, so no request can beat them.
  await proxyServer({ client, server, serverCapabilities });
  await server.connect(new StdioServerTransport());

  return server;
};
