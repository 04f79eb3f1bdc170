/**
 * Differential suite: the same requests go to our server and to upstream
 * mcp-proxy 5.10.0, started with identical options, and the answers must be
 * identical (status, every response header but Date/Keep-Alive, whether an
 * Mcp-Session-Id came back, body), with session and event ids normalized.
 * One row per well-formed route and condition of 5.10.0's HTTP server.
 *
 * Each row also states what the answer must be, so that a row cannot pass
 * because both servers fail the same way.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import {
  type HTTPServerOptions,
  initializeSession,
  openEventStream,
  type RequestSpec,
  type RunningServer,
  type Snapshot,
  snapshot,
  snapshotEvents,
  startServer,
} from "./compat-helpers.js";
import { initializeRequest, streamHeaders } from "./helpers.js";

/**
 * What our answer must be. `headers` lists the headers to check, a value of
 * `undefined` meaning the header must be absent.
 */
type Expected = {
  headers?: Record<string, string | undefined>;
} & Partial<Omit<Snapshot, "headers">>;

type Row = {
  exchange: (url: string) => Promise<Snapshot>;
  /** Upstream's answer, and ours unless `fork` says otherwise. */
  expected: Expected;
  /** Our answer where the 401 contract (docs/contract.md §2) changes upstream's. */
  fork?: Expected;
  name: string;
  options?: Partial<HTTPServerOptions>;
  sdkDifference?: SDKDifference;
};

/**
 * Where the answer is written by the SDK's transport, SDK 1.32 (ours) and
 * upstream's bundled SDK 1.18.1 legitimately differ: these fields and
 * headers are left out of the comparison, for the reason given.
 */
type SDKDifference = {
  fields?: (keyof Snapshot)[];
  headers?: string[];
  reason: string;
};

/** An event stream or JSON answer of the SDK's streamable HTTP transport. */
const SDK_STREAM: SDKDifference = {
  headers: [
    "cache-control",
    "content-length",
    "transfer-encoding",
    "x-accel-buffering",
  ],
  reason:
    "SDK 1.32 adds `no-transform` to Cache-Control and X-Accel-Buffering: no, and sends a whole single-response stream with Content-Length where 1.18.1 used chunked encoding",
};

/** An error the SDK's transport answers itself (406, 415): same body. */
const SDK_ERROR: SDKDifference = {
  headers: ["content-length", "content-type", "transfer-encoding"],
  reason:
    "SDK 1.32 labels its error answers Content-Type: application/json (1.18.1 sent none) and sends a Content-Length",
};

/** The SDK's parse error for a body that is not JSON (stateless). */
const SDK_PARSE_ERROR: SDKDifference = {
  fields: ["body"],
  headers: SDK_ERROR.headers,
  reason:
    'SDK 1.32 answers "Parse error: Invalid JSON-RPC message"; 1.18.1 "Parse error" with a zod dump in `data`',
};

const ORIGIN = "https://app.example";
const OAUTH = { protectedResource: { resource: "https://example.com" } };
const CHALLENGE =
  'Bearer resource_metadata="https://example.com/.well-known/oauth-protected-resource"';
const DEFAULT_CORS = {
  "access-control-allow-credentials": "true",
  "access-control-allow-headers":
    "Content-Type, Authorization, Accept, Mcp-Session-Id, Last-Event-Id",
  "access-control-allow-methods": "GET, POST, OPTIONS",
  "access-control-allow-origin": "*",
  "access-control-expose-headers": "Mcp-Session-Id",
};
/**
 * The CORS defaults the fork changes so that browser MCP clients work, each
 * as [fork, 5.10.0]: the challenge is exposed, the SDK's
 * Mcp-Protocol-Version header and DELETE are allowed.
 */
const CORS_DEFAULT_CHANGES: Record<string, [string, string]> = {
  "access-control-allow-headers": [
    "Content-Type, Authorization, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-Id",
    "Content-Type, Authorization, Accept, Mcp-Session-Id, Last-Event-Id",
  ],
  "access-control-allow-methods": [
    "GET, POST, DELETE, OPTIONS",
    "GET, POST, OPTIONS",
  ],
  "access-control-expose-headers": [
    "Mcp-Session-Id, WWW-Authenticate",
    "Mcp-Session-Id",
  ],
};
const REQUEST_ID = 42;
const BARE_CHALLENGE = 'Bearer realm="mcp-proxy"';

