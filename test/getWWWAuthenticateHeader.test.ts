/**
 * `getWWWAuthenticateHeader(authResult, oauth)`: the challenge every 401 and
 * 403 carries (docs/contract.md §2.1). Precedence first, then
 * hostile input, then properties over arbitrary input, then the SDK client
 * reading the challenge back.
 */
import {
  extractResourceMetadataUrl,
  extractWWWAuthenticateParams,
} from "@modelcontextprotocol/sdk/client/auth.js";
import fc from "fast-check";
import { AuthenticationMiddleware as UpstreamAuthenticationMiddleware } from "mcp-proxy-upstream";
import { validateHeaderValue } from "node:http";
import { inspect } from "node:util";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { AuthConfig } from "../src/authentication.js";

import * as root from "../src/index.js";
import { getWWWAuthenticateHeader } from "../src/startHTTPServer.js";
import { byName } from "./helpers.js";

type OAuth = AuthConfig["oauth"];

type Row = {
  authResult: unknown;
  expected: string | string[];
  name: string;
  oauth?: OAuth;
};

const BARE = 'Bearer realm="mcp-proxy"';

const oauthFor = (resource: unknown) =>
  ({ protectedResource: { resource } }) as OAuth;

const OAUTH_MCP = oauthFor("https://h/mcp");
const STATIC_MCP =
  'Bearer resource_metadata="https://h/.well-known/oauth-protected-resource/mcp"';

/** `[resource, metadata URL]`: RFC 9728 §3.1, and §5.1's example. */
const METADATA_URLS: [string, string][] = [
  ["https://h/mcp", "https://h/.well-known/oauth-protected-resource/mcp"],
  ["https://h/mcp/", "https://h/.well-known/oauth-protected-resource/mcp/"],
  ["https://h/", "https://h/.well-known/oauth-protected-resource"],
  ["https://h", "https://h/.well-known/oauth-protected-resource"],
  [
    "http://localhost:3000",
    "http://localhost:3000/.well-known/oauth-protected-resource",
  ],
  [
    "http://localhost:3000/",
    "http://localhost:3000/.well-known/oauth-protected-resource",
  ],
  [
    "https://h:8443/a/b/",
    "https://h:8443/.well-known/oauth-protected-resource/a/b/",
  ],
  [
    "https://h/mcp?t=1",
    "https://h/.well-known/oauth-protected-resource/mcp?t=1",
  ],
  [
    "https://resource.example.com",
    "https://resource.example.com/.well-known/oauth-protected-resource",
  ],
  // Any scheme with a host: FastMCP's own tests configure mcp://test-server.
  [
    "mcp://test-server",
    "mcp://test-server/.well-known/oauth-protected-resource",
  ],
  [
    "mcp://test-server/",
    "mcp://test-server/.well-known/oauth-protected-resource",
  ],
  [
    "mcp://test-server/mcp/",
    "mcp://test-server/.well-known/oauth-protected-resource/mcp/",
  ],
  ["ftp://h/mcp", "ftp://h/.well-known/oauth-protected-resource/mcp"],
  ["file://h/mcp", "file://h/.well-known/oauth-protected-resource/mcp"],
  [
    "wss://h:8443/a?b=1",
    "wss://h:8443/.well-known/oauth-protected-resource/a?b=1",
  ],
  // Credentials in the resource never reach the header.
  ["mcp://u:p@h:9/p", "mcp://h:9/.well-known/oauth-protected-resource/p"],
  ["https://u:p@h/mcp", "https://h/.well-known/oauth-protected-resource/mcp"],
];

/** Every value is a field value Node sends and RFC 6750 accepts. */
const expectValidChallenge = (result: unknown) => {
  const values: unknown[] = Array.isArray(result) ? result : [result];

  expect(values.length).toBeGreaterThan(0);
  for (const value of values) {
    expect(typeof value).toBe("string");
    expect(() =>
      validateHeaderValue("WWW-Authenticate", value as string),
    ).not.toThrow();
    expect((value as string).trim()).not.toBe("");
    expect(value).toMatch(/^[\t\x20-\x7e]+$/);
  }
};

