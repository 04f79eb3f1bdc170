/**
 * Base behaviour of our startHTTPServer, and the 5.10.0 defects
 * (docs/contract.md §7) it does not reproduce. Each defect test also shows upstream's
 * broken behaviour: in-process where that is safe, in a child process where
 * upstream would take the test runner down with it.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { connect, createServer as createNetServer } from "node:net";
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

import { startHTTPServer } from "../src/startHTTPServer.js";
import {
  createTestServer,
  type HTTPServerOptions,
  initializeSession,
  openEventStream,
  rawStatus,
  request,
  runUpstreamChild,
  sendRaw,
  type Side,
  startServer,
} from "./compat-helpers.js";
import { getFreePort, initializeRequest, streamHeaders } from "./helpers.js";

const SIDES: Side[] = ["ours", "upstream"];

const INTERNAL_ERROR = JSON.stringify({
  error: { code: -32603, message: "Internal Server Error" },
  id: null,
  jsonrpc: "2.0",
});

const rejections: unknown[] = [];
const onUnhandledRejection = (reason: unknown) => rejections.push(reason);

const toClose: (() => Promise<void>)[] = [];

/** Starts a server that afterEach closes. */
const start = async (side: Side, options: Partial<HTTPServerOptions> = {}) => {
  const server = await startServer(side, options);
  toClose.push(server.close);
  return server;
};

/** Closes what `start` started, now, so that close-time hooks have run. */
const closeAll = async () => {
  for (const close of toClose.splice(0).reverse()) {
    await close();
  }
};

/**
 * Waits until `assertion` passes: for what the server does after it has
 * answered (onClose, logging). Generous, so a loaded machine is no failure.
 */
const eventually = (assertion: () => void) =>
  vi.waitFor(assertion, { interval: 10, timeout: 10_000 });

/** A `createServer` and an `onClose` that count their calls. */
const countingHooks = () => {
  const closed: Server[] = [];

  return {
    closed,
    options: {
      createServer: vi.fn(createTestServer),
      onClose: vi.fn(async (server: Server) => {
        closed.push(server);
      }),
    },
  };
};

const postInitialize = (
  url: string,
  headers: Record<string, string> = streamHeaders,
) =>
  request(url, {
    body: initializeRequest(),
    headers,
    method: "POST",
    path: "/mcp",
  });

const expectPong = async (url: string) => {
  const response = await request(url, { path: "/ping" });
  expect(response.status).toBe(200);
  expect(await response.text()).toBe("pong");
};

/** Child-process scenario: upstream serving, one raw request sent to it. */
const rawRequestToUpstream = (raw: string) => `
  await startHTTPServer({ createServer, host: "127.0.0.1", port });
  const socket = net.connect(port, "127.0.0.1", () => socket.write(${JSON.stringify(raw)}));
  socket.on("data", (data) => {
    console.log("answered " + data.toString().split("\\r\\n")[0]);
    process.exit(0);
  });
`;

beforeAll(() => {
  process.on("unhandledRejection", onUnhandledRejection);
});

afterAll(() => {
  process.off("unhandledRejection", onUnhandledRejection);
});

beforeEach(() => {
  // The servers log what they answer; tests that care spy on it themselves.
  for (const method of ["error", "log", "warn"] as const) {
    vi.spyOn(console, method).mockImplementation(() => {});
  }
});

afterEach(async () => {
  await closeAll();
  vi.restoreAllMocks();
  expect(rejections.splice(0)).toEqual([]);
});

describe("malformed request targets", () => {
  it.each([
    ["GET", "//"],
    ["POST", "//"],
    ["DELETE", "//"],
    ["GET", "http://["],
  ])(
    "%s %s → 400 and the server keeps serving (upstream dies)",
    async (method, target) => {
      const raw = `${method} ${target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n`;

      const ours = await start("ours");
      const answer = await sendRaw(ours.port, raw);
      expect(rawStatus(answer)).toBe(400);
      expect(answer).toMatch(/\r\n\r\n(b\r\n)?Bad Request/);
      await expectPong(ours.url);

      // Upstream: `new URL` throws inside the request handler, the rejection
      // is unhandled, and the process exits before answering.
      const upstream = await runUpstreamChild(rawRequestToUpstream(raw));
      expect(upstream.stdout).not.toContain("answered");
      expect(upstream.code).toBe(1);
      expect(upstream.stderr).toContain("Invalid URL");
    },
  );
});

