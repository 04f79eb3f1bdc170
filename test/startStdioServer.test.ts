// startStdioServer end to end: a stdio client talks to the proxy fixture
// (a child process), which talks over HTTP to an MCP server run here.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  LoggingMessageNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { createServer, type Server as HttpServer } from "node:http";
import { afterEach, describe, expect, it, vi } from "vitest";

import { ServerType } from "../src/startStdioServer.js";
import { getFreePort } from "./helpers.js";

const addTool = {
  description: "Adds two numbers",
  inputSchema: {
    properties: { a: { type: "number" }, b: { type: "number" } },
    required: ["a", "b"],
    type: "object" as const,
  },
  name: "add",
};

const createMcpServer = () => {
  const server = new Server(
    { name: "remote-server", version: "3.1.4" },
    { capabilities: { logging: {}, tools: {} } },
  );
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: [addTool],
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const { a, b } = request.params.arguments as { a: number; b: number };
    // Sent on the request's own stream, which both transports deliver.
    await extra.sendNotification({
      method: "notifications/message",
      params: { data: `adding ${a} and ${b}`, level: "info" },
    });
    return { content: [{ text: String(a + b), type: "text" }] };
  });
  return server;
};

/**
 * An MCP server on 127.0.0.1: stateless streamable HTTP on /mcp, SSE on
 * /sse with messages posted to /messages.
 */
const startHttpMcpServer = async (): Promise<{
  close: () => Promise<void>;
  port: number;
  postHeaders: (string | string[] | undefined)[];
}> => {
  const port = await getFreePort();
  const sseTransports = new Map<string, SSEServerTransport>();
  const postHeaders: (string | string[] | undefined)[] = [];

  const httpServer: HttpServer = createServer(async (req, res) => {
    if (req.method === "POST") {
      postHeaders.push(req.headers["x-proxy-test"]);
    }
    const { pathname, searchParams } = new URL(req.url ?? "/", "http://x");
    if (pathname === "/mcp") {
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
      });
      const server = createMcpServer();
      res.on("close", () => void server.close());
      await server.connect(transport);
      await transport.handleRequest(req, res);
    } else if (pathname === "/sse" && req.method === "GET") {
      const transport = new SSEServerTransport("/messages", res);
      sseTransports.set(transport.sessionId, transport);
      const server = createMcpServer();
      res.on("close", () => {
        sseTransports.delete(transport.sessionId);
        void server.close();
      });
      await server.connect(transport);
    } else if (pathname === "/messages" && req.method === "POST") {
      const transport = sseTransports.get(searchParams.get("sessionId") ?? "");
      if (transport) {
        await transport.handlePostMessage(req, res);
      } else {
        res.writeHead(404).end();
      }
    } else {
      res.writeHead(404).end();
    }
  });

  await new Promise<void>((resolve) =>
    httpServer.listen(port, "127.0.0.1", resolve),
  );

  return {
    close: () =>
      new Promise((resolve) => {
        httpServer.closeAllConnections();
        httpServer.close(() => resolve());
      }),
    port,
    postHeaders,
  };
};

const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  // The stdio client first: closing it ends the proxy process.
  for (const close of closers.splice(0).reverse()) {
    await close();
  }
});

describe("startStdioServer", () => {
  it.each([
    { path: "/sse", serverType: ServerType.SSE },
    { path: "/mcp", serverType: ServerType.HTTPStream },
  ])(
    "proxies stdio to a $serverType server, with its transportOptions",
    async ({ path, serverType }) => {
      const httpMcpServer = await startHttpMcpServer();
      closers.push(httpMcpServer.close);

      const client = new Client(
        { name: "stdio-client", version: "1.0.0" },
        { capabilities: {} },
      );
      const messages: unknown[] = [];
      client.setNotificationHandler(
        LoggingMessageNotificationSchema,
        (notification) => {
          messages.push(notification.params);
        },
      );
      await client.connect(
        new StdioClientTransport({
          args: [
            "tsx",
            "test/fixtures/stdio-proxy-server.ts",
            JSON.stringify({
              serverType,
              transportOptions: {
                requestInit: { headers: { "X-Proxy-Test": "yes" } },
              },
              url: `http://127.0.0.1:${httpMcpServer.port}${path}`,
            }),
          ],
          command: "npx",
          cwd: process.cwd(),
        }),
      );
      closers.push(() => client.close());

      // The stdio server presents itself as the remote one.
      expect(client.getServerVersion()).toEqual({
        name: "remote-server",
        version: "3.1.4",
      });
      expect(client.getServerCapabilities()).toMatchObject({
        logging: {},
        tools: {},
      });
      await expect(client.listTools()).resolves.toEqual({ tools: [addTool] });
      await expect(
        client.callTool({ arguments: { a: 2, b: 3 }, name: "add" }),
      ).resolves.toEqual({ content: [{ text: "5", type: "text" }] });
      await vi.waitFor(() =>
        expect(messages).toEqual([{ data: "adding 2 and 3", level: "info" }]),
      );
      expect(httpMcpServer.postHeaders).not.toHaveLength(0);
      expect(new Set(httpMcpServer.postHeaders)).toEqual(new Set(["yes"]));
    },
  );
});