/** An object every operation on which throws, `typeof` aside. */
const hostileProxy = () =>
  new Proxy(
    {},
    Object.fromEntries(
      [
        "apply",
        "construct",
        "defineProperty",
        "deleteProperty",
        "get",
        "getOwnPropertyDescriptor",
        "getPrototypeOf",
        "has",
        "isExtensible",
        "ownKeys",
        "preventExtensions",
        "set",
        "setPrototypeOf",
      ].map((trap) => [
        trap,
        () => {
          throw new Error(`trap ${trap}`);
        },
      ]),
    ) as ProxyHandler<object>,
  );

const revokedProxy = () => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
};

/** An object whose `key` getter throws. */
const throwingGetter = (key: string, base: object = {}) =>
  Object.defineProperty(base, key, {
    enumerable: true,
    get: () => {
      throw new Error(`${key} getter`);
    },
  });

/** An object whose `wwwAuthenticate` reads `values` in turn, then the last. */
const changingGetter = (...values: unknown[]) => {
  let reads = 0;

  return {
    get wwwAuthenticate() {
      return values[Math.min(reads++, values.length - 1)];
    },
  };
};

beforeEach(() => {
  vi.spyOn(console, "warn").mockImplementation(() => {});
});

afterEach(() => {
  vi.restoreAllMocks();
});

it("is exported from the package root", () => {
  expect(root.getWWWAuthenticateHeader).toBe(getWWWAuthenticateHeader);
});

describe("precedence: dynamic, then static, then bare", () => {
  const dynamicRows: Row[] = [
    {
      // RFC 6750 §3, first example (a request without credentials).
      authResult: {
        authenticated: false,
        wwwAuthenticate: 'Bearer realm="example"',
      },
      expected: 'Bearer realm="example"',
      name: "the callback's string wins over oauth",
      oauth: OAUTH_MCP,
    },
    {
      // RFC 6750 §3, second example (an expired token).
      authResult: {
        authenticated: false,
        wwwAuthenticate:
          'Bearer realm="example", error="invalid_token", error_description="The access token expired"',
      },
      expected:
        'Bearer realm="example", error="invalid_token", error_description="The access token expired"',
      name: "an invalid_token challenge with a description",
    },
    {
      // MCP 2025-11-25 authorization §10.1.1, runtime insufficient scope.
      authResult: {
        authenticated: false,
        statusCode: 403,
        wwwAuthenticate:
          'Bearer error="insufficient_scope", scope="files:read files:write", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource", error_description="Additional file write permission required"',
      },
      expected:
        'Bearer error="insufficient_scope", scope="files:read files:write", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource", error_description="Additional file write permission required"',
      name: "an insufficient_scope challenge",
      oauth: OAUTH_MCP,
    },
    {
      // RFC 9728 §5.1 example.
      authResult: {
        wwwAuthenticate:
          'Bearer resource_metadata="https://resource.example.com/.well-known/oauth-protected-resource"',
      },
      expected:
        'Bearer resource_metadata="https://resource.example.com/.well-known/oauth-protected-resource"',
      name: "a resource_metadata challenge without oauth",
    },
    {
      // RFC 9110 §11.6.1: two challenges on one line, an escaped quote.
      authResult: {
        wwwAuthenticate:
          'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"',
      },
      expected:
        'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"',
      name: "two challenges on one line",
      oauth: OAUTH_MCP,
    },
    {
      // RFC 9110 §11.3: a scheme alone is a complete challenge.
      authResult: { wwwAuthenticate: "Bearer" },
      expected: "Bearer",
      name: "a scheme alone",
    },
    {
      // RFC 9110 §11.6.1: one field line per challenge is allowed.
      authResult: {
        wwwAuthenticate: [
          'Bearer resource_metadata="https://h/.well-known/oauth-protected-resource/mcp"',
          'Basic realm="simple"',
        ],
      },
      expected: [
        'Bearer resource_metadata="https://h/.well-known/oauth-protected-resource/mcp"',
        'Basic realm="simple"',
      ],
      name: "an array of challenges",
      oauth: OAUTH_MCP,
    },
    {
      authResult: { wwwAuthenticate: ['Bearer realm="one"'] },
      expected: ['Bearer realm="one"'],
      name: "an array of one challenge",
    },
    {
      authResult: Object.assign(new Error("token expired"), {
        wwwAuthenticate: 'Bearer error="invalid_token"',
      }),
      expected: 'Bearer error="invalid_token"',
      name: "an Error's wwwAuthenticate",
      oauth: OAUTH_MCP,
    },
    {
      authResult: Object.assign(Object.create(null), {
        wwwAuthenticate: 'Bearer realm="null-prototype"',
      }),
      expected: 'Bearer realm="null-prototype"',
      name: "an object without a prototype",
    },
    {
      authResult: new (class {
        get wwwAuthenticate() {
          return 'Bearer realm="getter"';
        }
      })(),
      expected: 'Bearer realm="getter"',
      name: "a class instance's getter",
    },
  ];

  const staticRows: Row[] = (
    [
      ["undefined", undefined],
      ["null", null],
      ["false", false],
      ["{ authenticated: false }", { authenticated: false }],
      [
        "a result with an error string",
        { authenticated: false, error: "Invalid or missing token" },
      ],
      ["an Error", new Error("token expired")],
      ["a string", "a string thrown"],
      ["a Response", new Response(null, { status: 401 })],
    ] as [string, unknown][]
  ).map(([label, authResult]) => ({
    authResult,
    expected: STATIC_MCP,
    name: `oauth's metadata URL when authResult is ${label}`,
    oauth: OAUTH_MCP,
  }));

  const bareRows: Row[] = [
    undefined,
    {},
    { protectedResource: undefined },
    { protectedResource: {} },
    oauthFor(""),
  ].map((oauth) => ({
    authResult: { authenticated: false },
    expected: BARE,
    name: `bare Bearer when oauth is ${inspect(oauth)}`,
    oauth: oauth as OAuth,
  }));

  it.each(byName([...dynamicRows, ...staticRows, ...bareRows]))(
    "%s",
    (_, { authResult, expected, oauth }) => {
      expect(getWWWAuthenticateHeader(authResult, oauth)).toEqual(expected);
      expect(console.warn).not.toHaveBeenCalled();
    },
  );
});