describe("an upload the client aborts", () => {
  it("settles the request handler; createServer is never called for it", async () => {
    const handlingRequest = "[mcp-proxy] error handling request";

    for (const side of SIDES) {
      let requestStarted!: () => void;
      const started = new Promise<void>(
        (resolve) => (requestStarted = resolve),
      );
      const authenticate = vi.fn(async () => true);
      const { options } = countingHooks();
      const server = await start(side, {
        ...options,
        authenticate,
        // The CORS origin check is the first thing the handler does: a hook
        // that says the request has reached the server.
        cors: {
          origin: () => {
            requestStarted();
            return true;
          },
        },
        stateless: true,
      });

      const socket = connect(server.port, "127.0.0.1");
      socket.on("error", () => {});
      socket.write(
        "POST /mcp HTTP/1.1\r\nHost: localhost\r\nOrigin: https://app.example\r\n" +
          "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n" +
          '{"jsonrpc":"2.0",',
      );
      await started;
      socket.destroy();

      if (side === "ours") {
        // Our body reader rejects on abort: the handler ends in its catch.
        await eventually(() =>
          // Logged by kind (its message could quote the request).
          expect(console.error).toHaveBeenCalledWith(
            handlingRequest,
            expect.any(String),
          ),
        );
      }

      const next = await postInitialize(server.url);
      expect(next.status).toBe(200);
      await next.text();
      // Ours authenticates on the headers, before the body is read.
      expect(authenticate).toHaveBeenCalledTimes(side === "ours" ? 2 : 1);
      expect(options.createServer).toHaveBeenCalledTimes(1);
    }

    // Upstream's body reader listens for neither `error` nor `close`: its
    // handler never settles, so it never gets as far as logging (only ours
    // logged, once).
    expect(
      vi
        .mocked(console.error)
        .mock.calls.filter(([message]) => message === handlingRequest),
    ).toHaveLength(1);
  });
});

