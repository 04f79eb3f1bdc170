import { getRandomPort } from "get-port-please";
import { expect, it } from "vitest";

import {
  AuthenticationMiddleware,
  getProtectedResourceMetadataUrl,
} from "./authentication.js";
import { startHTTPServer } from "./startHTTPServer.js";

// RFC 9728 §3.1: the well-known segment goes between the host and the path.
it.each([
  {
    expected: "https://example.com/.well-known/oauth-protected-resource",
    resource: "https://example.com",
  },
  {
    expected: "https://example.com/.well-known/oauth-protected-resource",
    resource: "https://example.com/",
  },
  {
    expected: "https://example.com/.well-known/oauth-protected-resource/mcp",
    resource: "https://example.com/mcp",
  },
  {
    expected:
      "https://example.com:8443/.well-known/oauth-protected-resource/a/b/",
    resource: "https://example.com:8443/a/b/",
  },
  {
    expected:
      "https://example.com/.well-known/oauth-protected-resource/mcp?t=1",
    resource: "https://example.com/mcp?t=1",
  },
  {
    expected: "mcp://test-server/.well-known/oauth-protected-resource",
    resource: "mcp://test-server",
  },
])("builds $expected for $resource", ({ expected, resource }) => {
  expect(getProtectedResourceMetadataUrl(resource)).toBe(expected);
});

it("puts the §3.1 URL in the challenge of a 401", async () => {
  const port = await getRandomPort();

  const httpServer = await startHTTPServer({
    createServer: async () => {
      throw new Error("Invalid JWT token");
    },
    oauth: {
      protectedResource: { resource: "https://example.com/api/mcp" },
    },
    port,
    stateless: true,
  });

  try {
    const response = await fetch(`http://localhost:${port}/mcp`, {
      body: JSON.stringify({
        id: 1,
        jsonrpc: "2.0",
        method: "initialize",
        params: {
          capabilities: {},
          clientInfo: { name: "test", version: "1.0.0" },
          protocolVersion: "2025-03-26",
        },
      }),
      headers: {
        Accept: "application/json, text/event-stream",
        "Content-Type": "application/json",
      },
      method: "POST",
    });

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(
      'Bearer resource_metadata="https://example.com/.well-known/oauth-protected-resource/api/mcp", error="invalid_token", error_description="Invalid JWT token"',
    );
  } finally {
    await httpServer.close();
  }
});

it("puts the §3.1 URL in the API-key challenge", () => {
  const response = new AuthenticationMiddleware({
    apiKey: "secret",
    oauth: { protectedResource: { resource: "https://example.com/mcp" } },
  }).getUnauthorizedResponse();

  expect(response.headers["WWW-Authenticate"]).toBe(
    'Bearer resource_metadata="https://example.com/.well-known/oauth-protected-resource/mcp", error="invalid_token", error_description="Unauthorized: Invalid or missing API key"',
  );
});
