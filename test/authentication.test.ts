/**
 * `AuthenticationMiddleware`: the 401 it describes for a failed API-key check.
 * Its headers carry the static challenge `startHTTPServer` sends
 * (docs/contract.md §2.1, rule 2), built by the same code; where that differs from upstream 5.10.0
 * the row says so and checks upstream's old answer.
 */
import { extractWWWAuthenticateParams } from "@modelcontextprotocol/sdk/client/auth.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { AuthenticationMiddleware as AuthenticationMiddleware512 } from "mcp-proxy-5-12";
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

const EXAMPLE_METADATA =
  'resource_metadata="https://example.com/.well-known/oauth-protected-resource"';

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
    // 5.10.0 knew no realm or scope.
    config: {
      oauth: {
        ...oauthFor("https://example.com"),
        realm: "app",
        scope: "mcp:tools",
      },
    },
    expected: `Bearer realm="app", ${EXAMPLE_METADATA}, scope="mcp:tools"`,
    name: "a realm and a scope",
    upstream: `Bearer ${EXAMPLE_METADATA}`,
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

type OptionsRow = {
  config?: AuthConfig;
  /** Our WWW-Authenticate, or `undefined` for none. */
  expected?: string;
  name: string;
  options: Parameters<AuthenticationMiddleware["getUnauthorizedResponse"]>[0];
  /** 5.12.5's, where it differs from ours. */
  v512?: null | string;
};

const EXPIRED = {
  error: "invalid_token",
  error_description: "The access token expired",
};

const optionsRows: OptionsRow[] = [
  {
    // RFC 6750 §3's expired-token example, with the metadata URL.
    config: { oauth: { ...oauthFor("https://example.com"), realm: "example" } },
    expected: `Bearer realm="example", ${EXAMPLE_METADATA}, error="invalid_token", error_description="The access token expired"`,
    name: "an expired token: as 5.12.5",
    options: EXPIRED,
  },
  {
    config: {
      oauth: {
        ...oauthFor("https://example.com"),
        error: "invalid_request",
        error_uri: "https://example.com/errors",
        scope: "a",
      },
    },
    expected: `Bearer ${EXAMPLE_METADATA}, error="invalid_token", error_uri="https://example.com/errors", scope="b"`,
    name: "options win over oauth's own values",
    options: { error: "invalid_token", scope: "b" },
    // 5.12.5 adds a description nobody gave.
    v512: `Bearer ${EXAMPLE_METADATA}, error="invalid_token", error_description="Unauthorized: Invalid or missing API key", error_uri="https://example.com/errors", scope="b"`,
  },
  {
    config: { oauth: oauthFor("https://example.com") },
    expected: `Bearer ${EXAMPLE_METADATA}`,
    name: "no options: 5.10.0's challenge, no error code (RFC 6750 §3.1)",
    options: undefined,
    v512: `Bearer ${EXAMPLE_METADATA}, error="invalid_token", error_description="Unauthorized: Invalid or missing API key"`,
  },
  {
    config: { oauth: oauthFor("https://example.com") },
    expected: `Bearer ${EXAMPLE_METADATA}, error_description="say \\"hi\\" \\\\ bye"`,
    name: "a description with quotes and a backslash: both escaped",
    options: { error_description: 'say "hi" \\ bye' },
    // `\ ` is a quoted-pair: a client reads a space, and loses the backslash.
    v512: `Bearer ${EXAMPLE_METADATA}, error="invalid_token", error_description="say \\"hi\\" \\ bye"`,
  },
  {
    config: { oauth: oauthFor("https://example.com") },
    expected: `Bearer ${EXAMPLE_METADATA}, error="invalid_token"`,
    name: "a description with CRLF: left out of the header",
    options: {
      error: "invalid_token",
      error_description: "a\r\nSet-Cookie: b=1",
    },
    v512: `Bearer ${EXAMPLE_METADATA}, error="invalid_token", error_description="a\r\nSet-Cookie: b=1"`,
  },
  {
    // RFC 9110 §15.5.2: a 401 MUST carry a challenge.
    config: { apiKey: "x" },
    expected: 'Bearer error="invalid_token"',
    name: "without oauth: a challenge of the options",
    options: { error: "invalid_token" },
    v512: null,
  },
  {
    config: { apiKey: "x" },
    name: "without oauth or options: none, as 5.10.0",
    options: {},
    v512: null,
  },
  {
    config: { oauth: oauthFor("https://example.com/mcp") },
    expected:
      'Bearer resource_metadata="https://example.com/.well-known/oauth-protected-resource/mcp", error="invalid_token", error_description="The access token expired"',
    name: "a resource with a path: the RFC 9728 §3.1 URL",
    options: EXPIRED,
    v512: 'Bearer resource_metadata="https://example.com/mcp/.well-known/oauth-protected-resource", error="invalid_token", error_description="The access token expired"',
  },
];

describe("getUnauthorizedResponse(options): 5.12.5's API", () => {
  it.each(byName(optionsRows))(
    "%s",
    (_, { config, expected, options, v512 }) => {
      const ours = new AuthenticationMiddleware(config).getUnauthorizedResponse(
        options,
      );
      const theirs = new AuthenticationMiddleware512(
        config,
      ).getUnauthorizedResponse(options);

      expect(ours.headers).toEqual(
        expected
          ? { ...JSON_HEADERS, "WWW-Authenticate": expected }
          : JSON_HEADERS,
      );
      // The body names the description, as 5.12.5's does.
      expect(ours.body).toBe(theirs.body);
      expect(JSON.parse(ours.body)).toEqual({
        error: {
          code: 401,
          message:
            options?.error_description ??
            "Unauthorized: Invalid or missing API key",
        },
        id: null,
        jsonrpc: "2.0",
      });
      expect(theirs.headers["WWW-Authenticate"] ?? null).toBe(
        v512 === undefined ? expected : v512,
      );
    },
  );
});