/**
 * The fork's default CORS headers for a request from ORIGIN: 5.10.0's, `*`
 * included, with the methods and headers browser MCP clients need.
 */
const FORK_DEFAULT_CORS = {
  ...DEFAULT_CORS,
  ...Object.fromEntries(
    Object.entries(CORS_DEFAULT_CHANGES).map(([name, [fork]]) => [name, fork]),
  ),
};

const jsonRpcError = (code: number, message: string, id: unknown = null) =>
  JSON.stringify({ error: { code, message }, id, jsonrpc: "2.0" });

const send =
  (spec: RequestSpec) =>
  (url: string): Promise<Snapshot> =>
    snapshot(url, spec);

const readEvents =
  (spec: RequestSpec, count: number) =>
  (url: string): Promise<Snapshot> =>
    snapshotEvents(url, spec, count);

/**
 * Initializes a stateful session first, then sends the request it builds
 * (reading `events` events of the answer when it is an open event stream).
 */
const inSession =
  (build: (sessionId: string) => RequestSpec, events?: number) =>
  async (url: string): Promise<Snapshot> => {
    const spec = build(await initializeSession(url));

    return events === undefined
      ? snapshot(url, spec)
      : snapshotEvents(url, spec, events);
  };

/** Opens an SSE session, then posts the request it builds to its endpoint. */
const inSSESession =
  (build: (endpoint: string) => RequestSpec) =>
  async (url: string): Promise<Snapshot> => {
    const stream = await openEventStream(url, { path: "/sse" });

    try {
      const endpoint = /^data: (.*)$/m.exec(await stream.events(1))![1];
      return await snapshot(url, build(endpoint));
    } finally {
      stream.close();
    }
  };

const post = (body: unknown, headers: Record<string, string> = streamHeaders) =>
  ({ body, headers, method: "POST", path: "/mcp" }) satisfies RequestSpec;

const initialize = post(initializeRequest(REQUEST_ID));
const toolsList = { id: REQUEST_ID, jsonrpc: "2.0", method: "tools/list" };

const throwing = (error: unknown) => async () => {
  throw error;
};

const teapot = () =>
  new Response("body", {
    headers: { "X-A": "1" },
    status: 418,
    statusText: "Teapot",
  });

const TEAPOT_ANSWER: Expected = {
  body: "Teapot",
  headers: { "x-a": "1" },
  status: 418,
};

/** 5.10.0 sent the status text as the body; the fork sends the Response's. */
const FORK_TEAPOT_ANSWER: Expected = { ...TEAPOT_ANSWER, body: "body" };

const unauthorized = (
  message: string,
  { id = REQUEST_ID as unknown, oauth = false } = {},
): Expected => ({
  body: jsonRpcError(-32000, message, id),
  headers: {
    "content-type": "application/json",
    "www-authenticate": oauth ? CHALLENGE : undefined,
  },
  status: 401,
});

/** `expected` with another challenge: the fork's answer without `oauth`. */
const withChallenge = (expected: Expected, challenge: string): Expected => ({
  ...expected,
  headers: { ...expected.headers, "www-authenticate": challenge },
});

const pipelineRows: Row[] = [
  {
    exchange: send({
      headers: { Origin: ORIGIN },
      method: "OPTIONS",
      path: "/mcp",
    }),
    expected: { body: "", headers: DEFAULT_CORS, status: 204 },
    fork: { body: "", headers: FORK_DEFAULT_CORS, status: 204 },
    name: "OPTIONS answers 204 with the CORS headers (the fork's defaults)",
  },
  {
    exchange: send({ method: "OPTIONS", path: "/anything" }),
    expected: { body: "", status: 204 },
    name: "OPTIONS on any path, without Origin",
  },
  {
    exchange: send({ path: "/ping" }),
    expected: { body: "pong", status: 200 },
    name: "GET /ping",
  },
  {
    exchange: send({ path: "/ping?x=1" }),
    expected: { body: "", status: 404 },
    name: "GET /ping with a query string is not the ping route",
  },
  {
    exchange: send({ method: "PUT", path: "/mcp" }),
    expected: { body: "", status: 404 },
    name: "PUT on the stream endpoint",
  },
  {
    exchange: send({ method: "HEAD", path: "/sse" }),
    expected: { body: "", status: 404 },
    name: "HEAD on the SSE endpoint",
  },
  {
    exchange: send({ path: "/unknown" }),
    expected: { body: "", status: 404 },
    name: "unknown path",
  },
  {
    exchange: send({ method: "PATCH", path: "/unknown?x=1" }),
    expected: { body: "custom PATCH /unknown?x=1", status: 299 },
    name: "unknown path with onUnhandledRequest",
    options: {
      onUnhandledRequest: async (req, res) => {
        res.writeHead(299).end(`custom ${req.method} ${req.url}`);
      },
    },
  },
];

