/**
 * Every authentication failure the HTTP server answers: the paths
 * P1–P8 of docs/contract.md §2.3, one row per path, trigger and mode, sent to a real server on
 * 127.0.0.1. Where the contract changes upstream 5.10.0's answer, the row sends
 * the same request to upstream too and asserts its old answer.
 *
 * `authenticate` accepts `Authorization: Bearer good`. Every other request
 * carries a token of its own (`bad-<n>`), and the callbacks put it into the
 * challenge or message they give, so each assertion sees the value computed
 * for that very request (`$token` in the tables).
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { request as httpRequest, type IncomingMessage } from "node:http";
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  vi,
} from "vitest";

import type { AuthConfig } from "../src/authentication.js";

import {
  type HTTPServerOptions,
  openEventStream,
  type Side,
  startServer,
} from "./compat-helpers.js";
import { byName, initializeRequest, streamHeaders } from "./helpers.js";

type Mode = "stateful" | "stateless";

const MODES: Mode[] = ["stateless", "stateful"];

/** What a server answered; `headers` holds every field line, by lower-case name. */
type Answer = {
  body: string;
  headers: Record<string, string[]>;
  status: number;
};

/** Our answer, exactly. */
type Expected = {
  body: string;
  /** Absent when the answer has no Content-Type. */
  contentType?: string;
  /** Further headers to check, each with its exact field lines. */
  headers?: Record<string, string[] | undefined>;
  status: number;
  /** Its field lines: one entry each, `[]` when there is none. */
  wwwAuthenticate: string[];
};

type RequestSpec = {
  /** A string is sent as is, anything else as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  method?: string;
  path: string;
};

type Row = {
  expected: Expected;
  name: string;
  options: Partial<HTTPServerOptions>;
  /** The failing request; it gets `Authorization: Bearer $token`. */
  request: RequestSpec;
  /** Open this kind of session with good credentials first, and use it. */
  session?: "sse" | "stream";
  upstream?: UpstreamExpected;
};

type RpcId = null | number | string;

/** Upstream 5.10.0's old answer: status and challenge, and what else is given. */
type UpstreamExpected = Partial<Expected> &
  Pick<Expected, "status" | "wwwAuthenticate">;

/** Stands for the request's own token in expected values. */
const TOKEN = "$token";

const GOOD_TOKEN = "good";
const API_KEY = "secret-key";
const GOOD_HEADERS = {
  Authorization: `Bearer ${GOOD_TOKEN}`,
  "X-API-Key": API_KEY,
};
const UNKNOWN_SESSION = "00000000-0000-4000-8000-000000000000";

const BARE = 'Bearer realm="mcp-proxy"';
const OAUTH: AuthConfig["oauth"] = {
  protectedResource: { resource: "https://h/mcp" },
};
const STATIC =
  'Bearer resource_metadata="https://h/.well-known/oauth-protected-resource/mcp"';
/** 5.10.0 appends the well-known suffix to the resource. */
const UPSTREAM_STATIC =
  'Bearer resource_metadata="https://h/mcp/.well-known/oauth-protected-resource"';
const ORIGIN_ONLY_STATIC =
  'Bearer resource_metadata="http://localhost:3000/.well-known/oauth-protected-resource"';

const API_KEY_BODY =
  '{"error":{"code":401,"message":"Unauthorized: Invalid or missing API key"},"id":null,"jsonrpc":"2.0"}';
const FAILED = "Unauthorized: Authentication failed";
const ERROR = "Unauthorized: Authentication error";

/** A challenge naming the token it rejects. */
const challengeFor = (token: string) =>
  `Bearer realm="mcp", error="invalid_token", error_description="token ${token} rejected"`;

const tokenOf = (req: IncomingMessage) =>
  (req.headers.authorization ?? "").replace(/^Bearer /, "");

const rpcError = (message: string, id: RpcId) =>
  JSON.stringify({ error: { code: -32000, message }, id, jsonrpc: "2.0" });

/** The JSON-RPC answer of the one door. */
const unauthorized = ({
  headers,
  id,
  message,
  status = 401,
  wwwAuthenticate = [BARE],
}: {
  headers?: Expected["headers"];
  id: RpcId;
  message: string;
  status?: number;
  wwwAuthenticate?: string[];
}): Expected => ({
  body: rpcError(message, id),
  contentType: "application/json",
  headers,
  status,
  wwwAuthenticate,
});

const CREATE_SERVER_FAILED: Expected = {
  body: "Error creating server",
  status: 500,
  wwwAuthenticate: [],
};

