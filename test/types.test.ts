/**
 * The built package as a consumer sees it: a TypeScript file that uses every
 * export of upstream 5.10.0 (and another for 5.12.5's additions) the way
 * upstream's types allow must compile against our `dist/index.d.ts` (each is
 * first checked against that release's own declarations, which proves it is
 * a fair consumer), and the runtime module must offer every value those
 * releases' do.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);

const repo = fileURLToPath(new URL("..", import.meta.url));
const dist = join(repo, "dist");

// Uses every export of upstream 5.10.0's index.ts, with the types upstream
// declares. Never run: only compiled.
const CONSUMER = `
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { EventStore } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  type AuthConfig,
  AuthenticationMiddleware,
  type CorsOptions,
  InMemoryEventStore,
  proxyServer,
  ServerType,
  startHTTPServer,
  startStdioServer,
  tapTransport,
} from "mcp-proxy";

const newServer = () =>
  new Server({ name: "test", version: "1.0.0" }, { capabilities: { tools: {} } });
const newClient = () => new Client({ name: "test", version: "1.0.0" });

// AuthConfig, AuthenticationMiddleware
const config: AuthConfig = {
  apiKey: "x",
  oauth: { protectedResource: { resource: "https://example.com" } },
};
const emptyConfig: AuthConfig = {};
const middleware = new AuthenticationMiddleware({ apiKey: "x" });
new AuthenticationMiddleware();
new AuthenticationMiddleware(emptyConfig);
const unauthorized: { body: string; headers: Record<string, string> } =
  middleware.getUnauthorizedResponse();
const headers: Record<string, string> =
  new AuthenticationMiddleware({ apiKey: "x" }).getUnauthorizedResponse().headers;
const body: string = unauthorized.body;
const valid: boolean = middleware.validateRequest({} as IncomingMessage);

// InMemoryEventStore
const store = new InMemoryEventStore();
const asEventStore: EventStore = store;
const message: JSONRPCMessage = { id: 1, jsonrpc: "2.0", method: "ping" };
const eventId: Promise<string> = store.storeEvent("stream", message);
const streamId: Promise<string> = store.replayEventsAfter("stream_1", {
  send: async (id: string, replayed: JSONRPCMessage) => {
    void id;
    void replayed;
  },
});

// CorsOptions
const corsFull: CorsOptions = {
  allowedHeaders: ["Content-Type"],
  credentials: true,
  exposedHeaders: ["Mcp-Session-Id"],
  maxAge: 600,
  methods: ["GET", "POST"],
  origin: (origin: string) => origin === "https://app.example",
};
const corsString: CorsOptions = { allowedHeaders: "*", origin: "https://app.example" };
const corsList: CorsOptions = { origin: ["https://app.example"] };
const corsEmpty: CorsOptions = {};

// startHTTPServer
const minimal: Promise<{ close: () => Promise<void> }> = startHTTPServer({
  createServer: async () => newServer(),
  port: 0,
});
const everything = startHTTPServer({
  apiKey: "x",
  authenticate: async (request: IncomingMessage) => ({ authenticated: true, request }),
  cors: corsFull,
  createServer: async (request: IncomingMessage) => {
    void request;
    return newServer();
  },
  enableJsonResponse: true,
  eventStore: store,
  host: "::",
  oauth: config.oauth,
  onClose: async (server: Server) => {
    await server.close();
  },
  onConnect: async (server: Server) => {
    void server.getClientVersion();
  },
  onUnhandledRequest: async (request: IncomingMessage, response: ServerResponse) => {
    response.writeHead(404).end(request.url);
  },
  port: 8080,
  sseEndpoint: null,
  stateless: true,
  streamEndpoint: "/mcp",
});
void everything.then(async ({ close }) => close());
void startHTTPServer({ cors: false, createServer: async () => newServer(), port: 0, sseEndpoint: "/sse", streamEndpoint: null });
void startHTTPServer({ cors: true, createServer: async () => newServer(), port: 0 });
void startHTTPServer({ cors: corsString, createServer: async () => newServer(), port: 0 });
void startHTTPServer({ cors: corsList, createServer: async () => newServer(), port: 0 });
void startHTTPServer({ cors: corsEmpty, createServer: async () => newServer(), port: 0 });
// Any object with Server's close and connect will do.
void startHTTPServer({
  createServer: async () => ({
    close: async () => {},
    connect: async (transport: Transport) => {
      void transport;
    },
    name: "custom",
  }),
  onClose: async (server) => {
    const name: string = server.name;
    void name;
  },
  port: 0,
});

// proxyServer
const proxied: Promise<void> = proxyServer({
  client: newClient(),
  requestTimeout: 1000,
  server: newServer(),
  serverCapabilities: { tools: {} },
});
void proxyServer({ client: newClient(), server: newServer(), serverCapabilities: {} });

// ServerType, startStdioServer
const sse: ServerType = ServerType.SSE;
const stream: ServerType = ServerType.HTTPStream;
const asString: string = ServerType.SSE;
const stdio: Promise<Server> = startStdioServer({
  initStdioServer: async () => newServer(),
  initStreamClient: async () => newClient(),
  serverType: ServerType.HTTPStream,
  transportOptions: { requestInit: { headers: { Authorization: "Bearer x" } } },
  url: "http://localhost:8080/mcp",
});
void startStdioServer({ serverType: sse, url: "http://localhost:8080/sse" });
void startStdioServer({ serverType: stream, transportOptions: {}, url: "http://localhost:8080/mcp" });

// tapTransport
const [left] = InMemoryTransport.createLinkedPair();
const tapped: Transport = tapTransport(left, (event) => {
  switch (event.type) {
    case "onerror": {
      const error: Error = event.error;
      void error;
      break;
    }
    case "onmessage":
    case "send": {
      const tappedMessage: JSONRPCMessage = event.message;
      void tappedMessage;
      break;
    }
    case "close":
    case "onclose":
    case "start":
      break;
  }
});

export {
  asEventStore, asString, body, eventId, headers, minimal, proxied, stdio, streamId, tapped, valid,
};
`;

// What 5.12.5 adds: AuthConfig.oauth's challenge fields, the scope
// challenge and getUnauthorizedResponse's options. Never run: only compiled.
const CONSUMER_5_12 = `${CONSUMER}
const oauth512: AuthConfig["oauth"] = {
  error: "invalid_token",
  error_description: "The access token expired",
  error_uri: "https://example.com/errors",
  protectedResource: { resource: "https://example.com/mcp" },
  realm: "example",
  scope: "mcp:tools",
};
const middleware512 = new AuthenticationMiddleware({ apiKey: "x", oauth: oauth512 });
const scopeChallenge: {
  body: string;
  headers: Record<string, string>;
  statusCode: number;
} = middleware512.getScopeChallengeResponse(["mcp:tools"], "Needs mcp:tools", 1);
void middleware512.getScopeChallengeResponse(["a"]);
void middleware512.getScopeChallengeResponse([], undefined, "id");
const unauthorized512: { body: string; headers: Record<string, string> } =
  middleware512.getUnauthorizedResponse({
    error: "invalid_token",
    error_description: "The access token expired",
    error_uri: "https://example.com/errors",
    scope: "mcp:tools",
  });
void middleware512.getUnauthorizedResponse({});
void middleware512.getUnauthorizedResponse(undefined);
void startHTTPServer({ createServer: async () => newServer(), oauth: oauth512, port: 0 });

export { scopeChallenge, unauthorized512 };
`;

// What the fork adds to 5.10.0's API: an `authenticate` typed with
// `AuthResult`, and `getWWWAuthenticateHeader`.
const CONSUMER_FORK = `${CONSUMER}
import { type AuthResult, getWWWAuthenticateHeader } from "mcp-proxy";

const refuse = async (): Promise<AuthResult> => ({
  authenticated: false,
  error: "Missing token",
  statusCode: 401,
  wwwAuthenticate: 'Bearer resource_metadata="https://example.com/.well-known/oauth-protected-resource"',
});
const allow = async (): Promise<AuthResult> => ({ sub: "ada" });
void startHTTPServer({ authenticate: refuse, createServer: async () => newServer(), port: 0 });
void startHTTPServer({ authenticate: allow, createServer: async () => newServer(), port: 0 });
const challenge: string | string[] = getWWWAuthenticateHeader(await refuse(), config.oauth);

export { challenge };
`;

const TSC_OPTIONS = [
  "--noEmit",
  "--strict",
  "--module",
  "NodeNext",
  "--moduleResolution",
  "NodeNext",
  "--target",
  "ES2022",
  // DOM for the fetch types the SDK's declarations use; no skipLibCheck, so
  // dist/index.d.ts itself is checked too.
  "--lib",
  "ES2023,DOM",
  "--types",
  "node",
];

/**
 * A consumer project in a temp dir whose `mcp-proxy` is `packageDir`, with
 * the repository's SDK and @types, and `source` as its consumer.ts.
 */
