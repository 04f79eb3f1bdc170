import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { getRandomPort } from "get-port-please";
import { expect, it } from "vitest";

import { startHTTPServer } from "./startHTTPServer.js";

// Fetch Standard, CORS protocol: a cross-origin script reads only the
// safelisted response headers and those listed in
// Access-Control-Expose-Headers, on the actual response.
it("exposes WWW-Authenticate on a cross-origin 401 by default", async () => {
  const port = await getRandomPort();

  const httpServer = await startHTTPServer({
    authenticate: async () => ({ authenticated: false }),
    createServer: async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
    port,
    stateless: true,
  });

  try {
    const response = await fetch(`http://localhost:${port}/mcp`, {
      body: JSON.stringify({ id: 1, jsonrpc: "2.0", method: "ping" }),
      headers: {
        Accept: "application/json, text/event-stream",
        "Content-Type": "application/json",
        Origin: "https://app.example.com",
      },
      method: "POST",
    });

    expect(response.status).toBe(401);
    expect(response.headers.get("Access-Control-Expose-Headers")).toBe(
      "Mcp-Session-Id, WWW-Authenticate",
    );
  } finally {
    await httpServer.close();
  }
});

it("keeps an explicit exposedHeaders as configured", async () => {
  const port = await getRandomPort();

  const httpServer = await startHTTPServer({
    cors: { exposedHeaders: ["X-Request-Id"] },
    createServer: async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
    port,
  });

  try {
    const response = await fetch(`http://localhost:${port}/ping`, {
      headers: { Origin: "https://app.example.com" },
    });

    expect(response.headers.get("Access-Control-Expose-Headers")).toBe(
      "X-Request-Id",
    );
  } finally {
    await httpServer.close();
  }
});