const toolsList = (id: number | string) => ({
  id,
  jsonrpc: "2.0",
  method: "tools/list",
});

/** The failing requests; a JSON-RPC one has id 7. */
const requests = {
  deleteStream: { method: "DELETE", path: "/mcp" },
  getSSE: { headers: { Accept: "text/event-stream" }, path: "/sse" },
  getStream: { headers: { Accept: "text/event-stream" }, path: "/mcp" },
  initialize: {
    body: initializeRequest(7),
    headers: streamHeaders,
    method: "POST",
    path: "/mcp",
  },
  postMessage: {
    body: toolsList(7),
    headers: { "Content-Type": "application/json" },
    method: "POST",
    path: "/messages",
  },
  toolsList: {
    body: toolsList(7),
    headers: streamHeaders,
    method: "POST",
    path: "/mcp",
  },
} satisfies Record<string, RequestSpec>;

const idOf = (request: RequestSpec): RpcId =>
  (request.body as { id?: RpcId } | undefined)?.id ?? null;

const returns = (build: (token: string) => unknown) => async (token: string) =>
  build(token);

const throws = (build: (token: string) => unknown) => async (token: string) => {
  throw build(token);
};

/** A thrown `Response` with a body and headers of its own, one repeated. */
const fullResponse = (token: string) =>
  new Response("nope", {
    headers: [
      ["WWW-Authenticate", challengeFor(token)],
      ["Set-Cookie", "a=1; Path=/"],
      ["Set-Cookie", "b=2; Path=/"],
    ],
    status: 401,
  });

const FULL_RESPONSE_KEPT: Expected = {
  body: "nope",
  contentType: "text/plain;charset=UTF-8",
  headers: { "set-cookie": ["a=1; Path=/", "b=2; Path=/"] },
  status: 401,
  wwwAuthenticate: [challengeFor(TOKEN)],
};

/** A `Response` from another copy of undici: only its shape is known. */
const responseLike = () => ({
  headers: new Map([["x-trace", "t-1"]]),
  status: 401,
  text: async () => "",
});

type AuthenticateFailure = {
  expected: (id: RpcId) => Expected;
  /** Answers (or rejects) a bad token. */
  fail: (token: string) => Promise<unknown>;
  /** The path's id in docs/contract.md §2.3. */
  id: "P2" | "P3" | "P8";
  oauth?: AuthConfig["oauth"];
  /** What authenticate does, for the row name. */
  trigger: string;
};