describe("hooks that throw", () => {
  it("onConnect throwing on GET /sse ends the stream; the server lives (upstream dies)", async () => {
    const onConnect = async () => {
      throw new Error("onConnect failed");
    };

    const ours = await start("ours", { onConnect });
    const response = await request(ours.url, { path: "/sse" });
    expect(response.status).toBe(200);
    // The stream ends after the events sent before onConnect threw.
    expect(await response.text()).toContain("event: endpoint");
    await expectPong(ours.url);

    // Upstream writes a 500 head after the stream's head: ERR_HTTP_HEADERS_SENT.
    const upstream = await runUpstreamChild(`
      await startHTTPServer({
        createServer,
        host: "127.0.0.1",
        onConnect: async () => { throw new Error("onConnect failed"); },
        port,
      });
      const response = await fetch("http://127.0.0.1:" + port + "/sse");
      await response.text();
      console.log("stream ended");
      process.exit(0);
    `);
    expect(upstream.stdout).not.toContain("stream ended");
    expect(upstream.code).toBe(1);
    expect(upstream.stderr).toContain("ERR_HTTP_HEADERS_SENT");
  });

  it("onConnect throwing on a stateless POST gives 500 JSON and still closes the server (upstream: never)", async () => {
    for (const side of SIDES) {
      const { closed, options } = countingHooks();
      const server = await start(side, {
        ...options,
        onConnect: async () => {
          throw new Error("onConnect failed");
        },
        stateless: true,
      });

      const response = await postInitialize(server.url);
      expect(response.status).toBe(500);
      expect(response.headers.get("content-type")).toBe("application/json");
      expect(await response.text()).toBe(INTERNAL_ERROR);
      await expectPong(server.url);

      if (side === "ours") {
        await eventually(() => expect(closed).toHaveLength(1));
      }
      await closeAll();
      expect(closed).toHaveLength(side === "ours" ? 1 : 0);
    }
  });

  it("onUnhandledRequest throwing gives 500 JSON; the server lives (upstream dies)", async () => {
    const ours = await start("ours", {
      onUnhandledRequest: async () => {
        throw new Error("handler failed");
      },
    });
    const response = await request(ours.url, { path: "/health" });
    expect(response.status).toBe(500);
    expect(await response.text()).toBe(INTERNAL_ERROR);
    await expectPong(ours.url);

    const upstream = await runUpstreamChild(`
      await startHTTPServer({
        createServer,
        host: "127.0.0.1",
        onUnhandledRequest: async () => { throw new Error("handler failed"); },
        port,
      });
      await fetch("http://127.0.0.1:" + port + "/health");
      console.log("answered");
      process.exit(0);
    `);
    expect(upstream.stdout).not.toContain("answered");
    expect(upstream.code).toBe(1);
    expect(upstream.stderr).toContain("handler failed");
  });

  it("onUnhandledRequest throwing after writing its head ends the response (upstream dies)", async () => {
    const ours = await start("ours", {
      onUnhandledRequest: async (_req, res) => {
        res.writeHead(200, { "Content-Type": "text/plain" });
        res.write("partial");
        throw new Error("handler failed");
      },
    });
    const response = await request(ours.url, { path: "/health" });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("partial");
    await expectPong(ours.url);

    const upstream = await runUpstreamChild(`
      await startHTTPServer({
        createServer,
        host: "127.0.0.1",
        onUnhandledRequest: async (_req, res) => {
          res.writeHead(200, { "Content-Type": "text/plain" });
          res.write("partial");
          throw new Error("handler failed");
        },
        port,
      });
      const response = await fetch("http://127.0.0.1:" + port + "/health");
      await response.text();
      console.log("answered");
      process.exit(0);
    `);
    expect(upstream.stdout).not.toContain("answered");
    expect(upstream.code).toBe(1);
  });

  it("onClose throwing on DELETE still answers 200; the server lives (upstream dies)", async () => {
    const ours = await start("ours", {
      onClose: async () => {
        throw new Error("onClose failed");
      },
    });
    const sessionId = await initializeSession(ours.url);
    const response = await request(ours.url, {
      headers: { "Mcp-Session-Id": sessionId },
      method: "DELETE",
      path: "/mcp",
    });
    expect(response.status).toBe(200);
    await eventually(() =>
      // Logged by kind, not by message (see test/secrets.test.ts).
      expect(console.error).toHaveBeenCalledWith(
        expect.stringContaining("onClose"),
        "Error",
      ),
    );
    await expectPong(ours.url);

    // Upstream's transport onclose handler is async and unguarded: its
    // rejection is unhandled.
    const upstream = await runUpstreamChild(`
      await startHTTPServer({
        createServer,
        host: "127.0.0.1",
        onClose: async () => { throw new Error("onClose failed"); },
        port,
      });
      const url = "http://127.0.0.1:" + port + "/mcp";
      const initialize = await fetch(url, {
        body: JSON.stringify(${JSON.stringify(initializeRequest())}),
        headers: ${JSON.stringify(streamHeaders)},
        method: "POST",
      });
      await initialize.text();
      await fetch(url, {
        headers: { "Mcp-Session-Id": initialize.headers.get("mcp-session-id") },
        method: "DELETE",
      });
      await fetch("http://127.0.0.1:" + port + "/ping");
      console.log("still serving");
      process.exit(0);
    `);
    expect(upstream.stdout).not.toContain("still serving");
    expect(upstream.code).toBe(1);
    expect(upstream.stderr).toContain("onClose failed");
  });
});

describe("listen", () => {
  it("rejects when the port is busy (upstream: uncaught exception)", async () => {
    const port = await getFreePort();
    const blocker = createNetServer();
    await new Promise<void>((resolve) =>
      blocker.listen(port, "127.0.0.1", resolve),
    );

    try {
      await expect(
        startHTTPServer({
          createServer: createTestServer,
          host: "127.0.0.1",
          port,
        }),
      ).rejects.toMatchObject({ code: "EADDRINUSE" });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }

    const upstream = await runUpstreamChild(`
      const blocker = net.createServer();
      await new Promise((resolve) => blocker.listen(port, "127.0.0.1", resolve));
      startHTTPServer({ createServer, host: "127.0.0.1", port }).then(
        () => console.log("resolved"),
        (error) => console.log("rejected " + error.code),
      );
    `);
    expect(upstream.stdout).not.toMatch(/resolved|rejected/);
    expect(upstream.code).toBe(1);
    expect(upstream.stderr).toContain("EADDRINUSE");
  });
});