const apiKeyRows: Row[] = [undefined, OAUTH].flatMap((oauth) => {
  const suffix = oauth ? " (with oauth)" : "";
  const denied: Expected = {
    body: jsonRpcError(401, "Unauthorized: Invalid or missing API key"),
    headers: {
      "content-type": "application/json",
      "www-authenticate": oauth ? CHALLENGE : undefined,
    },
    status: 401,
  };
  // Without oauth, 5.10.0 sent no challenge; the fork sends the bare one.
  const fork = oauth ? undefined : withChallenge(denied, BARE_CHALLENGE);
  const options = { apiKey: "secret", oauth };

  return [
    {
      exchange: send(initialize),
      expected: denied,
      fork,
      name: `API key missing${suffix}`,
      options,
    },
    {
      exchange: send(
        post(initializeRequest(), { ...streamHeaders, "X-API-Key": "" }),
      ),
      expected: denied,
      fork,
      name: `API key empty${suffix}`,
      options,
    },
    {
      exchange: send(
        post(initializeRequest(), { ...streamHeaders, "X-API-Key": "secreT" }),
      ),
      expected: denied,
      fork,
      name: `API key wrong${suffix}`,
      options,
    },
    {
      exchange: send({ headers: { Origin: ORIGIN }, path: "/unknown" }),
      expected: { ...denied, headers: { ...denied.headers, ...DEFAULT_CORS } },
      fork: fork && {
        ...fork,
        headers: { ...fork.headers, ...FORK_DEFAULT_CORS },
      },
      name: `API key checked before 404, CORS kept${suffix}`,
      options,
    },
    {
      exchange: send(
        post(initializeRequest(), { ...streamHeaders, "X-API-Key": "secret" }),
      ),
      expected: { sessionId: true, status: 200 },
      name: `API key right${suffix}`,
      options,
      sdkDifference: SDK_STREAM,
    },
    {
      exchange: send({ headers: { "X-API-Key": "secret" }, path: "/mcp" }),
      expected: { body: "No sessionId", status: 400 },
      name: `API key right, GET /mcp${suffix}`,
      options,
    },
  ];
});

apiKeyRows.push(
  {
    exchange: send({ path: "/ping" }),
    expected: { body: "pong", status: 200 },
    name: "API key not asked on GET /ping",
    options: { apiKey: "secret" },
  },
  {
    exchange: send({ method: "OPTIONS", path: "/mcp" }),
    expected: { status: 204 },
    name: "API key not asked on OPTIONS",
    options: { apiKey: "secret" },
  },
  {
    exchange: send({ path: "/custom" }),
    expected: { status: 401 },
    fork: { status: 401 },
    name: "API key asked before onUnhandledRequest",
    options: {
      apiKey: "secret",
      onUnhandledRequest: async (_req, res) => {
        res.writeHead(200).end("reached");
      },
    },
  },
  {
    exchange: send({ path: "/custom" }),
    expected: { body: "reached", status: 200 },
    name: "empty apiKey option means no check",
    options: {
      apiKey: "",
      onUnhandledRequest: async (_req, res) => {
        res.writeHead(200).end("reached");
      },
    },
  },
);

const corsRow = (
  name: string,
  cors: HTTPServerOptions["cors"],
  expectedHeaders: Record<string, string | undefined>,
  origin = ORIGIN,
): Row => ({
  exchange: send({ headers: { Origin: origin }, path: "/ping" }),
  expected: { headers: expectedHeaders, status: 200 },
  name: `CORS: ${name}`,
  options: { cors },
});

const NO_CORS = {
  "access-control-allow-methods": undefined,
  "access-control-allow-origin": undefined,
};