const authenticateFailures: AuthenticateFailure[] = [
  {
    expected: (id) => unauthorized({ id, message: FAILED }),
    fail: returns(() => null),
    id: "P2",
    trigger: "returns null",
  },
  {
    expected: (id) => unauthorized({ id, message: FAILED }),
    fail: returns(() => ({ authenticated: false })),
    id: "P2",
    trigger: "returns { authenticated: false }",
  },
  {
    expected: (id) =>
      unauthorized({ id, message: `token ${TOKEN} is not valid` }),
    fail: returns((token) => ({
      authenticated: false,
      error: `token ${token} is not valid`,
    })),
    id: "P2",
    trigger: "returns an error string",
  },
  {
    expected: (id) =>
      unauthorized({ id, message: FAILED, wwwAuthenticate: [STATIC] }),
    fail: returns(() => ({ authenticated: false })),
    id: "P2",
    oauth: OAUTH,
    trigger: "returns { authenticated: false }, with oauth",
  },
  {
    expected: (id) =>
      unauthorized({
        id,
        message: FAILED,
        wwwAuthenticate: [challengeFor(TOKEN)],
      }),
    fail: returns((token) => ({
      authenticated: false,
      wwwAuthenticate: challengeFor(token),
    })),
    id: "P2",
    oauth: OAUTH,
    trigger: "returns a wwwAuthenticate string",
  },
  {
    expected: (id) =>
      unauthorized({
        id,
        message: FAILED,
        wwwAuthenticate: [challengeFor(TOKEN), 'Basic realm="mcp"'],
      }),
    fail: returns((token) => ({
      authenticated: false,
      wwwAuthenticate: [challengeFor(token), 'Basic realm="mcp"'],
    })),
    id: "P2",
    trigger: "returns a wwwAuthenticate array (two field lines)",
  },
  {
    expected: (id) => unauthorized({ id, message: FAILED }),
    fail: returns((token) => ({
      authenticated: false,
      wwwAuthenticate: `${challengeFor(token)}\r\nSet-Cookie: x=1`,
    })),
    id: "P2",
    trigger: "returns a wwwAuthenticate with CRLF (ignored)",
  },
  {
    expected: (id) => unauthorized({ id, message: `token ${TOKEN} revoked` }),
    fail: throws((token) => new Error(`token ${token} revoked`)),
    id: "P3",
    trigger: "throws an Error",
  },
  {
    expected: (id) =>
      unauthorized({
        id,
        message: `token ${TOKEN} revoked`,
        wwwAuthenticate: [challengeFor(TOKEN)],
      }),
    fail: throws((token) =>
      Object.assign(new Error(`token ${token} revoked`), {
        wwwAuthenticate: challengeFor(token),
      }),
    ),
    id: "P3",
    trigger: "throws an Error with wwwAuthenticate",
  },
  {
    expected: (id) => unauthorized({ id, message: ERROR }),
    fail: throws((token) => `token ${token} revoked`),
    id: "P3",
    trigger: "throws a non-Error",
  },
  {
    expected: (id) => unauthorized({ id, message: ERROR }),
    fail: throws(() => new Response(null, { status: 401 })),
    id: "P3",
    trigger: "throws new Response(null, { status: 401 })",
  },
  {
    expected: () => FULL_RESPONSE_KEPT,
    fail: throws(fullResponse),
    id: "P3",
    trigger: "throws a Response with body and headers (kept)",
  },
  {
    expected: () => ({
      body: "slow down",
      contentType: "text/plain;charset=UTF-8",
      headers: { "retry-after": ["1"] },
      status: 429,
      wwwAuthenticate: [],
    }),
    fail: throws(
      () =>
        new Response("slow down", {
          headers: { "Retry-After": "1" },
          status: 429,
        }),
    ),
    id: "P3",
    trigger: "throws a 429 Response (kept, no challenge added)",
  },
  {
    expected: (id) =>
      unauthorized({ headers: { "x-trace": ["t-1"] }, id, message: ERROR }),
    fail: throws(responseLike),
    id: "P3",
    trigger: "throws a Response look-alike",
  },
  {
    expected: (id) =>
      unauthorized({
        id,
        message: ERROR,
        status: 403,
        wwwAuthenticate: [BARE],
      }),
    fail: throws(() => new Response(null, { status: 403 })),
    id: "P8",
    trigger: "throws new Response(null, { status: 403 })",
  },
  {
    expected: (id) =>
      unauthorized({
        id,
        message: "insufficient scope",
        status: 403,
        wwwAuthenticate: [
          `Bearer error="insufficient_scope", scope="files:write", error_description="${TOKEN}"`,
        ],
      }),
    fail: returns((token) => ({
      authenticated: false,
      error: "insufficient scope",
      statusCode: 403,
      wwwAuthenticate: `Bearer error="insufficient_scope", scope="files:write", error_description="${token}"`,
    })),
    id: "P8",
    trigger: "returns statusCode 403",
  },
  {
    expected: (id) =>
      unauthorized({ id, message: `token ${TOKEN} lacks scope`, status: 403 }),
    fail: throws((token) =>
      Object.assign(new Error(`token ${token} lacks scope`), {
        statusCode: 403,
      }),
    ),
    id: "P8",
    trigger: "throws an Error with statusCode 403",
  },
  {
    expected: (id) => unauthorized({ id, message: FAILED }),
    fail: returns(() => ({ authenticated: false, statusCode: 500 })),
    id: "P8",
    trigger: "returns statusCode 500 (still 401)",
  },
];

/** The failures P4 and P7 run on their endpoints. */
const endpointFailures = authenticateFailures.filter(({ trigger }) =>
  [
    "returns a wwwAuthenticate string",
    "returns statusCode 403",
    "throws an Error",
    "throws new Response(null, { status: 401 })",
  ].includes(trigger),
);

const authenticateFailing =
  (fail: AuthenticateFailure["fail"]) => async (req: IncomingMessage) =>
    tokenOf(req) === GOOD_TOKEN ? { authenticated: true } : fail(tokenOf(req));

type CreateServerFailure = {
  expected: (id: RpcId) => Expected;
  name: string;
  oauth?: AuthConfig["oauth"];
  /** What `createServer` throws for the request's token. */
  thrown: (token: string) => unknown;
  /** Upstream's answer on the stream endpoint. */
  upstream: UpstreamExpected;
  /** Upstream's answer on GET /sse, where it has no word list. */
  upstreamSSE?: UpstreamExpected;
};

const UPSTREAM_500: UpstreamExpected = {
  body: "Error creating server",
  status: 500,
  wwwAuthenticate: [],
};

