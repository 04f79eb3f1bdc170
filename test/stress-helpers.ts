/**
 * Load scenarios shared by the reliability tests (test/concurrency,
 * test/leaks) and the soak script (bench/soak.ts), which runs them at 10-100x
 * the counts CI uses. Every figure is a count: nothing here measures time.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { spawn } from "node:child_process";
import http from "node:http";
import { setImmediate as nextTurn } from "node:timers/promises";
import { fileURLToPath } from "node:url";

import { startHTTPServer } from "../src/startHTTPServer.js";

export type Answer = {
  body: string;
  headers: http.IncomingHttpHeaders;
  status: number;
};

/** Headers a streamable HTTP client sends on a POST. */
export const STREAM_HEADERS = {
  Accept: "application/json, text/event-stream",
  "Content-Type": "application/json",
};

export const initializeMessage = (id: number | string) => ({
  id,
  jsonrpc: "2.0",
  method: "initialize",
  params: {
    capabilities: {},
    clientInfo: { name: "stress", version: "1.0" },
    protocolVersion: "2025-03-26",
  },
});

export const echoCall = (id: number | string, text: string) => ({
  id,
  jsonrpc: "2.0",
  method: "tools/call",
  params: { arguments: { text }, name: "echo" },
});

/**
 * Server options. The SDK (1.22 and later) builds an Ajv instance per
 * `Server` unless given a validator; this server validates no JSON schema,
 * and thousands of Ajv instances would make the scenarios measure Ajv.
 */
const serverOptions = {
  capabilities: { tools: {} },
  jsonSchemaValidator: {
    getValidator: () => (data: unknown) => ({
      data,
      errorMessage: undefined,
      valid: true,
    }),
  },
} as ConstructorParameters<typeof Server>[1];

/** An MCP server with one tool, `echo`, that answers its `text` argument. */
export const createEchoServer = async () => {
  const server = new Server({ name: "echo", version: "1.0.0" }, serverOptions);

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: [
      {
        inputSchema: {
          properties: { text: { type: "string" } },
          type: "object",
        },
        name: "echo",
      },
    ],
  }));

  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    // A turn of the event loop, so that concurrent calls interleave.
    await nextTurn();

    return {
      content: [{ text: String(request.params.arguments?.text), type: "text" }],
    };
  });

  return server;
};

/** Runs `task(0)` … `task(count - 1)`, at most `concurrency` at a time. */
export const runPool = async <T>(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<T>,
): Promise<T[]> => {
  const results: T[] = new Array<T>(count);
  let next = 0;

  const worker = async () => {
    while (next < count) {
      const index = next++;
      results[index] = await task(index);
    }
  };

  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, worker),
  );

  return results;
};

/** Sends one request with node:http and reads the whole answer. */
export const send = (
  port: number,
  {
    agent,
    body,
    headers = {},
    method = "POST",
    path = "/mcp",
  }: {
    agent?: http.Agent;
    body?: unknown;
    headers?: Record<string, string>;
    method?: string;
    path?: string;
  },
) =>
  new Promise<Answer>((resolve, reject) => {
    const payload =
      body === undefined
        ? undefined
        : typeof body === "string"
          ? body
          : JSON.stringify(body);

    const outgoing = http.request({
      agent: agent ?? false,
      headers,
      host: "127.0.0.1",
      method,
      path,
      port,
    });

    outgoing.on("error", reject);
    outgoing.on("response", (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("error", reject);
      response.on("end", () =>
        resolve({
          body: text,
          headers: response.headers,
          status: response.statusCode ?? 0,
        }),
      );
    });
    outgoing.end(payload);
  });

/** The JSON-RPC message of an answer: the JSON body, or the first SSE event's data. */
export const readMessage = (answer: Answer): unknown => {
  const data = /^data: (.*)$/m.exec(answer.body);

  return JSON.parse(data ? data[1] : answer.body);
};