describe("onClose", () => {
  it("runs once when a stateful session is deleted (upstream: twice)", async () => {
    for (const side of SIDES) {
      const { closed, options } = countingHooks();
      const server = await start(side, options);

      const sessionId = await initializeSession(server.url);
      const response = await request(server.url, {
        headers: { "Mcp-Session-Id": sessionId },
        method: "DELETE",
        path: "/mcp",
      });
      expect(response.status).toBe(200);

      const expected = side === "ours" ? 1 : 2;
      await eventually(() => expect(closed).toHaveLength(expected));
      await closeAll();
      expect(closed).toHaveLength(expected);
      // Both calls are for the one session's server.
      expect(new Set(closed).size).toBe(1);
    }
  });

  it("runs once per stateless request (upstream: never)", async () => {
    for (const side of SIDES) {
      const { closed, options } = countingHooks();
      const server = await start(side, { ...options, stateless: true });

      for (let i = 0; i < 3; i++) {
        const response = await postInitialize(server.url);
        expect(response.status).toBe(200);
        await response.text();
      }

      if (side === "ours") {
        await eventually(() => expect(closed).toHaveLength(3));
      }
      await closeAll();
      expect(closed).toHaveLength(side === "ours" ? 3 : 0);
      expect(options.createServer).toHaveBeenCalledTimes(3);
    }
  });

  it("runs once, and the server is closed, when a stateful initialize is refused (upstream: leaked)", async () => {
    for (const side of SIDES) {
      const { closed, options } = countingHooks();
      const servers: Server[] = [];
      const server = await start(side, {
        ...options,
        createServer: async () => {
          const created = await createTestServer();
          vi.spyOn(created, "close");
          servers.push(created);
          return created;
        },
      });

      // No Accept header: the SDK answers 406 and opens no session.
      const response = await postInitialize(server.url, {
        "Content-Type": "application/json",
      });
      expect(response.status).toBe(406);
      expect(response.headers.has("mcp-session-id")).toBe(false);
      await response.text();

      if (side === "ours") {
        await eventually(() => expect(closed).toHaveLength(1));
      }
      await closeAll();
      expect(servers).toHaveLength(1);
      expect(closed).toHaveLength(side === "ours" ? 1 : 0);
      expect(servers[0].close).toHaveBeenCalledTimes(side === "ours" ? 1 : 0);
    }
  });
});

describe("API key", () => {
  const rawWithKeys = (keys: (Buffer | string)[]) =>
    Buffer.concat([
      Buffer.from("GET /mcp HTTP/1.1\r\nHost: localhost\r\n"),
      ...keys.map((key) =>
        Buffer.concat([
          Buffer.from("X-API-Key: "),
          Buffer.from(key),
          Buffer.from("\r\n"),
        ]),
      ),
      Buffer.from("\r\n"),
    ]);

  // 400 = the key was accepted and the request reached the stream endpoint
  // (GET without a session); 401 = refused.
  it.each([
    { apiKey: "secret", keys: [], status: 401 },
    { apiKey: "secret", keys: [""], status: 401 },
    { apiKey: "secret", keys: ["secret"], status: 400 },
    { apiKey: "secret", keys: ["  secret  "], status: 400 },
    { apiKey: "secret", keys: ["secre"], status: 401 },
    { apiKey: "secret", keys: ["secrets"], status: 401 },
    { apiKey: "secret", keys: ["SECRET"], status: 401 },
    { apiKey: "secret", keys: ["x".repeat(4096)], status: 401 },
    { apiKey: "secret", keys: ["secret", "secret"], status: 401 },
    // Node reads header bytes as Latin-1: a Latin-1 key sent as Latin-1
    // bytes matches, the same key sent as UTF-8 does not.
    { apiKey: "clé", keys: [Buffer.from("clé", "latin1")], status: 400 },
    { apiKey: "clé", keys: [Buffer.from("clé", "utf8")], status: 401 },
    { apiKey: "clé", keys: [Buffer.from("cle", "latin1")], status: 401 },
    // A key beyond Latin-1 can never arrive as itself.
    { apiKey: "ключ", keys: [Buffer.from("ключ", "utf8")], status: 401 },
  ])(
    "key $apiKey, sent $keys → $status, like upstream",
    async ({ apiKey, keys, status }) => {
      for (const side of SIDES) {
        const server = await start(side, { apiKey });
        const answer = await sendRaw(server.port, rawWithKeys(keys));
        expect(rawStatus(answer), side).toBe(status);
      }
    },
  );
});

