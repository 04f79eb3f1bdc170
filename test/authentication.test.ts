/**
 * `AuthenticationMiddleware`: the 401 it describes for a failed API-key check.
 * Its headers carry the static challenge `startHTTPServer` sends (DESIGN.md,
 * "Shape"), built by the same code; where that differs from upstream 5.10.0
 * the row says so and checks upstream's old answer.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { AuthenticationMiddleware as UpstreamAuthenticationMiddleware } from "mcp-proxy-upstream";
import { describe, expect, it, onTestFinished } from "vitest";

import {
  type AuthConfig,
  AuthenticationMiddleware,
} from "../src/authentication.js";
import {
  getWWWAuthenticateHeader,
  startHTTPServer,
} from "../src/startHTTPServer.js";
import {
  byName,
  getFreePort,
  initializeRequest,
  streamHeaders,
} from "./helpers.js";

const JSON_HEADERS = { "Content-Type": "application/json" };

const API_KEY_BODY =
  '{"error":{"code":401,"message":"Unauthorized: Invalid or missing API key"},"id":null,"jsonrpc":"2.0"}';

const oauthFor = (resource: unknown) =>
  ({ protectedResource: { resource } }) as AuthConfig["oauth"];

type Row = {
  config?: AuthConfig;
  /** Our WWW-Authenticate, or `undefined` for none. */
  expected?: string;
  name: string;
  /** Upstream 5.10.0's, where it differs from ours. */
  upstream?: string;
};

const rows: Row[] = [
  { name: "no config" },
  { config: { apiKey: "x" }, name: "an API key only" },
  { config: { apiKey: "x", oauth: {} }, name: "empty oauth" },
  {
    config: { apiKey: "x", oauth: { protectedResource: {} } },
    name: "oauth without a resource",
  },
  {
    config: { apiKey: "x", oauth: oauthFor("https://example.com") },
    expected:
      'Bearer resource_metadata="https://example.com/.well-known/oauth-protected-resource"',
    name: "an origin-only https resource",
  },
  {
    config: { oauth: oauthFor("http://localhost:3000") },
    expected:
      'Bearer resource_metadata="http://localhost:3000/.well-known/oauth-protected-resource"',
    name: "an origin-only http resource with a port",
  },
  {
    // FastMCP's own tests configure this resource.
    config: { oauth: oauthFor("mcp://test-server") },
    expected:
      'Bearer resource_metadata="mcp://test-server/.well-known/oauth-protected-resource"',
    name: "an origin-only mcp: resource",
  },
  {
    // RFC 9728 §3.1: the terminating "/" after the host goes.
    config: { oauth: oauthFor("https://example.com/") },
    expected:
      'Bearer resource_metadata="https://example.com/.well-known/oauth-protected-resource"',
    name: "a resource of path /",
    upstream:
      'Bearer resource_metadata="https://example.com//.well-known/oauth-protected-resource"',
  },
  {
    // RFC 9728 §3.1: the well-known segment goes between host and path.
    config: { oauth: oauthFor("https://h/mcp") },
    expected:
      'Bearer resource_metadata="https://h/.well-known/oauth-protected-resource/mcp"',
    name: "a resource with a path",
    upstream:
      'Bearer resource_metadata="https://h/mcp/.well-known/oauth-protected-resource"',
  },
  {
    // No host to put the segment after, so no static challenge.
    config: { oauth: oauthFor("urn:x") },
    name: "a resource without a host",
    upstream:
      'Bearer resource_metadata="urn:x/.well-known/oauth-protected-resource"',
  },
];

describe("getUnauthorizedResponse()", () => {
  it.each(byName(rows))("%s", (_, { config, expected, upstream }) => {
    const ours = new AuthenticationMiddleware(config).getUnauthorizedResponse();
    const theirs = new UpstreamAuthenticationMiddleware(
      config,
    ).getUnauthorizedResponse();

    expect(ours).toEqual({
      body: API_KEY_BODY,
      headers: expected
        ? { ...JSON_HEADERS, "WWW-Authenticate": expected }
        : JSON_HEADERS,
    });
    // The same challenge as every other static 401 of the server.
    expect(getWWWAuthenticateHeader(undefined, config?.oauth)).toBe(
      expected ?? 'Bearer realm="mcp-proxy"',
    );
    expect(theirs.body).toBe(ours.body);
    expect(theirs.headers["WWW-Authenticate"]).toBe(upstream ?? expected);
  });
});

describe("the server's API-key 401", () => {
  it.each(byName(rows.filter(({ config }) => config?.oauth)))(
    "%s: the middleware's body, and its challenge (else bare Bearer)",
    async (_, { config }) => {
      const port = await getFreePort();
      const server = await startHTTPServer({
        apiKey: "x",
        createServer: async () =>
          new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
        host: "127.0.0.1",
        oauth: config?.oauth,
        port,
      });
      onTestFinished(() => server.close());

      const response = await fetch(`http://127.0.0.1:${port}/mcp`, {
        body: JSON.stringify(initializeRequest()),
        headers: streamHeaders,
        method: "POST",
      });
      const { body, headers } = new AuthenticationMiddleware(
        config,
      ).getUnauthorizedResponse();

      expect(response.status).toBe(401);
      expect(await response.text()).toBe(body);
      expect(response.headers.get("WWW-Authenticate")).toBe(
        headers["WWW-Authenticate"] ?? 'Bearer realm="mcp-proxy"',
      );
    },
  );

  it("builds the challenge once per 401, not once more for its body", async () => {
    let reads = 0;
    const oauth = {
      get protectedResource() {
        reads += 1;
        return { resource: "https://example.com" };
      },
    };
    const port = await getFreePort();
    const server = await startHTTPServer({
      apiKey: "x",
      createServer: async () =>
        new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
      host: "127.0.0.1",
      oauth,
      port,
    });
    onTestFinished(() => server.close());

    const readsAtStart = reads;

    for (let request = 0; request < 3; request += 1) {
      const response = await fetch(`http://127.0.0.1:${port}/mcp`, {
        method: "POST",
      });

      expect(response.headers.get("WWW-Authenticate")).toBe(
        'Bearer resource_metadata="https://example.com/.well-known/oauth-protected-resource"',
      );
      await response.body?.cancel();
    }

    expect(reads - readsAtStart).toBe(3);
  });
});