const createServerFailures: CreateServerFailure[] = [
  {
    expected: (id) =>
      unauthorized({
        id,
        message: `no session for ${TOKEN}`,
        wwwAuthenticate: [challengeFor(TOKEN)],
      }),
    name: "an Error with wwwAuthenticate",
    thrown: (token) =>
      Object.assign(new Error(`no session for ${token}`), {
        wwwAuthenticate: challengeFor(token),
      }),
    upstream: UPSTREAM_500,
  },
  {
    expected: (id) => unauthorized({ id, message: `denied ${TOKEN}` }),
    name: "an Error with statusCode 401",
    thrown: (token) =>
      Object.assign(new Error(`denied ${token}`), { statusCode: 401 }),
    upstream: UPSTREAM_500,
  },
  {
    expected: (id) =>
      unauthorized({ id, message: `forbidden ${TOKEN}`, status: 403 }),
    name: "an Error with status 403",
    thrown: (token) =>
      Object.assign(new Error(`forbidden ${token}`), { status: 403 }),
    upstream: UPSTREAM_500,
  },
  {
    expected: (id) =>
      unauthorized({ id, message: `scope ${TOKEN}`, status: 403 }),
    name: "an Error with statusCode 403 (P8)",
    thrown: (token) =>
      Object.assign(new Error(`scope ${token}`), { statusCode: 403 }),
    upstream: UPSTREAM_500,
  },
  {
    expected: (id) => unauthorized({ id, message: `Invalid JWT ${TOKEN}` }),
    name: "an Error upstream's word list matches",
    thrown: (token) => new Error(`Invalid JWT ${token}`),
    upstream: { status: 401, wwwAuthenticate: [] },
    upstreamSSE: UPSTREAM_500,
  },
  {
    expected: (id) =>
      unauthorized({
        id,
        message: `Token ${TOKEN} expired`,
        wwwAuthenticate: [STATIC],
      }),
    name: "an Error upstream's word list matches, with oauth",
    oauth: OAUTH,
    thrown: (token) => new Error(`Token ${token} expired`),
    upstream: { status: 401, wwwAuthenticate: [UPSTREAM_STATIC] },
    upstreamSSE: UPSTREAM_500,
  },
  {
    expected: () => CREATE_SERVER_FAILED,
    name: "an Error that is not about authentication (500)",
    thrown: (token) => new Error(`database down for ${token}`),
    upstream: UPSTREAM_500,
  },
  {
    expected: (id) => unauthorized({ id, message: ERROR }),
    name: "new Response(null, { status: 401 })",
    thrown: () => new Response(null, { status: 401 }),
    upstream: { body: "", status: 401, wwwAuthenticate: [] },
  },
  {
    expected: () => FULL_RESPONSE_KEPT,
    name: "a Response with body and headers (kept)",
    thrown: fullResponse,
    upstream: {
      body: "",
      headers: FULL_RESPONSE_KEPT.headers,
      status: 401,
      wwwAuthenticate: [challengeFor(TOKEN)],
    },
  },
  {
    expected: (id) =>
      unauthorized({ headers: { "x-trace": ["t-1"] }, id, message: ERROR }),
    name: "a Response look-alike",
    thrown: responseLike,
    upstream: UPSTREAM_500,
  },
];

/**
 * Adds an Origin: the answer carries the CORS headers, the challenge exposed.
 */
const withOrigin = (row: Row): Row => ({
  ...row,
  expected: {
    ...row.expected,
    headers: {
      ...row.expected.headers,
      "access-control-allow-origin": ["*"],
      "access-control-expose-headers": ["Mcp-Session-Id, WWW-Authenticate"],
    },
  },
  name: `${row.name}, with Origin`,
  request: {
    ...row.request,
    headers: { ...row.request.headers, Origin: "https://app.example" },
  },
  upstream: row.upstream && {
    ...row.upstream,
    headers: {
      ...row.upstream.headers,
      "access-control-allow-origin": ["*"],
      "access-control-expose-headers": ["Mcp-Session-Id"],
    },
  },
});