const corsRows: Row[] = [
  corsRow("default", undefined, DEFAULT_CORS),
  corsRow("true", true, DEFAULT_CORS),
  corsRow("false", false, NO_CORS),
  corsRow(
    "origin string",
    { origin: "https://other.example" },
    {
      "access-control-allow-origin": "https://other.example",
    },
  ),
  corsRow(
    "origin array match",
    { origin: ["https://x.example", ORIGIN] },
    {
      "access-control-allow-origin": ORIGIN,
    },
  ),
  corsRow(
    "origin array match, request Origin with a path",
    { origin: [ORIGIN] },
    { "access-control-allow-origin": ORIGIN },
    `${ORIGIN}/some/path`,
  ),
  corsRow(
    "origin array miss (other headers kept)",
    { origin: ["https://x.example"] },
    {
      "access-control-allow-methods": "GET, POST, OPTIONS",
      "access-control-allow-origin": undefined,
    },
  ),
  corsRow(
    "origin function true",
    { origin: (o) => o === ORIGIN },
    {
      "access-control-allow-origin": ORIGIN,
    },
  ),
  corsRow(
    "origin function false",
    { origin: () => false },
    {
      "access-control-allow-origin": undefined,
    },
  ),
  corsRow(
    "empty origin string means *",
    { origin: "" },
    {
      "access-control-allow-origin": "*",
    },
  ),
  corsRow("maxAge", { maxAge: 600 }, { "access-control-max-age": "600" }),
  corsRow("maxAge 0", { maxAge: 0 }, { "access-control-max-age": "0" }),
  corsRow(
    "allowedHeaders array, methods, credentials false, exposedHeaders",
    {
      allowedHeaders: ["X-One", "X-Two"],
      credentials: false,
      exposedHeaders: ["X-Three", "X-Four"],
      methods: ["GET", "DELETE"],
    },
    {
      "access-control-allow-credentials": "false",
      "access-control-allow-headers": "X-One, X-Two",
      "access-control-allow-methods": "GET, DELETE",
      "access-control-expose-headers": "X-Three, X-Four",
    },
  ),
  corsRow(
    "an explicit undefined removes a default",
    { credentials: undefined, exposedHeaders: undefined },
    {
      "access-control-allow-credentials": undefined,
      "access-control-expose-headers": undefined,
    },
  ),
  corsRow("unparsable Origin null", undefined, NO_CORS, "null"),
  {
    exchange: send({ path: "/ping" }),
    expected: { headers: { "access-control-allow-origin": undefined } },
    name: "CORS: no Origin, no CORS headers",
  },
  {
    exchange: send({
      headers: { Origin: ORIGIN },
      method: "DELETE",
      path: "/mcp",
    }),
    expected: {
      body: "Invalid or missing sessionId",
      headers: DEFAULT_CORS,
      status: 400,
    },
    name: "CORS headers on an error answer",
  },
];

const SSE_EVENTS =
  "event: endpoint\ndata: /messages?sessionId=<uuid>\n\n" +
  'event: message\ndata: {"jsonrpc":"2.0","method":"sse/connection","params":{"message":"SSE Connection established"}}\n\n';

