import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { getRandomPort } from "get-port-please";
import { expect, it, vi } from "vitest";

import { AuthenticationMiddleware } from "./authentication.js";
import { startHTTPServer } from "./startHTTPServer.js";

// The error shape the scope challenge recognises (see isScopeChallengeError).
const insufficientScope = (
  requiredScopes: string[],
  errorDescription?: string,
) =>
  Object.assign(new Error(errorDescription ?? "Insufficient scope"), {
    data: { error: "insufficient_scope", errorDescription, requiredScopes },
    name: "InsufficientScopeError",
  });

const initializeRequest = {
  id: 3,
  jsonrpc: "2.0",
  method: "initialize",
  params: {
    capabilities: {},
    clientInfo: { name: "test", version: "1.0.0" },
    protocolVersion: "2025-03-26",
  },
};

const postInitialize = (port: number) =>
  fetch(`http://localhost:${port}/mcp`, {
    body: JSON.stringify(initializeRequest),
    headers: {
      Accept: "application/json, text/event-stream",
      Authorization: "Bearer read-only-token",
      "Content-Type": "application/json",
    },
    method: "POST",
  });

// The example of MCP authorization 2025-11-25 §10.1.1.
it("builds the insufficient_scope challenge without a comma after the scheme", () => {
  const middleware = new AuthenticationMiddleware({
    oauth: {
      protectedResource: { resource: "https://mcp.example.com" },
    },
  });
  const response = middleware.getScopeChallengeResponse(
    ["files:read", "files:write"],
    "Additional file write permission required",
  );

  expect(response.statusCode).toBe(403);
  expect(response.headers["WWW-Authenticate"]).toBe(
    'Bearer error="insufficient_scope", scope="files:read files:write", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource", error_description="Additional file write permission required"',
  );
});

// RFC 6750 §3.1: insufficient_scope is a 403 with a challenge, oauth or not.
it("sends the insufficient_scope challenge without oauth", () => {
  const response = new AuthenticationMiddleware().getScopeChallengeResponse([
    "admin",
  ]);

  expect(response.headers["WWW-Authenticate"]).toBe(
    'Bearer error="insufficient_scope", scope="admin"',
  );
});

it("answers 403 when authenticate throws an InsufficientScopeError", async () => {
  const port = await getRandomPort();
  const consoleError = vi.spyOn(console, "error").mockImplementation(() => {});

  const httpServer = await startHTTPServer({
    authenticate: async () => {
      throw insufficientScope(["files:write"], "Write access required");
    },
    createServer: async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
    oauth: {
      protectedResource: { resource: "https://mcp.example.com/mcp" },
    },
    port,
    stateless: true,
  });

  try {
    const response = await postInitialize(port);

    expect(response.status).toBe(403);
    expect(response.headers.get("WWW-Authenticate")).toBe(
      'Bearer error="insufficient_scope", scope="files:write", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", error_description="Write access required"',
    );
    expect(await response.json()).toEqual({
      error: {
        code: -32001,
        data: { error: "insufficient_scope", required_scopes: ["files:write"] },
        message: "Write access required",
      },
      id: 3,
      jsonrpc: "2.0",
    });
  } finally {
    consoleError.mockRestore();
    await httpServer.close();
  }
});

it("answers 403 when createServer throws an InsufficientScopeError", async () => {
  const port = await getRandomPort();

  const httpServer = await startHTTPServer({
    createServer: async () => {
      throw insufficientScope(["admin"]);
    },
    port,
    stateless: true,
  });

  try {
    const response = await postInitialize(port);

    expect(response.status).toBe(403);
    expect(response.headers.get("WWW-Authenticate")).toBe(
      'Bearer error="insufficient_scope", scope="admin"',
    );
  } finally {
    await httpServer.close();
  }
});

it("answers 403 when authenticate returns statusCode: 403", async () => {
  const port = await getRandomPort();

  const httpServer = await startHTTPServer({
    authenticate: async () => ({
      authenticated: false,
      error: "Admin only",
      statusCode: 403,
    }),
    createServer: async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
    port,
    stateless: true,
  });

  try {
    const response = await postInitialize(port);

    expect(response.status).toBe(403);
    expect(response.headers.get("WWW-Authenticate")).toBe(
      'Bearer error="insufficient_scope", error_description="Admin only"',
    );
    expect(
      ((await response.json()) as { error: { message: string } }).error.message,
    ).toBe("Admin only");
  } finally {
    await httpServer.close();
  }
});

it("sends the challenge authenticate supplied on a 403", async () => {
  const port = await getRandomPort();
  const challenge =
    'Bearer error="insufficient_scope", scope="files:read files:write", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource"';

  const httpServer = await startHTTPServer({
    authenticate: async () => ({
      authenticated: false,
      statusCode: 403,
      wwwAuthenticate: challenge,
    }),
    createServer: async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
    port,
    stateless: true,
  });

  try {
    const response = await postInitialize(port);

    expect(response.status).toBe(403);
    expect(response.headers.get("WWW-Authenticate")).toBe(challenge);
  } finally {
    await httpServer.close();
  }
});