/** How many TCP sockets (client and server side) this process holds. */
export const countSockets = () =>
  process
    .getActiveResourcesInfo()
    .filter((resource) => resource === "TCPSocketWrap").length;

/** Resolves once `condition` holds, checking every turn of the event loop. */
export const until = async (condition: () => boolean, turns = 100_000) => {
  for (let turn = 0; turn < turns; turn++) {
    if (condition()) {
      return;
    }

    await new Promise((resolve) => setTimeout(resolve, 5));
  }

  throw new Error("condition never held");
};

/** Collects garbage as far as `global.gc` (node --expose-gc) can. */
export const collectGarbage = async () => {
  const gc = (globalThis as { gc?: () => void }).gc;

  for (let round = 0; round < 6; round++) {
    gc?.();
    // FinalizationRegistry callbacks and WeakRef clearing need turns.
    await new Promise((resolve) => setTimeout(resolve, 10));
  }

  return gc !== undefined;
};

/**
 * Servers `createServer` made and transports they were connected to, held
 * weakly: after the sessions close and garbage is collected, none should be
 * left.
 */
export const createTracker = () => {
  const servers: WeakRef<object>[] = [];
  const transports: WeakRef<object>[] = [];

  return {
    alive: () => ({
      servers: servers.filter((ref) => ref.deref() !== undefined).length,
      transports: transports.filter((ref) => ref.deref() !== undefined).length,
    }),
    /** Drops the WeakRefs themselves, so they do not count as growth. */
    clear: () => {
      servers.length = 0;
      transports.length = 0;
    },
    track: (server: Server) => {
      servers.push(new WeakRef(server));

      if (server.transport) {
        transports.push(new WeakRef(server.transport));
      }
    },
  };
};

export type ScenarioFigures = {
  /** 5xx answers, and answers that were not what the scenario expected. */
  failures: number;
  heapAfter?: number;
  heapBefore?: number;
  onClose: number;
  onConnect: number;
  requests: number;
  rss?: number;
  serversAlive?: number;
  /** Sessions that still answered after they were closed. */
  sessionsStillOpen: number;
  socketsAfter: number;
  socketsBefore: number;
  statuses: Record<number, number>;
  transportsAlive?: number;
};

const heapUsed = () => process.memoryUsage().heapUsed;

/**
 * Starts a server with counting hooks, runs `body` against it, closes every
 * client socket, and reports what is left.
 */
const runScenario = async (
  options: Partial<Parameters<typeof startHTTPServer<Server>>[0]>,
  body: (context: {
    agent: http.Agent;
    closed: () => number;
    port: number;
    record: (answer: Answer, ok: boolean) => void;
  }) => Promise<{ sessionsStillOpen?: number }>,
  { concurrency }: { concurrency: number },
): Promise<ScenarioFigures> => {
  const tracker = createTracker();
  let onConnect = 0;
  let onClose = 0;
  let requests = 0;
  let failures = 0;
  const statuses: Record<number, number> = {};

  const gcAvailable = await collectGarbage();
  const socketsBefore = countSockets();
  const heapBefore = heapUsed();

  const port = await freePort();
  const server = await startHTTPServer<Server>({
    createServer: createEchoServer,
    host: "127.0.0.1",
    onClose: async () => {
      onClose++;
    },
    onConnect: async (connected) => {
      onConnect++;
      tracker.track(connected);
    },
    port,
    ...options,
  });

  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });

  let sessionsStillOpen = 0;

  try {
    ({ sessionsStillOpen = 0 } = await body({
      agent,
      closed: () => onClose,
      port,
      record: (answer, ok) => {
        requests++;
        statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;

        if (!ok || answer.status >= 500) {
          failures++;
        }
      },
    }));
  } finally {
    agent.destroy();
  }

  await until(() => onClose === onConnect && countSockets() <= socketsBefore);
  await server.close();
  await until(() => countSockets() <= socketsBefore);

  await collectGarbage();
  const alive = tracker.alive();
  tracker.clear();
  await collectGarbage();

  return {
    failures,
    onClose,
    onConnect,
    requests,
    sessionsStillOpen,
    socketsAfter: countSockets(),
    socketsBefore,
    statuses,
    ...(gcAvailable
      ? {
          heapAfter: heapUsed(),
          heapBefore,
          rss: process.memoryUsage().rss,
          serversAlive: alive.servers,
          transportsAlive: alive.transports,
        }
      : {}),
  };
};

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = http.createServer();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });

