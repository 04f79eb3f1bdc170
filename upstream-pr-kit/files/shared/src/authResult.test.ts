import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { getRandomPort } from "get-port-please";
import { expect, it } from "vitest";

import type { AuthResult } from "./index.js";

import { startHTTPServer } from "./index.js";

it("types what authenticate returns with AuthResult", async () => {
  const port = await getRandomPort();
  const rejection: AuthResult = {
    authenticated: false,
    error: "Token expired",
    statusCode: 401,
    wwwAuthenticate: 'Bearer error="invalid_token"',
  };
  const authenticate = async (): Promise<AuthResult> => rejection;

  const httpServer = await startHTTPServer({
    authenticate,
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
      },
      method: "POST",
    });

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(
      'Bearer error="invalid_token"',
    );
    expect(
      ((await response.json()) as { error: { message: string } }).error.message,
    ).toBe("Token expired");
  } finally {
    await httpServer.close();
  }
});

it("keeps the app's own fields on an AuthResult", () => {
  const accepted: AuthResult = { authenticated: true, userId: "u-1" };

  expect(accepted.userId).toBe("u-1");
});