const sseRows: Row[] = [
  {
    exchange: readEvents({ path: "/sse" }, 2),
    expected: {
      body: SSE_EVENTS,
      headers: {
        "cache-control": "no-cache, no-transform",
        connection: "keep-alive",
        "content-type": "text/event-stream",
      },
      status: 200,
    },
    name: "GET /sse streams the endpoint event, then sse/connection",
  },
  {
    exchange: readEvents({ headers: { Origin: ORIGIN }, path: "/sse?x=1" }, 2),
    expected: { body: SSE_EVENTS, headers: DEFAULT_CORS, status: 200 },
    name: "GET /sse ignores the query string, keeps CORS",
  },
  {
    exchange: readEvents({ path: "/events" }, 2),
    expected: { body: SSE_EVENTS, status: 200 },
    name: "GET on a custom sseEndpoint (messages stay at /messages)",
    options: { sseEndpoint: "/events" },
  },
  {
    exchange: send({ path: "/sse" }),
    expected: { body: "", status: 404 },
    name: "GET /sse with sseEndpoint null",
    options: { sseEndpoint: null },
  },
  {
    exchange: send({ method: "POST", path: "/messages" }),
    expected: { body: "", status: 404 },
    name: "POST /messages with sseEndpoint null",
    options: { sseEndpoint: null },
  },
  {
    exchange: send({ path: "/sse" }),
    expected: TEAPOT_ANSWER,
    fork: FORK_TEAPOT_ANSWER,
    name: "GET /sse, createServer throws a Response",
    options: { createServer: throwing(teapot()) },
  },
  {
    exchange: send({ path: "/sse" }),
    expected: { body: "Error creating server", status: 500 },
    fork: withChallenge(
      unauthorized("Unauthorized", { id: null }),
      BARE_CHALLENGE,
    ),
    name: "GET /sse, createServer throws Error(Unauthorized) (5.10.0: 500)",
    options: { createServer: throwing(new Error("Unauthorized")) },
  },
  {
    exchange: send({ method: "POST", path: "/messages" }),
    expected: { body: "No sessionId", status: 400 },
    name: "POST /messages without sessionId",
  },
  {
    exchange: send({ method: "POST", path: "/messagesX" }),
    expected: { body: "No sessionId", status: 400 },
    name: "POST /messagesX (prefix match)",
  },
  {
    exchange: send({ method: "POST", path: "/messages?sessionId=unknown" }),
    expected: { body: "No active transport", status: 400 },
    name: "POST /messages with an unknown sessionId",
  },
  {
    exchange: inSSESession((endpoint) => ({
      body: initializeRequest(),
      headers: { "Content-Type": "application/json" },
      method: "POST",
      path: endpoint,
    })),
    expected: { body: "Accepted", status: 202 },
    name: "POST /messages to a live SSE session",
  },
];