describe("sessions with the SDK client", () => {
  it("streamable HTTP: list tools, terminate the session; onClose runs once", async () => {
    const { closed, options } = countingHooks();
    const server = await start("ours", options);
    const transport = new StreamableHTTPClientTransport(
      new URL(`${server.url}/mcp`),
    );
    const client = new Client({ name: "test-client", version: "1.0.0" });

    await client.connect(transport);
    const sessionId = transport.sessionId!;
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await client.listTools()).tools.map((tool) => tool.name)).toEqual([
      "ping",
    ]);

    await transport.terminateSession();
    await eventually(() => expect(closed).toHaveLength(1));

    const gone = await request(server.url, {
      headers: { Accept: "text/event-stream", "Mcp-Session-Id": sessionId },
      path: "/mcp",
    });
    expect(gone.status).toBe(400);
    expect(await gone.text()).toBe("No active transport");

    await client.close();
    await closeAll();
    expect(closed).toHaveLength(1);
    expect(options.createServer).toHaveBeenCalledTimes(1);
  });

  it("SSE: list tools, disconnect; onClose runs once", async () => {
    const { closed, options } = countingHooks();
    const server = await start("ours", options);
    const client = new Client({ name: "test-client", version: "1.0.0" });

    await client.connect(new SSEClientTransport(new URL(`${server.url}/sse`)));
    expect((await client.listTools()).tools.map((tool) => tool.name)).toEqual([
      "ping",
    ]);

    await client.close();
    await eventually(() => expect(closed).toHaveLength(1));

    const gone = await request(server.url, {
      body: initializeRequest(),
      headers: { "Content-Type": "application/json" },
      method: "POST",
      path: "/messages?sessionId=unknown",
    });
    expect(gone.status).toBe(400);

    await closeAll();
    expect(closed).toHaveLength(1);
  });

  it("close() ends live sessions of both kinds and runs onClose for each", async () => {
    const { closed, options } = countingHooks();
    const server = await start("ours", options);

    await initializeSession(server.url);
    const stream = await openEventStream(server.url, { path: "/sse" });
    expect(stream.response.statusCode).toBe(200);

    await closeAll();
    // The event stream ends: asking for more events than it sent returns.
    expect(await stream.events(10)).toContain("sse/connection");
    await eventually(() => expect(closed).toHaveLength(2));
    stream.close();
  });
});

describe("session ids named like Object.prototype members", () => {
  const unknownStreamSession = JSON.stringify({
    error: { code: -32001, message: "Session not found" },
    id: null,
    jsonrpc: "2.0",
  });

  it.each(["__proto__", "constructor", "toString", "hasOwnProperty"])(
    "%s is an unknown session on every endpoint",
    async (sessionId) => {
      const { url } = await start("ours");
      const withSession = { ...streamHeaders, "Mcp-Session-Id": sessionId };

      const answers = await Promise.all([
        request(url, {
          body: { id: 1, jsonrpc: "2.0", method: "tools/list" },
          headers: withSession,
          method: "POST",
          path: "/mcp",
        }),
        request(url, { headers: withSession, path: "/mcp" }),
        request(url, { headers: withSession, method: "DELETE", path: "/mcp" }),
        request(url, {
          body: { id: 1, jsonrpc: "2.0", method: "tools/list" },
          headers: { "Content-Type": "application/json" },
          method: "POST",
          path: `/messages?sessionId=${sessionId}`,
        }),
      ]);

      expect(
        await Promise.all(
          answers.map(async (answer) => [answer.status, await answer.text()]),
        ),
      ).toEqual([
        [404, unknownStreamSession],
        [400, "No active transport"],
        [400, "No active transport"],
        [400, "No active transport"],
      ]);
    },
  );
});

describe("a server that waits inside connect for the client's capabilities", () => {
  /**
   * Like FastMCP's sessions: connect resolves once the client's initialize
   * has arrived, or gives up after a second without its capabilities.
   */
  class WaitingServer extends Server {
    capabilitiesAtConnect?: unknown;

    async connect(transport: Parameters<Server["connect"]>[0]) {
      await super.connect(transport);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        this.oninitialized = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.capabilitiesAtConnect = this.getClientCapabilities();
    }
  }

  it.each([
    { name: "stateful", stateless: false },
    { name: "stateless", stateless: true },
  ])(
    "$name: connect sees the capabilities of the initialize it waits for",
    async ({ stateless }) => {
      const servers: WaitingServer[] = [];
      const { url } = await start("ours", {
        createServer: async () => {
          const server = new WaitingServer(
            { name: "waiting", version: "1.0.0" },
            { capabilities: { tools: {} } },
          );
          servers.push(server);
          return server;
        },
        stateless,
      });

      const client = new Client(
        { name: "roots-client", version: "1.0.0" },
        { capabilities: { roots: {} } },
      );
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${url}/mcp`)),
      );
      await client.close();

      await eventually(() => {
        expect(servers[0]?.capabilitiesAtConnect).toEqual({ roots: {} });
      });
    },
  );
});