/**
 * `count` stateless requests, `concurrency` at a time: `tools/call echo`
 * with a text of its own each, answered as JSON. Every answer must be 200
 * and carry its own text.
 */
export const statelessScenario = ({
  concurrency = 50,
  count,
}: {
  concurrency?: number;
  count: number;
}) =>
  runScenario(
    { enableJsonResponse: true, stateless: true },
    async ({ agent, port, record }) => {
      await runPool(count, concurrency, async (index) => {
        const text = `stateless-${index}`;
        const answer = await send(port, {
          agent,
          body: echoCall(index, text),
          headers: STREAM_HEADERS,
        });

        record(
          answer,
          answer.status === 200 && answer.body.includes(`"text":"${text}"`),
        );
      });

      return {};
    },
    { concurrency },
  );

/** Opens a GET event stream with its own connection. */
const openStream = (
  port: number,
  path: string,
  headers: Record<string, string>,
) =>
  new Promise<{
    close: () => Promise<void>;
    status: number;
    waitFor: (pattern: RegExp) => Promise<RegExpExecArray>;
  }>((resolve, reject) => {
    const outgoing = http.get({
      agent: false,
      headers,
      host: "127.0.0.1",
      path,
      port,
    });

    outgoing.on("error", reject);
    outgoing.on("response", (response) => {
      let text = "";
      let ended = false;
      const waiting = new Set<() => void>();
      const wake = () => waiting.forEach((notify) => notify());

      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        text += chunk;
        wake();
      });
      response.on("error", () => {});
      response.on("close", () => {
        ended = true;
        wake();
      });

      resolve({
        close: () =>
          new Promise<void>((closed) => {
            outgoing.once("close", () => closed());
            outgoing.destroy();
          }),
        status: response.statusCode ?? 0,
        waitFor: async (pattern) => {
          for (;;) {
            const match = pattern.exec(text);

            if (match) {
              return match;
            }

            if (ended) {
              throw new Error(`stream ended without ${pattern}`);
            }

            await new Promise<void>((notify) => {
              const once = () => {
                waiting.delete(once);
                notify();
              };
              waiting.add(once);
            });
          }
        },
      });
    });
  });

/**
 * `sessions` stateful sessions, `concurrency` at a time. Each initializes,
 * confirms, calls `echo`; a third also open and drop a GET event stream.
 * Even sessions end with DELETE; odd ones are abandoned and must be closed
 * by `sessionIdleTimeout`. Afterwards every session id must be unknown.
 */