const streamRows: Row[] = [
  {
    exchange: send(initialize),
    expected: {
      body: expect.stringContaining(`"id":${REQUEST_ID}`),
      headers: { "content-type": "text/event-stream" },
      sessionId: true,
      status: 200,
    },
    name: "stateful initialize",
    sdkDifference: SDK_STREAM,
  },
  {
    exchange: send({ ...initialize, path: "/mcp?x=1" }),
    expected: { sessionId: true, status: 200 },
    name: "stateful initialize, query string ignored",
    sdkDifference: SDK_STREAM,
  },
  {
    exchange: send(initialize),
    expected: {
      headers: { "content-type": "application/json" },
      sessionId: true,
      status: 200,
    },
    name: "stateful initialize with enableJsonResponse",
    options: { enableJsonResponse: true },
    sdkDifference: SDK_STREAM,
  },
  {
    exchange: send({ ...initialize, path: "/custom" }),
    expected: { sessionId: true, status: 200 },
    name: "initialize on a custom streamEndpoint",
    options: { streamEndpoint: "/custom" },
    sdkDifference: SDK_STREAM,
  },
  {
    exchange: send(initialize),
    expected: { body: "", status: 404 },
    name: "POST /mcp with streamEndpoint null",
    options: { streamEndpoint: null },
  },
  {
    exchange: send(initialize),
    expected: { sessionId: false, status: 200 },
    name: "stateless initialize",
    options: { stateless: true },
    sdkDifference: SDK_STREAM,
  },
  {
    exchange: send(post(toolsList)),
    expected: { body: expect.stringContaining('"name":"ping"'), status: 200 },
    name: "stateless tools/list without initialize",
    options: { stateless: true },
    sdkDifference: SDK_STREAM,
  },
  {
    exchange: inSession((sessionId) =>
      post(toolsList, { ...streamHeaders, "Mcp-Session-Id": sessionId }),
    ),
    expected: { body: expect.stringContaining('"name":"ping"'), status: 200 },
    name: "stateful tools/list in a session",
    sdkDifference: SDK_STREAM,
  },
  ...[false, true].map((stateless) => ({
    exchange: send(
      post(toolsList, { ...streamHeaders, "Mcp-Session-Id": "unknown" }),
    ),
    expected: { body: jsonRpcError(-32001, "Session not found"), status: 404 },
    name: `POST with an unknown session id (${stateless ? "stateless" : "stateful"})`,
    options: { stateless },
  })),
  {
    exchange: send(post(toolsList)),
    expected: {
      body: jsonRpcError(-32000, "Bad Request: No valid session ID provided"),
      status: 400,
    },
    name: "stateful non-initialize without session",
  },
  {
    exchange: send(post("{not json")),
    expected: {
      body: jsonRpcError(-32000, "Bad Request: No valid session ID provided"),
      status: 400,
    },
    name: "stateful POST with a body that is not JSON",
  },
  {
    exchange: send(post("{not json")),
    expected: { status: 400 },
    name: "stateless POST with a body that is not JSON",
    options: { stateless: true },
    sdkDifference: SDK_PARSE_ERROR,
  },
  {
    exchange: send(
      post(initializeRequest(), { "Content-Type": "application/json" }),
    ),
    expected: { sessionId: false, status: 406 },
    name: "initialize without Accept",
    sdkDifference: SDK_ERROR,
  },
  {
    exchange: send(
      post(initializeRequest(), {
        ...streamHeaders,
        "Content-Type": "text/plain",
      }),
    ),
    expected: { sessionId: false, status: 415 },
    name: "initialize with a wrong Content-Type",
    sdkDifference: SDK_ERROR,
  },
  ...[false, true].flatMap((stateless) => {
    const mode = stateless ? "stateless" : "stateful";
    return [
      {
        exchange: send({ path: "/mcp" }),
        expected: { body: "No sessionId", status: 400 },
        name: `GET /mcp without session (${mode})`,
        options: { stateless },
      },
      {
        exchange: send({
          headers: { "Mcp-Session-Id": "unknown" },
          path: "/mcp",
        }),
        expected: { body: "No active transport", status: 400 },
        name: `GET /mcp with an unknown session (${mode})`,
        options: { stateless },
      },
      {
        exchange: send({ method: "DELETE", path: "/mcp" }),
        expected: { body: "Invalid or missing sessionId", status: 400 },
        name: `DELETE /mcp without session (${mode})`,
        options: { stateless },
      },
      {
        exchange: send({
          headers: { "Mcp-Session-Id": "unknown" },
          method: "DELETE",
          path: "/mcp",
        }),
        expected: { body: "No active transport", status: 400 },
        name: `DELETE /mcp with an unknown session (${mode})`,
        options: { stateless },
      },
    ];
  }),
  {
    exchange: inSession(
      (sessionId) => ({
        headers: { Accept: "text/event-stream", "Mcp-Session-Id": sessionId },
        path: "/mcp",
      }),
      0,
    ),
    expected: {
      headers: { "content-type": "text/event-stream" },
      status: 200,
    },
    name: "GET /mcp with a known session opens its event stream",
    sdkDifference: SDK_STREAM,
  },
  {
    exchange: inSession((sessionId) => ({
      headers: { "Mcp-Session-Id": sessionId },
      method: "DELETE",
      path: "/mcp",
    })),
    expected: { body: "", status: 200 },
    name: "DELETE /mcp with a known session",
  },
];