const makeConsumer = async (
  root: string,
  packageDir: string,
  source = CONSUMER,
) => {
  const modules = join(root, "node_modules");
  await mkdir(join(modules, "@modelcontextprotocol"), { recursive: true });
  await symlink(packageDir, join(modules, "mcp-proxy"), "dir");
  await symlink(
    join(repo, "node_modules/@modelcontextprotocol/sdk"),
    join(modules, "@modelcontextprotocol/sdk"),
    "dir",
  );
  await symlink(
    join(repo, "node_modules/@types"),
    join(modules, "@types"),
    "dir",
  );
  await writeFile(
    join(root, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
  await writeFile(join(root, "consumer.ts"), source);
};

const typeCheck = (root: string) =>
  run(join(repo, "node_modules/.bin/tsc"), [...TSC_OPTIONS, "consumer.ts"], {
    cwd: root,
  }).then(
    () => ({ code: 0, output: "" }),
    (error: { code: number; stdout: string }) => ({
      code: error.code,
      output: error.stdout,
    }),
  );

const VALUE_EXPORTS = {
  AuthenticationMiddleware: "function",
  InMemoryEventStore: "function",
  proxyServer: "function",
  ServerType: "object",
  startHTTPServer: "function",
  startStdioServer: "function",
  tapTransport: "function",
};

describe("the built package", () => {
  let temp: string;

  beforeAll(async () => {
    temp = await mkdtemp(join(tmpdir(), "mcp-proxy-types-"));
    await makeConsumer(join(temp, "ours"), repo);
    await makeConsumer(
      join(temp, "upstream"),
      join(repo, "node_modules/mcp-proxy-upstream"),
    );
    await makeConsumer(join(temp, "ours-5.12"), repo, CONSUMER_5_12);
    await makeConsumer(join(temp, "ours-fork"), repo, CONSUMER_FORK);
    await makeConsumer(
      join(temp, "5.12"),
      join(repo, "node_modules/mcp-proxy-5-12"),
      CONSUMER_5_12,
    );
  }, 180_000);

  afterAll(async () => {
    if (temp) {
      await rm(temp, { force: true, recursive: true });
    }
  });

  it("the consumer compiles against upstream 5.10.0's declarations", async () => {
    expect(await typeCheck(join(temp, "upstream"))).toEqual({
      code: 0,
      output: "",
    });
  }, 120_000);

  it("the consumer compiles against our dist/index.d.ts", async () => {
    expect(await typeCheck(join(temp, "ours"))).toEqual({
      code: 0,
      output: "",
    });
  }, 120_000);

  it("the 5.12.5 consumer compiles against 5.12.5's declarations", async () => {
    expect(await typeCheck(join(temp, "5.12"))).toEqual({
      code: 0,
      output: "",
    });
  }, 120_000);

  it("the 5.12.5 consumer compiles against our dist/index.d.ts", async () => {
    expect(await typeCheck(join(temp, "ours-5.12"))).toEqual({
      code: 0,
      output: "",
    });
  }, 120_000);

  it("a consumer of the fork's additions (AuthResult, getWWWAuthenticateHeader) compiles", async () => {
    expect(await typeCheck(join(temp, "ours-fork"))).toEqual({
      code: 0,
      output: "",
    });
  }, 120_000);

  it("dist/index.js has every value export, of the right kind", async () => {
    const ours = (await import(
      pathToFileURL(join(dist, "index.js")).href
    )) as Record<string, unknown>;

    for (const [name, kind] of Object.entries(VALUE_EXPORTS)) {
      expect(typeof ours[name], name).toBe(kind);
    }
    expect(ours.ServerType).toEqual({ HTTPStream: "HTTPStream", SSE: "SSE" });
  });

  it("offers every value upstream's module offers", async () => {
    const ours = await import(pathToFileURL(join(dist, "index.js")).href);
    const upstream = await import("mcp-proxy-upstream");

    expect(Object.keys(ours)).toEqual(
      expect.arrayContaining(Object.keys(upstream)),
    );
    expect(Object.keys(upstream).sort()).toEqual(
      Object.keys(VALUE_EXPORTS).sort(),
    );
  });

  it("offers every value 5.12.5's module offers", async () => {
    const ours = await import(pathToFileURL(join(dist, "index.js")).href);
    const v512 = await import("mcp-proxy-5-12");

    expect(Object.keys(ours)).toEqual(
      expect.arrayContaining(Object.keys(v512)),
    );
    expect(Object.keys(v512).sort()).toEqual(Object.keys(VALUE_EXPORTS).sort());
  });

  it("AuthenticationMiddleware gives upstream's body and headers", async () => {
    const ours = await import(pathToFileURL(join(dist, "index.js")).href);
    const upstream = await import("mcp-proxy-upstream");
    const configs = [
      undefined,
      {},
      { apiKey: "x" },
      {
        apiKey: "x",
        oauth: { protectedResource: { resource: "https://example.com" } },
      },
    ];

    for (const config of configs) {
      const make = (module: typeof upstream) =>
        new module.AuthenticationMiddleware(config);
      const upstreamResponse = make(upstream).getUnauthorizedResponse();
      const ourResponse = make(ours).getUnauthorizedResponse();

      expect(ourResponse.body).toBe(upstreamResponse.body);
      // An origin-only resource: exactly upstream's challenge.
      expect(ourResponse.headers).toEqual(upstreamResponse.headers);
      expect(upstreamResponse.headers).toEqual(
        config?.oauth
          ? {
              "Content-Type": "application/json",
              "WWW-Authenticate":
                'Bearer resource_metadata="https://example.com/.well-known/oauth-protected-resource"',
            }
          : { "Content-Type": "application/json" },
      );
    }
  });
});