describe("static: the RFC 9728 §3.1 metadata URL of oauth's resource", () => {
  it.each(METADATA_URLS)("%s → %s", (resource, metadataUrl) => {
    expect(getWWWAuthenticateHeader(undefined, oauthFor(resource))).toBe(
      `Bearer resource_metadata="${metadataUrl}"`,
    );
  });

  it("escapes a backslash in the URL's query (RFC 9110 §5.6.4)", () => {
    expect(
      getWWWAuthenticateHeader(undefined, oauthFor("https://h/mcp?a=\\b")),
    ).toBe(
      'Bearer resource_metadata="https://h/.well-known/oauth-protected-resource/mcp?a=\\\\b"',
    );
  });

  it("puts a non-ASCII host on the wire only as punycode, else falls back", () => {
    expect(
      getWWWAuthenticateHeader(
        undefined,
        oauthFor("https://bücher.example/mcp"),
      ),
    ).toMatch(
      /^Bearer (realm="mcp-proxy"|resource_metadata="https:\/\/xn--bcher-kva\.example\/\.well-known\/oauth-protected-resource\/mcp")$/,
    );
  });

  // Contract §2.1: an origin-only resource gives exactly upstream's string;
  // upstream appends the well-known suffix to any path, against RFC 9728.
  it.each([
    ["http://localhost:3000", true],
    ["https://resource.example.com", true],
    ["mcp://test-server", true],
    ["https://h/mcp", false],
    ["https://h/mcp/", false],
  ])("%s: same string as upstream 5.10.0 is %s", (resource, sameAsUpstream) => {
    const upstream = new UpstreamAuthenticationMiddleware({
      oauth: oauthFor(resource),
    }).getUnauthorizedResponse().headers["WWW-Authenticate"];
    const ours = getWWWAuthenticateHeader(undefined, oauthFor(resource));

    expect(upstream).toBe(
      `Bearer resource_metadata="${resource}/.well-known/oauth-protected-resource"`,
    );
    expect(ours === upstream).toBe(sameAsUpstream);
  });
});