const authenticateRows: Row[] = [undefined, OAUTH].flatMap((oauth) => {
  const suffix = oauth ? " (with oauth)" : "";
  const failed = (
    name: string,
    authenticate: () => Promise<unknown>,
    expected: Expected,
    request: RequestSpec = initialize,
    challenge = oauth ? undefined : BARE_CHALLENGE,
  ): Row => ({
    exchange: send(request),
    expected,
    fork:
      challenge && expected.status === 401
        ? withChallenge(expected, challenge)
        : undefined,
    name: `stateless authenticate ${name}${suffix}`,
    options: { authenticate, oauth, stateless: true },
  });
  const is = { oauth: Boolean(oauth) };

  return [
    failed(
      "returns false",
      async () => false,
      unauthorized("Unauthorized: Authentication failed", is),
    ),
    failed(
      "returns undefined",
      async () => undefined,
      unauthorized("Unauthorized: Authentication failed", is),
    ),
    failed(
      "returns {authenticated:false}",
      async () => ({ authenticated: false }),
      unauthorized("Unauthorized: Authentication failed", is),
    ),
    failed(
      'returns {authenticated:false, error:"x"}',
      async () => ({ authenticated: false, error: "x" }),
      unauthorized("x", is),
    ),
    failed(
      "returns a wwwAuthenticate (5.10.0 ignores it)",
      async () => ({
        authenticated: false,
        error: "x",
        wwwAuthenticate: 'Bearer realm="app"',
      }),
      unauthorized("x", is),
      initialize,
      'Bearer realm="app"',
    ),
    failed(
      "throws an Error",
      throwing(new Error("boom")),
      unauthorized("boom", is),
    ),
    failed(
      "throws a non-Error",
      throwing("nope"),
      unauthorized("Unauthorized: Authentication error", is),
    ),
    {
      ...failed(
        "throws a Response(null, 403) (5.10.0 answers 401)",
        throwing(new Response(null, { status: 403 })),
        unauthorized("Unauthorized: Authentication error", is),
      ),
      fork: {
        ...withChallenge(
          unauthorized("Unauthorized: Authentication error"),
          oauth ? CHALLENGE : BARE_CHALLENGE,
        ),
        status: 403,
      },
    },
    failed(
      "fails on a batch (id null)",
      async () => false,
      unauthorized("Unauthorized: Authentication failed", { ...is, id: null }),
      post([initializeRequest(REQUEST_ID)]),
    ),
    failed(
      "fails on a string id",
      async () => false,
      unauthorized("Unauthorized: Authentication failed", { ...is, id: "abc" }),
      post(initializeRequest("abc")),
    ),
    {
      ...failed(
        "returns {authenticated:true}",
        async () => ({ authenticated: true }),
        {
          status: 200,
        },
      ),
      sdkDifference: SDK_STREAM,
    },
    {
      ...failed("returns a truthy string", async () => "yes", { status: 200 }),
      sdkDifference: SDK_STREAM,
    },
  ];
});

authenticateRows.push({
  exchange: send(initialize),
  expected: unauthorized("no scope"),
  fork: {
    ...withChallenge(unauthorized("no scope"), BARE_CHALLENGE),
    status: 403,
  },
  name: "stateless authenticate says statusCode 403 (5.10.0 answers 401)",
  options: {
    authenticate: async () => ({
      authenticated: false,
      error: "no scope",
      statusCode: 403,
    }),
    stateless: true,
  },
});

authenticateRows.push({
  exchange: send(initialize),
  expected: { sessionId: true, status: 200 },
  fork: withChallenge(
    unauthorized("Unauthorized: Authentication failed"),
    BARE_CHALLENGE,
  ),
  name: "stateful authenticate (5.10.0 never calls it)",
  options: { authenticate: async () => false },
  sdkDifference: SDK_STREAM,
});

const WORDS: [thrown: unknown, answer: "401" | "500"][] = [
  [new Error("Authentication required"), "401"],
  [new Error("Invalid JWT signature"), "401"],
  [new Error("Token expired"), "401"],
  [new Error("Unauthorized"), "401"],
  ["Unauthorized x", "401"],
  [new Error("Tokenizer broke"), "401"],
  [new Error("token expired"), "500"],
  [new Error("Forbidden"), "500"],
  [new Error("jwt expired"), "500"],
  [new Error("invalid token"), "500"],
];

const describeThrown = (thrown: unknown) =>
  thrown instanceof Error
    ? `Error(${JSON.stringify(thrown.message)})`
    : JSON.stringify(thrown);

const createServerRows: Row[] = [
  ...WORDS.flatMap(([thrown, answer]) =>
    [undefined, OAUTH].map((oauth) => ({
      exchange: send(initialize),
      expected:
        answer === "401"
          ? unauthorized(
              thrown instanceof Error ? thrown.message : String(thrown),
              {
                oauth: Boolean(oauth),
              },
            )
          : { body: "Error creating server", status: 500 },
      fork:
        answer === "401" && !oauth
          ? withChallenge(
              unauthorized(
                thrown instanceof Error ? thrown.message : String(thrown),
              ),
              BARE_CHALLENGE,
            )
          : undefined,
      name: `createServer throws ${describeThrown(thrown)} → ${answer}${oauth ? " (with oauth)" : ""}`,
      options: { createServer: throwing(thrown), oauth },
    })),
  ),
  ...[false, true].map((stateless) => ({
    exchange: send(initialize),
    expected: TEAPOT_ANSWER,
    fork: FORK_TEAPOT_ANSWER,
    name: `createServer throws a Response on initialize (${stateless ? "stateless" : "stateful"})`,
    options: { createServer: throwing(teapot()), stateless },
  })),
  {
    exchange: send(post(toolsList)),
    expected: unauthorized("Token expired", { oauth: true }),
    name: "stateless non-initialize, createServer throws an auth error",
    options: {
      createServer: throwing(new Error("Token expired")),
      oauth: OAUTH,
      stateless: true,
    },
  },
  {
    exchange: send(post(toolsList)),
    expected: TEAPOT_ANSWER,
    fork: FORK_TEAPOT_ANSWER,
    name: "stateless non-initialize, createServer throws a Response",
    options: { createServer: throwing(teapot()), stateless: true },
  },
];