const p1Rows: Row[] = MODES.flatMap((mode) => {
  const options = { apiKey: API_KEY, stateless: mode === "stateless" };

  return [
    {
      expected: {
        body: API_KEY_BODY,
        contentType: "application/json",
        status: 401,
        wwwAuthenticate: [BARE],
      },
      name: `P1 ${mode}: POST /mcp without X-API-Key`,
      options,
      request: requests.initialize,
      upstream: { body: API_KEY_BODY, status: 401, wwwAuthenticate: [] },
    },
    {
      expected: {
        body: API_KEY_BODY,
        contentType: "application/json",
        status: 401,
        wwwAuthenticate: [STATIC],
      },
      name: `P1 ${mode}: POST /mcp with a wrong X-API-Key, oauth with a path`,
      options: { ...options, oauth: OAUTH },
      request: {
        ...requests.toolsList,
        headers: { ...streamHeaders, "X-API-Key": "wrong" },
      },
      upstream: { status: 401, wwwAuthenticate: [UPSTREAM_STATIC] },
    },
    {
      // An origin-only resource: exactly upstream's challenge.
      expected: {
        body: API_KEY_BODY,
        contentType: "application/json",
        status: 401,
        wwwAuthenticate: [ORIGIN_ONLY_STATIC],
      },
      name: `P1 ${mode}: GET /sse without X-API-Key, origin-only oauth (as upstream)`,
      options: {
        ...options,
        oauth: { protectedResource: { resource: "http://localhost:3000" } },
      },
      request: requests.getSSE,
      upstream: {
        body: API_KEY_BODY,
        status: 401,
        wwwAuthenticate: [ORIGIN_ONLY_STATIC],
      },
    },
    {
      expected: {
        body: API_KEY_BODY,
        contentType: "application/json",
        status: 401,
        wwwAuthenticate: [BARE],
      },
      name: `P1 ${mode}: an unknown path without X-API-Key`,
      options,
      request: { path: "/elsewhere" },
      upstream: { status: 401, wwwAuthenticate: [] },
    },
  ];
});

/** P2, P3, P8 on stream POST: stateless without a session, stateful in a live one. */
const streamPostRows: Row[] = MODES.flatMap((mode) =>
  authenticateFailures.map(({ expected, fail, id, oauth, trigger }): Row => ({
    expected: expected(7),
    name: `${id} ${mode}: authenticate ${trigger}`,
    options: {
      authenticate: authenticateFailing(fail),
      oauth,
      stateless: mode === "stateless",
    },
    request: requests.toolsList,
    session: mode === "stateful" ? "stream" : undefined,
    upstream:
      mode === "stateless"
        ? { status: 401, wwwAuthenticate: oauth ? [UPSTREAM_STATIC] : [] }
        : // 5.10.0 never calls authenticate in stateful mode.
          { status: 200, wwwAuthenticate: [] },
  })),
);

/** The body's id is the request's own, or null when it has none. */
const p2IdRows: Row[] = (
  [
    ["a string id", "req-1", toolsList("req-1")],
    ["a batch (null)", null, [toolsList(7)]],
    ["a body that is not JSON (null)", null, "{not json"],
  ] as const
).map(([label, id, body]): Row => ({
  expected: unauthorized({ id, message: FAILED }),
  name: `P2 stateless: authenticate returns false, the body's id for ${label}`,
  options: {
    authenticate: authenticateFailing(returns(() => false)),
    stateless: true,
  },
  request: { ...requests.toolsList, body },
  upstream: { body: rpcError(FAILED, id), status: 401, wwwAuthenticate: [] },
}));

const p2StatefulInitialize: Row = {
  expected: unauthorized({ id: 7, message: FAILED }),
  name: "P2 stateful: initialize, authenticate returns { authenticated: false }",
  options: {
    authenticate: authenticateFailing(
      returns(() => ({ authenticated: false })),
    ),
  },
  request: requests.initialize,
  upstream: { status: 200, wwwAuthenticate: [] },
};

const p4Rows: Row[] = [
  ...(["getStream", "deleteStream"] as const).flatMap((request) =>
    endpointFailures.map(({ expected, fail, trigger }): Row => ({
      expected: expected(null),
      name: `P4 stateful: ${request === "getStream" ? "GET" : "DELETE"} in a live session, authenticate ${trigger}`,
      options: { authenticate: authenticateFailing(fail) },
      request: requests[request],
      session: "stream",
      upstream: { status: 200, wwwAuthenticate: [] },
    })),
  ),
  {
    expected: unauthorized({ id: null, message: FAILED }),
    name: "P4 stateful: GET with an unknown session id (401 before the lookup)",
    options: {
      authenticate: authenticateFailing(returns(() => false)),
    },
    request: {
      headers: {
        Accept: "text/event-stream",
        "Mcp-Session-Id": UNKNOWN_SESSION,
      },
      path: "/mcp",
    },
    upstream: { body: "No active transport", status: 400, wwwAuthenticate: [] },
  },
  ...(
    [
      ["getStream", "No sessionId"],
      ["deleteStream", "Invalid or missing sessionId"],
    ] as const
  ).map(([request, upstreamBody]): Row => ({
    expected: unauthorized({ id: null, message: FAILED }),
    name: `P4 stateless: ${request === "getStream" ? "GET" : "DELETE"}, authenticate returns false`,
    options: {
      authenticate: authenticateFailing(returns(() => false)),
      stateless: true,
    },
    request: requests[request],
    upstream: { body: upstreamBody, status: 400, wwwAuthenticate: [] },
  })),
];