describe("static: the auth-params oauth configures (5.12.5's AuthConfig)", () => {
  const METADATA =
    'resource_metadata="https://h/.well-known/oauth-protected-resource/mcp"';

  it.each(
    byName<Row>([
      {
        authResult: undefined,
        expected: STATIC_MCP,
        name: "none configured: exactly resource_metadata",
        oauth: { ...OAUTH_MCP, realm: "", scope: undefined },
      },
      {
        authResult: { authenticated: false },
        expected: `Bearer realm="app", ${METADATA}`,
        name: "a realm goes first",
        oauth: { ...OAUTH_MCP, realm: "app" },
      },
      {
        // MCP 2025-11-25 authorization §4.2: servers SHOULD add scope to the 401.
        authResult: undefined,
        expected: `Bearer ${METADATA}, scope="mcp:tools mcp:read"`,
        name: "a scope",
        oauth: { ...OAUTH_MCP, scope: "mcp:tools mcp:read" },
      },
      {
        // 5.12.5's order: realm, resource_metadata, error, error_description,
        // error_uri, scope.
        authResult: new Error("expired"),
        expected: `Bearer realm="app", ${METADATA}, error="invalid_token", error_description="The access token expired", error_uri="https://h/errors", scope="a b"`,
        name: "every field",
        oauth: {
          error: "invalid_token",
          error_description: "The access token expired",
          error_uri: "https://h/errors",
          protectedResource: { resource: "https://h/mcp" },
          realm: "app",
          scope: "a b",
        },
      },
      {
        authResult: undefined,
        expected: 'Bearer realm="app"',
        name: "a realm without a resource: the app's realm, not mcp-proxy's",
        oauth: { realm: "app" },
      },
      {
        authResult: undefined,
        expected: 'Bearer realm="app", scope="a"',
        name: "a resource without a host: the other fields stay",
        oauth: { ...oauthFor("urn:x"), realm: "app", scope: "a" },
      },
      {
        // RFC 9110 §5.6.4: escape `\` first, then `"`.
        authResult: undefined,
        expected: `Bearer realm="a \\"b\\" \\\\c", ${METADATA}`,
        name: "quotes and backslashes escaped",
        oauth: { ...OAUTH_MCP, realm: 'a "b" \\c' },
      },
      {
        authResult: { wwwAuthenticate: 'Bearer realm="callback"' },
        expected: 'Bearer realm="callback"',
        name: "the callback's challenge still wins",
        oauth: { ...OAUTH_MCP, realm: "app", scope: "a" },
      },
      ...(
        [
          ["CRLF", 'app"\r\nSet-Cookie: a=1'],
          ["NUL", "app\0"],
          ["a character above U+007E", "café"],
          ["an empty string", ""],
          ["whitespace only", " \t"],
          ["8193 characters", "a".repeat(8193)],
          ["a number", 5],
          ["an object", { toString: () => "app" }],
        ] as [string, unknown][]
      ).map(([label, realm]) => ({
        authResult: undefined,
        expected: `Bearer ${METADATA}, scope="a"`,
        name: `a realm of ${label}: left out, the rest kept`,
        oauth: { ...OAUTH_MCP, realm, scope: "a" } as OAuth,
      })),
      {
        authResult: undefined,
        expected: `Bearer ${METADATA}, scope="a"`,
        name: "a realm getter that throws: left out, the rest kept",
        oauth: throwingGetter("realm", { ...OAUTH_MCP, scope: "a" }) as OAuth,
      },
      {
        authResult: undefined,
        expected: BARE,
        name: "only unusable fields: bare",
        oauth: { error: "bad\n", realm: "", scope: 5 } as unknown as OAuth,
      },
    ]),
  )("%s", (_, { authResult, expected, oauth }) => {
    expect(getWWWAuthenticateHeader(authResult, oauth)).toBe(expected);
    expect(console.warn).not.toHaveBeenCalled();
  });

  it("the SDK client reads resource_metadata, scope and error back", () => {
    const response = new Response(null, {
      headers: {
        "WWW-Authenticate": getWWWAuthenticateHeader(undefined, {
          ...OAUTH_MCP,
          error: "invalid_token",
          realm: "app",
          scope: "mcp:tools mcp:read",
        }) as string,
      },
      status: 401,
    });

    expect(extractWWWAuthenticateParams(response)).toEqual({
      error: "invalid_token",
      resourceMetadataUrl: new URL(
        "https://h/.well-known/oauth-protected-resource/mcp",
      ),
      scope: "mcp:tools mcp:read",
    });
  });
});