export const statefulScenario = ({
  concurrency = 50,
  sessionIdleTimeout = 3000,
  sessions,
}: {
  concurrency?: number;
  /** Long enough that no gap between a session's requests reaches it. */
  sessionIdleTimeout?: number;
  sessions: number;
}) =>
  runScenario(
    { sessionIdleTimeout },
    async ({ agent, closed, port, record }) => {
      const ids = await runPool(sessions, concurrency, async (index) => {
        const initialize = await send(port, {
          agent,
          body: initializeMessage(index),
          headers: STREAM_HEADERS,
        });
        const sessionId = String(initialize.headers["mcp-session-id"]);
        record(initialize, initialize.status === 200);

        const headers = {
          ...STREAM_HEADERS,
          "Mcp-Protocol-Version": "2025-03-26",
          "Mcp-Session-Id": sessionId,
        };

        const initialized = await send(port, {
          agent,
          body: { jsonrpc: "2.0", method: "notifications/initialized" },
          headers,
        });
        record(initialized, initialized.status === 202);

        const text = `session-${index}`;
        const call = await send(port, {
          agent,
          body: echoCall(index, text),
          headers,
        });
        record(call, call.status === 200 && call.body.includes(text));

        if (index % 3 === 0) {
          // A standalone event stream, opened then dropped by the client.
          const stream = await openStream(port, "/mcp", {
            ...headers,
            Accept: "text/event-stream",
          });
          record(
            { body: "", headers: {}, status: stream.status },
            stream.status === 200,
          );
          await stream.close();
        }

        if (index % 2 === 0) {
          const deleted = await send(port, {
            agent,
            headers,
            method: "DELETE",
          });
          record(deleted, deleted.status === 200);
        }

        return sessionId;
      });

      // Abandoned sessions close once idle: wait for that, by count.
      await until(() => closed() === ids.length);

      let sessionsStillOpen = 0;

      await runPool(ids.length, concurrency, async (index) => {
        const answer = await send(port, {
          agent,
          body: echoCall(index, "after close"),
          headers: { ...STREAM_HEADERS, "Mcp-Session-Id": ids[index] },
        });

        if (answer.status !== 404) {
          sessionsStillOpen++;
        }
      });

      return { sessionsStillOpen };
    },
    { concurrency },
  );

/**
 * `sessions` SSE sessions (`GET /sse`), `concurrency` at a time: each calls
 * `echo` through `POST /messages`, reads its result off the stream, and
 * hangs up. Afterwards every session id must be unknown.
 */
export const sseScenario = ({
  concurrency = 50,
  sessions,
}: {
  concurrency?: number;
  sessions: number;
}) =>
  runScenario(
    {},
    async ({ agent, closed, port, record }) => {
      const paths = await runPool(sessions, concurrency, async (index) => {
        const stream = await openStream(port, "/sse", {
          Accept: "text/event-stream",
        });
        record(
          { body: "", headers: {}, status: stream.status },
          stream.status === 200,
        );

        const [, path] = await stream.waitFor(
          /^data: (\/messages\?sessionId=\S+)$/m,
        );
        const text = `sse-${index}`;
        const posted = await send(port, {
          agent,
          body: echoCall(index, text),
          headers: { "Content-Type": "application/json" },
          path,
        });
        record(posted, posted.status === 202);

        await stream.waitFor(new RegExp(`"text":"${text}"`));
        await stream.close();

        return path;
      });

      await until(() => closed() === paths.length);

      let sessionsStillOpen = 0;

      await runPool(paths.length, concurrency, async (index) => {
        const answer = await send(port, {
          agent,
          body: echoCall(index, "after close"),
          headers: { "Content-Type": "application/json" },
          path: paths[index],
        });

        if (answer.status !== 400 || answer.body !== "No active transport") {
          sessionsStillOpen++;
        }
      });

      return { sessionsStillOpen };
    },
    { concurrency },
  );

/** The challenge request `index` of `authScenario` must get back. */
export const challengeFor = (index: number, nonce: string) =>
  index % 8 === 6
    ? `Bearer error="insufficient_scope", scope="${nonce}"`
    : `Bearer error="invalid_token", error_description="${nonce}"`;

/**
 * The `authenticate` of `authScenario`: passes odd `X-Index`es; fails even
 * ones with a challenge made from the request's own `X-Nonce`, returned,
 * thrown as an Error, returned as a 403, or thrown as a Response.
 */