/** Where `createServer` runs: a row name, its request, and the mode. */
const createServerPlaces: [string, RequestSpec, boolean][] = [
  ["P5 stateful: initialize", requests.initialize, false],
  ["P5 stateless: initialize", requests.initialize, true],
  ["P6 stateless: tools/list", requests.toolsList, true],
  ["P7 GET /sse", requests.getSSE, true],
];

const createServerRows: Row[] = createServerPlaces.flatMap(
  ([where, request, stateless]) =>
    createServerFailures.map(
      ({ expected, name, oauth, thrown, upstream, upstreamSSE }): Row => ({
        expected: expected(idOf(request)),
        name: `${where}, createServer throws ${name}`,
        options: {
          createServer: async (req) => {
            throw thrown(tokenOf(req));
          },
          oauth,
          stateless,
        },
        request,
        upstream:
          request === requests.getSSE ? (upstreamSSE ?? upstream) : upstream,
      }),
    ),
);

const p7Rows: Row[] = MODES.flatMap((mode) => [
  ...endpointFailures.flatMap(({ expected, fail, trigger }): Row[] => {
    const options = {
      authenticate: authenticateFailing(fail),
      stateless: mode === "stateless",
    };

    return [
      {
        expected: expected(null),
        name: `P7 ${mode}: GET /sse, authenticate ${trigger}`,
        options,
        request: requests.getSSE,
        // 5.10.0 never calls authenticate on SSE: the stream opens.
        upstream: { status: 200, wwwAuthenticate: [] },
      },
      {
        expected: expected(7),
        name: `P7 ${mode}: POST /messages in a live SSE session, authenticate ${trigger}`,
        options,
        request: requests.postMessage,
        session: "sse",
        upstream: { body: "Accepted", status: 202, wwwAuthenticate: [] },
      },
    ];
  }),
  {
    expected: unauthorized({ id: 7, message: FAILED }),
    name: `P7 ${mode}: POST /messages with an unknown session (401 before the lookup)`,
    options: {
      authenticate: authenticateFailing(returns(() => false)),
      stateless: mode === "stateless",
    },
    request: {
      ...requests.postMessage,
      path: `/messages?sessionId=${UNKNOWN_SESSION}`,
    },
    upstream: { body: "No active transport", status: 400, wwwAuthenticate: [] },
  },
]);

const rowNamed = (candidates: Row[], name: string) => {
  const row = candidates.find((candidate) => candidate.name === name);
  if (!row) {
    throw new Error(`no row named ${name}`);
  }
  return row;
};

const corsRows: Row[] = [
  rowNamed(p1Rows, "P1 stateless: POST /mcp without X-API-Key"),
  rowNamed(
    streamPostRows,
    "P2 stateless: authenticate returns a wwwAuthenticate string",
  ),
  rowNamed(
    streamPostRows,
    "P3 stateless: authenticate throws a Response with body and headers (kept)",
  ),
  rowNamed(
    createServerRows,
    "P5 stateful: initialize, createServer throws an Error with wwwAuthenticate",
  ),
  rowNamed(p7Rows, "P7 stateless: GET /sse, authenticate throws an Error"),
].map(withOrigin);

const rows: Row[] = [
  ...p1Rows,
  ...streamPostRows,
  ...p2IdRows,
  p2StatefulInitialize,
  ...p4Rows,
  ...createServerRows,
  ...p7Rows,
  ...corsRows,
];

/**
 * Sends one request with node:http, whose `rawHeaders` show each field line
 * (fetch joins repeated ones with ", "). A GET answered with an event stream
 * is hung up on once its headers are in.
 */
const send = (
  url: string,
  { body, headers, method = "GET", path }: RequestSpec,
) =>
  new Promise<Answer>((resolve, reject) => {
    const outgoing = httpRequest(url + path, { agent: false, headers, method });

    outgoing.on("error", reject);
    outgoing.on("response", (response) => {
      const answer: Answer = {
        body: "",
        headers: {},
        status: response.statusCode!,
      };
      for (let index = 0; index < response.rawHeaders.length; index += 2) {
        (answer.headers[response.rawHeaders[index].toLowerCase()] ??= []).push(
          response.rawHeaders[index + 1],
        );
      }

      response.on("error", () => {});
      if (
        method === "GET" &&
        response.headers["content-type"]?.startsWith("text/event-stream")
      ) {
        outgoing.destroy();
        resolve(answer);
        return;
      }

      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (answer.body += chunk));
      response.on("end", () => resolve(answer));
    });
    outgoing.end(
      body === undefined || typeof body === "string"
        ? body
        : JSON.stringify(body),
    );
  });

