import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { getRandomPort } from "get-port-please";
import { expect, it } from "vitest";

import { AuthenticationMiddleware } from "./authentication.js";
import { startHTTPServer } from "./startHTTPServer.js";

// RFC 9110 §5.6.4: inside a quoted-string, `\` starts a quoted-pair, so a
// sender escapes `\` first and then `"`: a "b" \c goes out as "a \"b\" \\c".

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

it("escapes backslashes before quotes in the error_description of a 401", async () => {
  const port = await getRandomPort();

  const httpServer = await startHTTPServer({
    authenticate: async () => ({
      authenticated: false,
      error: 'a "b" \\c',
    }),
    createServer: async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
    port,
    stateless: true,
  });

  try {
    const response = await fetch(`http://localhost:${port}/mcp`, {
      body: JSON.stringify(initializeRequest),
      headers: {
        Accept: "application/json, text/event-stream",
        "Content-Type": "application/json",
      },
      method: "POST",
    });

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(
      'Bearer error="invalid_token", error_description="a \\"b\\" \\\\c"',
    );
  } finally {
    await httpServer.close();
  }
});

it("keeps a description that ends in a backslash inside its quotes", async () => {
  const port = await getRandomPort();

  const httpServer = await startHTTPServer({
    createServer: async () => {
      throw new Error("Unauthorized: no key in C:\\keys\\");
    },
    port,
    stateless: true,
  });

  try {
    const response = await fetch(`http://localhost:${port}/mcp`, {
      body: JSON.stringify(initializeRequest),
      headers: {
        Accept: "application/json, text/event-stream",
        "Content-Type": "application/json",
      },
      method: "POST",
    });

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(
      'Bearer error="invalid_token", error_description="Unauthorized: no key in C:\\\\keys\\\\"',
    );
  } finally {
    await httpServer.close();
  }
});

it("escapes every quoted value of the API-key challenge", () => {
  const middleware = new AuthenticationMiddleware({
    apiKey: "test",
    oauth: {
      error_description: 'Key "main" missing',
      error_uri: "https://example.com/errors\\key",
      realm: "C:\\realm",
      scope: 'read "all"',
    },
  });

  expect(middleware.getUnauthorizedResponse().headers["WWW-Authenticate"]).toBe(
    'Bearer realm="C:\\\\realm", error="invalid_token", error_description="Key \\"main\\" missing", error_uri="https://example.com/errors\\\\key", scope="read \\"all\\""',
  );
});

it("escapes backslashes in the error_description of a scope challenge", () => {
  const middleware = new AuthenticationMiddleware({
    oauth: {
      protectedResource: {
        resource: "https://example.com",
      },
    },
  });
  const response = middleware.getScopeChallengeResponse(
    ["admin"],
    'Requires "admin" in \\\\corp',
  );

  expect(response.headers["WWW-Authenticate"]).toMatch(
    /, error_description="Requires \\"admin\\" in \\\\\\\\corp"$/,
  );
});
