import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { getRandomPort } from "get-port-please";
import { expect, it, vi } from "vitest";

import { startHTTPServer } from "./startHTTPServer.js";

it("answers 401 with a challenge on GET /sse when authenticate rejects", async () => {
  const port = await getRandomPort();
  const createServer = vi.fn(
    async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
  );

  const httpServer = await startHTTPServer({
    authenticate: async () => ({
      authenticated: false,
      error: "Missing token",
    }),
    createServer,
    port,
  });

  try {
    const response = await fetch(`http://localhost:${port}/sse`);

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(
      'Bearer error="invalid_token", error_description="Missing token"',
    );
    expect(await response.json()).toEqual({
      error: { code: -32000, message: "Missing token" },
      id: null,
      jsonrpc: "2.0",
    });
    expect(createServer).not.toHaveBeenCalled();
  } finally {
    await httpServer.close();
  }
});

it("opens the SSE stream when authenticate accepts", async () => {
  const port = await getRandomPort();
  const authenticate = vi.fn(async () => ({ authenticated: true }));

  const httpServer = await startHTTPServer({
    authenticate,
    createServer: async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
    port,
  });

  try {
    const controller = new AbortController();
    const response = await fetch(`http://localhost:${port}/sse`, {
      headers: { Authorization: "Bearer good" },
      signal: controller.signal,
    });

    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(authenticate).toHaveBeenCalledOnce();
    controller.abort();
  } finally {
    await httpServer.close();
  }
});

it("answers 401 on POST /messages before looking the session up", async () => {
  const port = await getRandomPort();

  const httpServer = await startHTTPServer({
    authenticate: async () => ({ authenticated: false }),
    createServer: async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
    port,
  });

  try {
    const response = await fetch(
      `http://localhost:${port}/messages?sessionId=unknown`,
      {
        body: JSON.stringify({ id: 2, jsonrpc: "2.0", method: "ping" }),
        headers: { "Content-Type": "application/json" },
        method: "POST",
      },
    );

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(
      'Bearer error="invalid_token", error_description="Unauthorized: Authentication failed"',
    );
  } finally {
    await httpServer.close();
  }
});

it("answers 401 on GET /sse when createServer throws an auth error", async () => {
  const port = await getRandomPort();

  const httpServer = await startHTTPServer({
    createServer: async () => {
      throw new Error("Unauthorized: token revoked");
    },
    port,
  });

  try {
    const response = await fetch(`http://localhost:${port}/sse`);

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(
      'Bearer error="invalid_token", error_description="Unauthorized: token revoked"',
    );
  } finally {
    await httpServer.close();
  }
});

it("sends the callback's challenge on GET /sse", async () => {
  const port = await getRandomPort();
  const challenge =
    'Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/sse"';

  const httpServer = await startHTTPServer({
    authenticate: async () => ({
      authenticated: false,
      wwwAuthenticate: challenge,
    }),
    createServer: async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
    port,
  });

  try {
    const response = await fetch(`http://localhost:${port}/sse`);

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(challenge);
  } finally {
    await httpServer.close();
  }
});

it("still answers 500 on GET /sse when createServer fails for another reason", async () => {
  const port = await getRandomPort();

  const httpServer = await startHTTPServer({
    createServer: async () => {
      throw new Error("upstream unavailable");
    },
    port,
  });

  try {
    const response = await fetch(`http://localhost:${port}/sse`);

    expect(response.status).toBe(500);
    expect(await response.text()).toBe("Error creating server");
  } finally {
    await httpServer.close();
  }
});