/** The parts of an answer a row states, `headers` limited to `names`. */
const observe = (answer: Answer, names: string[] = []) => ({
  body: answer.body,
  contentType: answer.headers["content-type"]?.join(", "),
  headers: Object.fromEntries(
    names.map((name) => [name, answer.headers[name]]),
  ),
  status: answer.status,
  wwwAuthenticate: answer.headers["www-authenticate"] ?? [],
});

/** Puts the request's token where a table says `$token`. */
const fill = <T>(value: T, token: string): T =>
  JSON.parse(JSON.stringify(value).replaceAll(TOKEN, token)) as T;

const rejections: unknown[] = [];
const onUnhandledRejection = (reason: unknown) => rejections.push(reason);

const toClose: (() => Promise<void> | void)[] = [];

/** Starts a server whose close afterEach runs. */
const start = async (side: Side, options: Partial<HTTPServerOptions>) => {
  const server = await startServer(side, options);
  toClose.push(server.close);
  return server;
};

/** Opens a session with good credentials; resolves with its id. */
const openSession = async (url: string, kind: "sse" | "stream") => {
  if (kind === "stream") {
    const answer = await send(url, {
      ...requests.initialize,
      headers: { ...streamHeaders, ...GOOD_HEADERS },
    });
    const sessionId = answer.headers["mcp-session-id"]?.[0];
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
    return sessionId!;
  }

  const stream = await openEventStream(url, {
    headers: { Accept: "text/event-stream", ...GOOD_HEADERS },
    path: "/sse",
  });
  toClose.push(stream.close);
  const endpoint = /^data: \/messages\?sessionId=(.+)$/m.exec(
    await stream.events(1),
  );
  expect(endpoint).not.toBeNull();
  return endpoint![1];
};

const inSession = (
  request: RequestSpec,
  kind: Row["session"],
  sessionId: string | undefined,
): RequestSpec => {
  if (kind === "stream") {
    return {
      ...request,
      headers: { ...request.headers, "Mcp-Session-Id": sessionId! },
    };
  }

  return kind === "sse"
    ? { ...request, path: `${request.path}?sessionId=${sessionId}` }
    : request;
};

/** A good request in the session is still served. */
const expectSessionServed = async (
  url: string,
  kind: "sse" | "stream",
  sessionId: string,
) => {
  const request = kind === "stream" ? requests.toolsList : requests.postMessage;
  const answer = await send(
    url,
    inSession(
      { ...request, headers: { ...request.headers, ...GOOD_HEADERS } },
      kind,
      sessionId,
    ),
  );

  if (kind === "stream") {
    expect(answer.status).toBe(200);
    expect(answer.body).toMatch(/"tools":\[\{[^\]]*"name":"ping"/);
  } else {
    expect(observe(answer)).toMatchObject({ body: "Accepted", status: 202 });
  }
};

let requestCount = 0;

/** Runs a row's exchange against one side. */
const exchange = async (side: Side, row: Row) => {
  const token = `bad-${++requestCount}`;
  const calls: string[] = [];
  const { authenticate } = row.options;
  const server = await start(side, {
    ...row.options,
    authenticate:
      authenticate &&
      (async (req) => {
        calls.push(tokenOf(req));
        return authenticate(req);
      }),
  });
  const sessionId = row.session
    ? await openSession(server.url, row.session)
    : undefined;
  const answer = await send(
    server.url,
    inSession(
      {
        ...row.request,
        headers: { ...row.request.headers, Authorization: `Bearer ${token}` },
      },
      row.session,
      sessionId,
    ),
  );

  return {
    answer,
    authenticateCalls: calls.filter((call) => call === token).length,
    sessionId,
    token,
    url: server.url,
  };
};

beforeAll(() => {
  process.on("unhandledRejection", onUnhandledRejection);
});

afterAll(() => {
  process.off("unhandledRejection", onUnhandledRejection);
  expect(rejections).toEqual([]);
});

beforeEach(() => {
  // The servers log what they answer.
  for (const method of ["error", "log", "warn"] as const) {
    vi.spyOn(console, method).mockImplementation(() => {});
  }
});

afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) {
    await close();
  }
  vi.restoreAllMocks();
  expect(rejections.splice(0)).toEqual([]);
});