describe("hardening", () => {
  // Each value carries this marker, so a warning that quotes it shows.
  const SECRET = "s3cr3t";

  /** `Bearer realm="s3cr3taaa…"`, `length` characters long. */
  const challengeOfLength = (length: number) =>
    `Bearer realm="${SECRET}${"a".repeat(length - 15 - SECRET.length)}"`;

  type HostileRow = {
    /** What a warning must not contain; `undefined` when it cannot tell. */
    leak?: string;
    name: string;
    wwwAuthenticate: unknown;
  };

  const hostileRows: HostileRow[] = [
    { name: "CR", wwwAuthenticate: `Bearer realm="${SECRET}"\rX-Injected: 1` },
    { name: "LF", wwwAuthenticate: `Bearer realm="${SECRET}"\nX-Injected: 1` },
    {
      name: "CRLF header injection",
      wwwAuthenticate: `Bearer realm="${SECRET}"\r\nSet-Cookie: session=1`,
    },
    { name: "NUL", wwwAuthenticate: `Bearer realm="${SECRET}\0"` },
    { name: "DEL", wwwAuthenticate: `Bearer realm="${SECRET}\x7f"` },
    { name: "ESC, another C0 control", wwwAuthenticate: `Bearer\x1b${SECRET}` },
    {
      name: "é (Latin-1: Node would send one obs-text byte)",
      wwwAuthenticate: `Bearer realm="café ${SECRET}"`,
    },
    {
      name: "€ (above U+00FF: Node's setHeader throws)",
      wwwAuthenticate: `Bearer realm="${SECRET} €"`,
    },
    { name: "emoji", wwwAuthenticate: `Bearer realm="${SECRET} 🔑"` },
    { name: "8193 characters", wwwAuthenticate: challengeOfLength(8193) },
    { name: "empty string", wwwAuthenticate: "" },
    { name: "whitespace only", wwwAuthenticate: " \t " },
    { name: "empty array", wwwAuthenticate: [] },
    {
      name: 'array ["ok", 5]',
      wwwAuthenticate: [`Bearer realm="${SECRET}"`, 5],
    },
    {
      name: 'array ["ok", "bad\\r\\n"]',
      wwwAuthenticate: [`Bearer realm="${SECRET}"`, `${SECRET}\r\n`],
    },
    {
      name: 'array ["ok", ""]',
      wwwAuthenticate: [`Bearer realm="${SECRET}"`, ""],
    },
    {
      name: "array with an 8193-character entry",
      wwwAuthenticate: ['Bearer realm="ok"', challengeOfLength(8193)],
    },
    { leak: undefined, name: "null", wwwAuthenticate: null },
    { leak: "40104", name: "number", wwwAuthenticate: 40104 },
    { leak: "40104", name: "bigint", wwwAuthenticate: 40104n },
    { leak: undefined, name: "boolean", wwwAuthenticate: true },
    { name: "symbol", wwwAuthenticate: Symbol(SECRET) },
    {
      name: "object",
      wwwAuthenticate: { value: `Bearer realm="${SECRET}"` },
    },
    { name: "function", wwwAuthenticate: () => `Bearer realm="${SECRET}"` },
  ];

  it.each(byName(hostileRows))(
    "%s: ignored, the next rule applies, the warning leaves the value out",
    (_, row) => {
      const { wwwAuthenticate } = row;
      const leak = "leak" in row ? row.leak : SECRET;
      const authResult = { authenticated: false, wwwAuthenticate };

      expect(getWWWAuthenticateHeader(authResult, undefined)).toBe(BARE);
      expect(getWWWAuthenticateHeader(authResult, OAUTH_MCP)).toBe(STATIC_MCP);
      expect(
        getWWWAuthenticateHeader(
          Object.assign(new Error("x"), { wwwAuthenticate }),
          undefined,
        ),
      ).toBe(BARE);

      const warnings = vi
        .mocked(console.warn)
        .mock.calls.map((args) =>
          args
            .map((arg) => (typeof arg === "string" ? arg : inspect(arg)))
            .join(" "),
        );

      expect(warnings.length).toBeGreaterThan(0);
      for (const warning of warnings) {
        expect(warning).toMatch(/^\[mcp-proxy\] /);
        if (leak !== undefined) {
          expect(warning).not.toContain(leak);
        }
      }
    },
  );

  it.each(
    byName([
      {
        name: "exactly 8192 characters",
        wwwAuthenticate: challengeOfLength(8192),
      },
      {
        // RFC 9110 §5.6.4: the quoted-string `a "b" \c`.
        name: "quotes and backslashes",
        wwwAuthenticate: 'Bearer realm="a \\"b\\" \\\\c"',
      },
      {
        name: "an unbalanced quote (checked for characters, not parsed)",
        wwwAuthenticate: 'Bearer error="a"b"',
      },
      {
        name: "HTAB between parameters",
        wwwAuthenticate: 'Bearer realm="a",\terror="invalid_token"',
      },
      {
        name: "every printable ASCII character",
        wwwAuthenticate: Array.from({ length: 0x5f }, (_, index) =>
          String.fromCharCode(0x20 + index),
        ).join(""),
      },
      {
        name: "an array of 8192-character entries",
        wwwAuthenticate: [challengeOfLength(8192), challengeOfLength(8192)],
      },
    ]),
  )("%s: returned unchanged", (_, { wwwAuthenticate }) => {
    expect(getWWWAuthenticateHeader({ wwwAuthenticate }, OAUTH_MCP)).toEqual(
      wwwAuthenticate,
    );
    expect(console.warn).not.toHaveBeenCalled();
  });

  it.each(
    byName<Row>([
      {
        authResult: throwingGetter("wwwAuthenticate"),
        expected: BARE,
        name: "a wwwAuthenticate getter that throws",
      },
      {
        authResult: throwingGetter("wwwAuthenticate"),
        expected: STATIC_MCP,
        name: "a wwwAuthenticate getter that throws, with oauth",
        oauth: OAUTH_MCP,
      },
      {
        authResult: throwingGetter("wwwAuthenticate", new Error("x")),
        expected: BARE,
        name: "an Error whose wwwAuthenticate getter throws",
      },
      {
        authResult: hostileProxy(),
        expected: BARE,
        name: "a Proxy that throws on every trap",
      },
      {
        authResult: hostileProxy(),
        expected: STATIC_MCP,
        name: "a Proxy that throws on every trap, with oauth",
        oauth: OAUTH_MCP,
      },
      {
        authResult: revokedProxy(),
        expected: BARE,
        name: "a revoked Proxy",
      },
      {
        authResult: {
          wwwAuthenticate: new Proxy(['Bearer realm="a"'], {
            get: () => {
              throw new Error("array get");
            },
          }),
        },
        expected: BARE,
        name: "an array Proxy that throws on read",
      },
      {
        authResult: { authenticated: false },
        expected: BARE,
        name: "oauth whose protectedResource getter throws",
        oauth: throwingGetter("protectedResource") as OAuth,
      },
      {
        authResult: { authenticated: false },
        expected: BARE,
        name: "oauth whose resource getter throws",
        oauth: { protectedResource: throwingGetter("resource") } as OAuth,
      },
      {
        authResult: undefined,
        expected: BARE,
        name: "oauth a Proxy that throws on every trap",
        oauth: hostileProxy() as OAuth,
      },
      {
        authResult: undefined,
        expected: BARE,
        name: "oauth.protectedResource a revoked Proxy",
        oauth: { protectedResource: revokedProxy() } as OAuth,
      },
      {
        authResult: { wwwAuthenticate: 'Bearer realm="app"' },
        expected: 'Bearer realm="app"',
        name: "a valid dynamic value while oauth throws",
        oauth: hostileProxy() as OAuth,
      },
      // Not an absolute URL with a host: no place for the well-known segment.
      ...[
        "not a url",
        "urn:x",
        "/mcp",
        "mcp",
        "mailto:a@h",
        "https://",
        "file:///mcp",
        "mcp:///mcp",
        "mcp:test-server",
        5,
        true,
        {},
      ].map((resource) => ({
        authResult: undefined,
        expected: BARE,
        name: `resource ${inspect(resource)}: bare`,
        oauth: oauthFor(resource),
      })),
    ]),
  )("%s", (_, { authResult, expected, oauth }) => {
    expect(getWWWAuthenticateHeader(authResult, oauth)).toEqual(expected);
  });

  it.each(
    byName([
      {
        authResult: changingGetter('Bearer realm="first"', `bad\r\n`),
        name: "a getter valid on the first read only",
      },
      {
        authResult: changingGetter("", 'Bearer realm="later"', "\0"),
        name: "a getter invalid on the first read only",
      },
      {
        authResult: {
          wwwAuthenticate: Object.defineProperty(['Bearer realm="a"'], 0, {
            get: (() => {
              let reads = 0;
              return () => (reads++ === 0 ? 'Bearer realm="a"' : "\r\nX: 1");
            })(),
          }),
        },
        name: "an array entry valid on the first read only",
      },
    ]),
  )("%s: the result is still a valid challenge", (_, { authResult }) => {
    expectValidChallenge(getWWWAuthenticateHeader(authResult, OAUTH_MCP));
  });
});