type ScopeRow = {
  args: Parameters<AuthenticationMiddleware["getScopeChallengeResponse"]>;
  config?: AuthConfig;
  /** Our WWW-Authenticate. */
  expected: string;
  /** Our JSON-RPC id, where it differs from 5.12.5's. */
  id?: null | number | string;
  name: string;
  /** 5.12.5's WWW-Authenticate, or `null` for none. */
  v512: null | string;
};

const scopeRows: ScopeRow[] = [
  {
    // MCP 2025-11-25 authorization §10.1.1's example.
    args: [
      ["files:read", "files:write"],
      "Additional file write permission required",
      7,
    ],
    config: { oauth: oauthFor("https://example.com") },
    expected: `Bearer error="insufficient_scope", scope="files:read files:write", ${EXAMPLE_METADATA}, error_description="Additional file write permission required"`,
    name: "the MCP specification's example: no comma after the scheme",
    v512: `Bearer, error="insufficient_scope", scope="files:read files:write", ${EXAMPLE_METADATA}, error_description="Additional file write permission required"`,
  },
  {
    // RFC 6750 §3.1's example.
    args: [["files:write"]],
    expected: 'Bearer error="insufficient_scope", scope="files:write"',
    name: "without oauth: still a challenge (RFC 6750 §3)",
    v512: null,
  },
  {
    args: [["a"], undefined, "request-1"],
    config: { oauth: { ...oauthFor("https://example.com/mcp"), realm: "app" } },
    expected:
      'Bearer realm="app", error="insufficient_scope", scope="a", resource_metadata="https://example.com/.well-known/oauth-protected-resource/mcp"',
    name: "the app's realm, and the RFC 9728 §3.1 URL",
    v512: 'Bearer, error="insufficient_scope", scope="a", resource_metadata="https://example.com/mcp/.well-known/oauth-protected-resource"',
  },
  {
    args: [["a"], 'needs "a" \\ now'],
    config: { oauth: oauthFor("https://example.com") },
    expected: `Bearer error="insufficient_scope", scope="a", ${EXAMPLE_METADATA}, error_description="needs \\"a\\" \\\\ now"`,
    name: "a description with quotes and a backslash: both escaped",
    v512: `Bearer, error="insufficient_scope", scope="a", ${EXAMPLE_METADATA}, error_description="needs \\"a\\" \\ now"`,
  },
  {
    // RFC 6750 §3: scope is one or more scope tokens.
    args: [[]],
    config: { oauth: oauthFor("https://example.com") },
    expected: `Bearer error="insufficient_scope", ${EXAMPLE_METADATA}`,
    name: "no scopes: no empty scope parameter",
    v512: `Bearer, error="insufficient_scope", scope="", ${EXAMPLE_METADATA}`,
  },
  {
    // JSON-RPC 2.0 §5: an id is a string, a number or null.
    args: [["a"], undefined, { not: "an id" }],
    expected: 'Bearer error="insufficient_scope", scope="a"',
    id: null,
    name: "an id that is no JSON-RPC id: null",
    v512: null,
  },
];

describe("getScopeChallengeResponse: 5.12.5's API", () => {
  it.each(byName(scopeRows))(
    "%s",
    (_, { args, config, expected, id, v512 }) => {
      const ours = new AuthenticationMiddleware(
        config,
      ).getScopeChallengeResponse(...args);
      const theirs = new AuthenticationMiddleware512(
        config,
      ).getScopeChallengeResponse(...args);
      const [requiredScopes, errorDescription, requestId] = args;

      expect(ours.statusCode).toBe(403);
      expect(ours.headers).toEqual({
        ...JSON_HEADERS,
        "WWW-Authenticate": expected,
      });
      expect(JSON.parse(ours.body)).toEqual({
        error: {
          code: -32001,
          data: {
            error: "insufficient_scope",
            required_scopes: requiredScopes,
          },
          message: errorDescription ?? "Insufficient scope",
        },
        id: id === undefined ? (requestId ?? null) : id,
        jsonrpc: "2.0",
      });
      if (id === undefined) {
        expect(ours.body).toBe(theirs.body);
      }
      expect(theirs.statusCode).toBe(403);
      expect(theirs.headers["WWW-Authenticate"] ?? null).toBe(v512);
    },
  );

  it("the SDK client reads our challenge; 5.12.5's it cannot", () => {
    const config = { oauth: oauthFor("https://example.com") };
    const read = (headers: Record<string, string>) =>
      extractWWWAuthenticateParams(
        new Response(null, { headers, status: 403 }),
      );

    expect(
      read(
        new AuthenticationMiddleware(config).getScopeChallengeResponse([
          "files:read",
          "files:write",
        ]).headers,
      ),
    ).toEqual({
      error: "insufficient_scope",
      resourceMetadataUrl: new URL(
        "https://example.com/.well-known/oauth-protected-resource",
      ),
      scope: "files:read files:write",
    });
    expect(
      read(
        new AuthenticationMiddleware512(config).getScopeChallengeResponse([
          "files:read",
        ]).headers,
      ),
    ).toEqual({});
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

  it("works the challenge out once, at start: a 401 reads no option", async () => {
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

    expect(reads - readsAtStart).toBe(0);
  });
});