describe("every authentication failure goes through one door", () => {
  it.each(byName(rows))("%s", async (_, row) => {
    const ours = await exchange("ours", row);
    const { headers = {}, ...expected } = row.expected;

    expect(observe(ours.answer, Object.keys(headers))).toEqual(
      fill({ ...expected, headers }, ours.token),
    );

    if (row.options.authenticate) {
      expect(ours.authenticateCalls).toBe(1);
    }

    if (row.session) {
      await expectSessionServed(ours.url, row.session, ours.sessionId!);
    }

    if (row.upstream) {
      const upstream = await exchange("upstream", row);
      const { headers = {}, ...stated } = row.upstream;
      const observed = observe(upstream.answer, Object.keys(headers));

      expect(
        Object.fromEntries(
          Object.keys({ ...stated, headers }).map((key) => [
            key,
            observed[key as keyof typeof observed],
          ]),
        ),
      ).toEqual(fill({ ...stated, headers }, upstream.token));
    }
  });
});

describe("the reported scenario (docs/contract.md §1): authenticate's own challenge reaches the client", () => {
  const reported = {
    authenticated: false,
    error: "Invalid or missing token",
    statusCode: 401,
    wwwAuthenticate:
      'Bearer realm="MCP Server", authorization_server="http://localhost:8080/realms/mcp_security"',
  };
  const initialize = {
    body: '{"jsonrpc":"2.0","method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"test-client","version":"1.0"}},"id":1}',
    headers: streamHeaders,
    method: "POST",
    path: "/mcp",
  };

  it.each([
    ["stateless", 401],
    ["stateful", 200],
  ] as const)(
    "%s: initialize answers 401 with exactly that header (upstream: %s, no challenge)",
    async (mode, upstreamStatus) => {
      const options = {
        authenticate: async () => reported,
        stateless: mode === "stateless",
      };

      const ours = await start("ours", options);
      expect(observe(await send(ours.url, initialize))).toEqual({
        body: '{"error":{"code":-32000,"message":"Invalid or missing token"},"id":1,"jsonrpc":"2.0"}',
        contentType: "application/json",
        headers: {},
        status: 401,
        wwwAuthenticate: [reported.wwwAuthenticate],
      });

      const upstream = await start("upstream", options);
      expect(observe(await send(upstream.url, initialize))).toMatchObject({
        status: upstreamStatus,
        wwwAuthenticate: [],
      });
    },
  );
});

describe("good credentials still pass", () => {
  it.each(MODES)(
    "%s: initialize answers 200 and SDK clients list the tools",
    async (mode) => {
      const authenticate = vi.fn(
        authenticateFailing(returns(() => ({ authenticated: false }))),
      );
      const server = await start("ours", {
        authenticate,
        stateless: mode === "stateless",
      });

      const initialize = await send(server.url, {
        ...requests.initialize,
        headers: { ...streamHeaders, ...GOOD_HEADERS },
      });
      expect(initialize.status).toBe(200);
      expect(initialize.headers["www-authenticate"]).toBeUndefined();
      expect(initialize.headers["mcp-session-id"]?.length).toBe(
        mode === "stateful" ? 1 : undefined,
      );

      const requestInit = {
        headers: { Authorization: GOOD_HEADERS.Authorization },
      };
      for (const transport of [
        new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), {
          requestInit,
        }),
        new SSEClientTransport(new URL(`${server.url}/sse`), { requestInit }),
      ]) {
        const client = new Client({ name: "test-client", version: "1.0" });
        toClose.push(() => client.close());
        await client.connect(transport);

        expect(
          (await client.listTools()).tools.map(({ name }) => name),
        ).toEqual(["ping"]);
      }

      expect(authenticate).toHaveBeenCalled();
      for (const [req] of authenticate.mock.calls) {
        expect(req.headers.authorization).toBe(GOOD_HEADERS.Authorization);
      }
    },
  );
});

describe("CORS", () => {
  it("keeps Authorization an allowed request header on a preflight", async () => {
    const server = await start("ours", {});
    const answer = await send(server.url, {
      headers: {
        "Access-Control-Request-Headers": "authorization",
        "Access-Control-Request-Method": "POST",
        Origin: "https://app.example",
      },
      method: "OPTIONS",
      path: "/mcp",
    });

    expect(answer.status).toBe(204);
    expect(answer.headers["access-control-allow-headers"]).toHaveLength(1);
    expect(answer.headers["access-control-allow-headers"]?.[0]).toMatch(
      /^(.+, )?Authorization(, .+)?$/,
    );
  });
});