describe("properties", () => {
  const hostileCharacter = fc.constantFrom(
    "\t",
    "\n",
    "\r",
    "\0",
    "\x1b",
    "\x7f",
    "\x80",
    "\xa0",
    " ",
    '"',
    "\\",
    "é",
    "€",
    "🔑",
    "\u2028",
    "\ud800",
  );

  const headerText = fc.oneof(
    fc.string({ unit: "binary" }),
    fc.string({ unit: "grapheme" }),
    fc.string({
      unit: fc.oneof(
        fc.string({ maxLength: 1, minLength: 1, unit: "binary-ascii" }),
        hostileCharacter,
      ),
    }),
    fc.constantFrom("", " ", "\t", "x".repeat(8192), "x".repeat(8193)),
  );

  const resource = fc.oneof(
    fc.webUrl({ withFragments: true, withQueryParameters: true }),
    fc
      .tuple(
        fc.constantFrom("https://h/", "http://localhost:3000", "urn:", ""),
        headerText,
      )
      .map(([start, end]) => start + end),
    headerText,
  );

  const leaves = [headerText, resource, fc.integer(), fc.constant(null)];

  const anything = fc.anything({
    key: fc.constantFrom(
      "authenticated",
      "error",
      "error_description",
      "error_uri",
      "protectedResource",
      "realm",
      "resource",
      "scope",
      "statusCode",
      "wwwAuthenticate",
    ),
    values: leaves,
    withBigInt: true,
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withNullPrototype: true,
    withSet: true,
    withSparseArray: true,
    withTypedArray: true,
  });

  const wwwAuthenticate = fc.oneof(
    headerText,
    fc.array(headerText),
    fc.array(fc.oneof(headerText, anything)),
    anything,
  );

  const authResult = fc.oneof(
    fc.anything(),
    anything,
    fc.record(
      {
        authenticated: fc.boolean(),
        error: fc.oneof(headerText, anything),
        statusCode: fc.oneof(fc.constantFrom(401, 403), fc.integer()),
        wwwAuthenticate,
      },
      { requiredKeys: [] },
    ),
    wwwAuthenticate.map((value) =>
      Object.assign(new Error("x"), { wwwAuthenticate: value }),
    ),
  );

  const oauth = fc.oneof(
    fc.constant(undefined),
    anything,
    fc.record(
      {
        error: fc.oneof(headerText, anything),
        error_description: fc.oneof(headerText, anything),
        error_uri: fc.oneof(headerText, anything),
        protectedResource: fc.oneof(
          anything,
          fc.record(
            { resource: fc.oneof(resource, anything) },
            { requiredKeys: [] },
          ),
        ),
        realm: fc.oneof(headerText, anything),
        scope: fc.oneof(headerText, anything),
      },
      { requiredKeys: [] },
    ),
  ) as fc.Arbitrary<OAuth>;

  it("never throws, and always gives a valid, non-empty, ASCII challenge", () => {
    fc.assert(
      fc.property(authResult, oauth, (authResult, oauth) => {
        expectValidChallenge(getWWWAuthenticateHeader(authResult, oauth));
      }),
      { numRuns: 2000 },
    );
  });

  it("returns a valid dynamic value unchanged, whatever oauth holds", () => {
    const printable = fc
      .string({
        maxLength: 400,
        minLength: 1,
        unit: fc.constantFrom(
          "\t",
          ...Array.from({ length: 0x5f }, (_, index) =>
            String.fromCharCode(0x20 + index),
          ),
        ),
      })
      .filter((value) => value.trim() !== "");

    fc.assert(
      fc.property(
        fc.oneof(printable, fc.array(printable, { minLength: 1 })),
        oauth,
        (value, oauth) => {
          expect(
            getWWWAuthenticateHeader({ wwwAuthenticate: value }, oauth),
          ).toEqual(value);
        },
      ),
      { numRuns: 500 },
    );
    expect(console.warn).not.toHaveBeenCalled();
  });

  it("builds RFC 9728 §3.1 URLs the SDK client reads back, for any http(s) resource", () => {
    fc.assert(
      fc.property(
        fc
          .webUrl({ withQueryParameters: true })
          // `https://h/mcp?` has an empty query: whether it keeps its `?`
          // is left open by RFC 9728.
          .filter((url) => !url.endsWith("?")),
        (resource) => {
          const response = new Response(null, {
            headers: {
              "WWW-Authenticate": getWWWAuthenticateHeader(
                undefined,
                oauthFor(resource),
              ) as string,
            },
            status: 401,
          });
          const { origin, pathname, search } = new URL(resource);

          expect(extractResourceMetadataUrl(response)?.href).toBe(
            new URL(
              `/.well-known/oauth-protected-resource${pathname === "/" ? "" : pathname}${search}`,
              origin,
            ).href,
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it("puts the well-known segment right after the host, whatever the scheme", () => {
    fc.assert(
      fc.property(
        fc
          .webUrl({
            validSchemes: ["ftp", "mcp", "wss", "x-mcp"],
            withQueryParameters: true,
          })
          .filter((url) => !url.endsWith("?")),
        (resource) => {
          const header = getWWWAuthenticateHeader(
            undefined,
            oauthFor(resource),
          );
          const url = extractResourceMetadataUrl(
            new Response(null, {
              headers: { "WWW-Authenticate": header as string },
              status: 401,
            }),
          );
          const { host, pathname, protocol, search } = new URL(resource);

          expect({
            host: url?.host,
            pathname: url?.pathname,
            protocol: url?.protocol,
            search: url?.search,
          }).toEqual({
            host,
            pathname: `/.well-known/oauth-protected-resource${pathname === "/" ? "" : pathname}`,
            protocol,
            search,
          });
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("the SDK v1 client reads the static challenge back", () => {
  it.each(METADATA_URLS)(
    "extractResourceMetadataUrl reads back the URL of %s",
    (resource, metadataUrl) => {
      const response = new Response(null, {
        headers: {
          "WWW-Authenticate": getWWWAuthenticateHeader(
            { authenticated: false },
            oauthFor(resource),
          ) as string,
        },
        status: 401,
      });

      expect(extractResourceMetadataUrl(response)?.href).toBe(metadataUrl);
    },
  );

  it("finds resource_metadata in an array's first line (README: Bearer first)", () => {
    const headers = new Headers();
    for (const value of [
      getWWWAuthenticateHeader(
        {
          wwwAuthenticate: [
            'Bearer resource_metadata="https://h/.well-known/oauth-protected-resource/mcp", error="invalid_token"',
            'Basic realm="simple"',
          ],
        },
        undefined,
      ),
    ].flat()) {
      headers.append("WWW-Authenticate", value);
    }

    expect(
      extractResourceMetadataUrl(new Response(null, { headers, status: 401 }))
        ?.href,
    ).toBe("https://h/.well-known/oauth-protected-resource/mcp");
  });
});
