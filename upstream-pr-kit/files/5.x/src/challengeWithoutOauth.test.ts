import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { getRandomPort } from "get-port-please";
import { expect, it, vi } from "vitest";

import { AuthenticationMiddleware } from "./authentication.js";
import { startHTTPServer } from "./startHTTPServer.js";

// RFC 9110 §15.5.2: every 401 carries a challenge, whether or not `oauth` is
// configured.

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

const postInitialize = (port: number, headers: Record<string, string> = {}) =>
  fetch(`http://localhost:${port}/mcp`, {
    body: JSON.stringify(initializeRequest),
    headers: {
      Accept: "application/json, text/event-stream",
      "Content-Type": "application/json",
      ...headers,
    },
    method: "POST",
  });

it("sends a Bearer challenge on an API-key 401 without oauth", async () => {
  const port = await getRandomPort();

  const httpServer = await startHTTPServer({
    apiKey: "secret",
    createServer: async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
    port,
  });

  try {
    const response = await postInitialize(port, { "X-API-Key": "wrong" });

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(
      'Bearer error="invalid_token", error_description="Unauthorized: Invalid or missing API key"',
    );
  } finally {
    await httpServer.close();
  }
});

it("sends a Bearer challenge when authenticate rejects without oauth", async () => {
  const port = await getRandomPort();

  const httpServer = await startHTTPServer({
    authenticate: async () => ({
      authenticated: false,
      error: "Access denied",
    }),
    createServer: async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
    port,
    stateless: true,
  });

  try {
    const response = await postInitialize(port);

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(
      'Bearer error="invalid_token", error_description="Access denied"',
    );
  } finally {
    await httpServer.close();
  }
});

it("sends a Bearer challenge when authenticate throws without oauth", async () => {
  const port = await getRandomPort();
  const consoleError = vi.spyOn(console, "error").mockImplementation(() => {});

  const httpServer = await startHTTPServer({
    authenticate: async () => {
      throw new Error("jwt malformed");
    },
    createServer: async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
    port,
    stateless: true,
  });

  try {
    const response = await postInitialize(port);

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(
      'Bearer error="invalid_token", error_description="jwt malformed"',
    );
  } finally {
    consoleError.mockRestore();
    await httpServer.close();
  }
});

it("sends a Bearer challenge when createServer throws an auth error without oauth", async () => {
  const port = await getRandomPort();

  const httpServer = await startHTTPServer({
    createServer: async () => {
      throw new Error("Invalid JWT");
    },
    port,
  });

  try {
    const response = await postInitialize(port);

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(
      'Bearer error="invalid_token", error_description="Invalid JWT"',
    );
  } finally {
    await httpServer.close();
  }
});

it("builds the API-key challenge without oauth", () => {
  const response = new AuthenticationMiddleware({
    apiKey: "secret",
  }).getUnauthorizedResponse();

  expect(response.headers["WWW-Authenticate"]).toBe(
    'Bearer error="invalid_token", error_description="Unauthorized: Invalid or missing API key"',
  );
});