export const authenticateByIndex = async (req: http.IncomingMessage) => {
  const nonce = String(req.headers["x-nonce"]);
  const index = Number(req.headers["x-index"]);

  // Let other requests' callbacks run in between.
  await nextTurn();

  if (index % 2 === 1) {
    return { authenticated: true };
  }

  const wwwAuthenticate = challengeFor(index, nonce);

  switch (index % 8) {
    case 0:
      return {
        authenticated: false,
        error: `denied ${nonce}`,
        wwwAuthenticate,
      };
    case 2:
      throw Object.assign(new Error(`denied ${nonce}`), {
        wwwAuthenticate,
      });
    case 4:
      throw new Response(
        JSON.stringify({
          error: { code: -32000, message: `denied ${nonce}` },
          id: index,
          jsonrpc: "2.0",
        }),
        {
          headers: {
            "Content-Type": "application/json",
            "WWW-Authenticate": wwwAuthenticate,
          },
          status: 401,
        },
      );
    default:
      return {
        authenticated: false,
        error: `denied ${nonce}`,
        statusCode: 403,
        wwwAuthenticate,
      };
  }
};

/**
 * `count` concurrent stateless requests with `authenticate`: even ones fail
 * it, each with a challenge made from its own `X-Nonce` header (returned,
 * thrown as an Error, returned as a 403, or thrown as a Response), odd ones
 * pass and call `echo` with their nonce. Every answer must carry its own
 * request's challenge, id and text; `failures` counts those that do not.
 */
export const authScenario = ({
  concurrency = 100,
  count,
}: {
  concurrency?: number;
  count: number;
}) =>
  runScenario(
    {
      authenticate: authenticateByIndex,
      enableJsonResponse: true,
      stateless: true,
    },
    async ({ agent, port, record }) => {
      await runPool(count, concurrency, async (index) => {
        const nonce = `n${index}-${Math.random().toString(36).slice(2)}`;
        const answer = await send(port, {
          agent,
          body: echoCall(index, nonce),
          headers: {
            ...STREAM_HEADERS,
            "X-Index": String(index),
            "X-Nonce": nonce,
          },
        });

        record(answer, isOwnAnswer(index, nonce, answer));
      });

      return {};
    },
    { concurrency },
  );

/** Whether `answer` is the one request `index` with `nonce` must get. */
export const isOwnAnswer = (index: number, nonce: string, answer: Answer) => {
  let message: unknown;

  try {
    message = JSON.parse(answer.body);
  } catch {
    return false;
  }

  const { error, id, result } = message as {
    error?: { message?: unknown };
    id?: unknown;
    result?: { content?: { text?: unknown }[] };
  };

  if (id !== index) {
    return false;
  }

  if (index % 2 === 1) {
    return answer.status === 200 && result?.content?.[0]?.text === nonce;
  }

  return (
    answer.status === (index % 8 === 6 ? 403 : 401) &&
    answer.headers["www-authenticate"] === challengeFor(index, nonce) &&
    error?.message === `denied ${nonce}`
  );
};

const root = new URL("..", import.meta.url);

/**
 * Runs the built `mcp-proxy` CLI on 127.0.0.1 in front of the test stdio
 * server, with `args` before the command; resolves once it serves.
 */
export const startCli = async (
  args: string[],
  env: Record<string, string> = {},
) => {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      fileURLToPath(new URL("dist/bin/mcp-proxy.js", root)),
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      ...args,
      "--",
      process.execPath,
      "--import",
      "tsx",
      fileURLToPath(new URL("test/fixtures/simple-stdio-server.ts", root)),
    ],
    {
      cwd: root,
      env: {
        ...Object.fromEntries(
          Object.entries(process.env).filter(
            ([name]) => !name.startsWith("MCP_PROXY_"),
          ),
        ),
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );

  let output = "";
  const exited = new Promise<void>((resolve) =>
    child.once("close", () => resolve()),
  );

  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));

  await Promise.race([
    until(() => output.includes("starting server on port")),
    exited.then(() => {
      throw new Error(`mcp-proxy exited:\n${output}`);
    }),
  ]);

  return {
    output: () => output,
    port,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        // SIGTERM: the CLI stops its command before it exits.
        child.kill("SIGTERM");
        const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(killer);
      }
    },
  };
};
