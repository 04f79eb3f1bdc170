import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { getRandomPort } from "get-port-please";
import { expect, it, vi } from "vitest";

import { startHTTPServer } from "./startHTTPServer.js";

const initializeRequest = {
  id: 1,
  jsonrpc: "2.0",
  method: "initialize",
  params: {
    capabilities: {},
    clientInfo: { name: "test", version: "1.0.0" },
    protocolVersion: "2025-03-26",
  },
};

const headers = {
  Accept: "application/json, text/event-stream",
  "Content-Type": "application/json",
};

/** A stateful server whose `authenticate` accepts until `revoke()`. */
const startRevocableServer = async () => {
  const port = await getRandomPort();
  let valid = true;
  const authenticate = vi.fn(async () =>
    valid
      ? { authenticated: true }
      : { authenticated: false, error: "Token revoked" },
  );

  const httpServer = await startHTTPServer({
    authenticate,
    createServer: async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
    port,
  });

  const initialized = await fetch(`http://localhost:${port}/mcp`, {
    body: JSON.stringify(initializeRequest),
    headers,
    method: "POST",
  });
  await initialized.body?.cancel();
  const sessionId = initialized.headers.get("mcp-session-id")!;

  return {
    authenticate,
    httpServer,
    port,
    revoke: () => {
      valid = false;
    },
    sessionId,
  };
};

it("answers 401 to a stateful POST once authenticate rejects", async () => {
  const server = await startRevocableServer();

  try {
    expect(server.sessionId).toBeTruthy();
    server.revoke();

    const response = await fetch(`http://localhost:${server.port}/mcp`, {
      body: JSON.stringify({ id: 2, jsonrpc: "2.0", method: "ping" }),
      headers: { ...headers, "Mcp-Session-Id": server.sessionId },
      method: "POST",
    });

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(
      'Bearer error="invalid_token", error_description="Token revoked"',
    );
    expect(await response.json()).toEqual({
      error: { code: -32000, message: "Token revoked" },
      id: 2,
      jsonrpc: "2.0",
    });
  } finally {
    await server.httpServer.close();
  }
});

it("serves a stateful POST while authenticate accepts", async () => {
  const server = await startRevocableServer();

  try {
    const response = await fetch(`http://localhost:${server.port}/mcp`, {
      body: JSON.stringify({ id: 2, jsonrpc: "2.0", method: "ping" }),
      headers: { ...headers, "Mcp-Session-Id": server.sessionId },
      method: "POST",
    });

    expect(response.status).toBe(200);
    await response.body?.cancel();
    expect(server.authenticate).toHaveBeenCalledTimes(2);
  } finally {
    await server.httpServer.close();
  }
});

it.each(["GET", "DELETE"])(
  "answers 401 to a %s of a live session once authenticate rejects",
  async (method) => {
    const server = await startRevocableServer();

    try {
      server.revoke();

      const response = await fetch(`http://localhost:${server.port}/mcp`, {
        headers: {
          Accept: "text/event-stream",
          "Mcp-Session-Id": server.sessionId,
        },
        method,
      });

      expect(response.status).toBe(401);
      expect(response.headers.get("WWW-Authenticate")).toBe(
        'Bearer error="invalid_token", error_description="Token revoked"',
      );
    } finally {
      await server.httpServer.close();
    }
  },
);