const pickHeaders = (answer: Snapshot, names: string[]) =>
  Object.fromEntries(names.map((name) => [name, answer.headers[name]]));

/**
 * Our answer with 5.10.0's CORS defaults where the fork changed them (the
 * OPTIONS row shows the fork's), so the other rows compare everything else.
 */
const withUpstreamCorsDefaults = (
  answer: Snapshot,
  upstream: Snapshot,
): Snapshot => {
  const headers = { ...answer.headers };

  for (const [name, [fork, old]] of Object.entries(CORS_DEFAULT_CHANGES)) {
    if (headers[name] === fork) {
      headers[name] = old;
    }
  }

  // The fork adds Vary: Origin where the answer depends on the origin.
  if (upstream.headers.vary === undefined) {
    delete headers.vary;
  }

  return { ...answer, headers };
};

const expectAnswer = (answer: Snapshot, { headers, ...rest }: Expected) => {
  expect(answer).toMatchObject(rest);
  if (headers) {
    expect(pickHeaders(answer, Object.keys(headers))).toEqual(headers);
  }
};

/** The test title: the row's name, plus what is left out of the comparison. */
const withTitle = (row: Row) => {
  const left = [
    ...(row.sdkDifference?.fields ?? []),
    ...(row.sdkDifference?.headers ?? []),
  ];

  return {
    ...row,
    title: left.length
      ? `${row.name} [SDK-written, not compared: ${left.join(", ")}]`
      : row.name,
  };
};

/** The answer without what the SDK versions legitimately differ on. */
const comparable = (answer: Snapshot, difference?: SDKDifference) => {
  const headers = { ...answer.headers };
  for (const name of difference?.headers ?? []) {
    delete headers[name];
  }
  const result: Partial<Snapshot> = { ...answer, headers };
  for (const field of difference?.fields ?? []) {
    delete result[field];
  }

  return result;
};

describe("our startHTTPServer answers like upstream 5.10.0", () => {
  let servers: RunningServer[] = [];

  beforeEach(() => {
    // Both servers log every error they answer; the answers are what counts.
    for (const method of ["error", "log", "warn"] as const) {
      vi.spyOn(console, method).mockImplementation(() => {});
    }
  });

  afterEach(async () => {
    await Promise.all(servers.map((server) => server.close()));
    servers = [];
    vi.restoreAllMocks();
  });

  describe.each([
    ["pipeline", pipelineRows],
    ["API key", apiKeyRows],
    ["CORS", corsRows],
    ["SSE", sseRows],
    ["stream", streamRows],
    ["authenticate", authenticateRows],
    ["createServer errors", createServerRows],
  ])("%s", (_group, rows) => {
    // A loop rather than it.each, whose $-interpolation truncates long names.
    for (const {
      exchange,
      expected,
      fork,
      options,
      sdkDifference,
      title,
    } of rows.map(withTitle)) {
      it(title, async () => {
        const ours = await startServer("ours", options);
        servers.push(ours);
        const upstream = await startServer("upstream", options);
        servers.push(upstream);

        const ourAnswer = await exchange(ours.url);
        const upstreamAnswer = await exchange(upstream.url);

        if (fork) {
          // The 401 contract changes this answer: upstream keeps its old one.
          expectAnswer(upstreamAnswer, expected);
          expectAnswer(ourAnswer, fork);
          return;
        }

        const comparableAnswer = withUpstreamCorsDefaults(
          ourAnswer,
          upstreamAnswer,
        );
        expect(comparable(comparableAnswer, sdkDifference)).toEqual(
          comparable(upstreamAnswer, sdkDifference),
        );
        expectAnswer(comparableAnswer, expected);
      });
    }
  });
});
