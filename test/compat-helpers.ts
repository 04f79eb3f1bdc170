import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { startHTTPServer as upstreamStartHTTPServer } from "mcp-proxy-upstream";
import { spawn } from "node:child_process";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { connect } from "node:net";

import { startHTTPServer } from "../src/startHTTPServer.js";
import { getFreePort, initializeRequest, streamHeaders } from "./helpers.js";

export type HTTPServerOptions = Omit<
  Parameters<typeof startHTTPServer<Server>>[0],
  "host" | "port"
>;

/** A running server: its base URL, its port and how to stop it. */
export type RunningServer = {
  close: () => Promise<void>;
  port: number;
  url: string;
};

export type Side = "ours" | "upstream";

/** What a differential test compares between the two servers. */
export type Snapshot = {
  body: string;
  headers: Record<string, string>;
  sessionId: boolean;
  status: number;
};

/** An MCP server with one tool, as an app's `createServer` would build it. */
export const createTestServer = async () => {
  const server = new Server(
    { name: "test", version: "1.0.0" },
    { capabilities: { tools: {} } },
  );

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: [{ inputSchema: { type: "object" }, name: "ping" }],
  }));

  return server;
};

const starters = {
  ours: startHTTPServer,
  upstream: upstreamStartHTTPServer,
} satisfies Record<Side, unknown>;

/** Starts our server or upstream's on 127.0.0.1, with `createTestServer` unless told otherwise. */
export const startServer = async (
  side: Side,
  options: Partial<HTTPServerOptions> = {},
): Promise<RunningServer> => {
  const port = await getFreePort();
  const { close } = await starters[side]<Server>({
    createServer: createTestServer,
    ...options,
    host: "127.0.0.1",
    port,
  });

  return { close, port, url: `http://127.0.0.1:${port}` };
};

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** Replaces what differs from run to run: session ids, SSE event ids. */
export const normalize = (text: string) =>
  text.replace(UUID, "<uuid>").replace(/^id: .*$/gm, "id: <event-id>");

// Headers that differ between any two responses, or are compared apart.
const IGNORED_HEADERS = new Set(["date", "keep-alive", "mcp-session-id"]);

const toSnapshot = (
  status: number,
  headerEntries: Iterable<[string, string]>,
  body: string,
): Snapshot => {
  const headers: Record<string, string> = {};
  let sessionId = false;
  for (const [name, value] of headerEntries) {
    sessionId ||= name === "mcp-session-id";
    if (!IGNORED_HEADERS.has(name)) {
      headers[name] = normalize(value);
    }
  }

  return { body: normalize(body), headers, sessionId, status };
};

export type RequestSpec = {
  /** A string is sent as is, anything else as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  method?: string;
  path: string;
};

/** Sends one request with fetch. */
export const request = (
  url: string,
  { body, headers, method = "GET", path }: RequestSpec,
) =>
  fetch(url + path, {
    body:
      body === undefined || typeof body === "string"
        ? body
        : JSON.stringify(body),
    headers,
    method,
  });

/** Sends one request and records the answer. */
export const snapshot = async (url: string, spec: RequestSpec) => {
  const response = await request(url, spec);

  const headers: [string, string][] = [];
  response.headers.forEach((value, name) => headers.push([name, value]));

  return toSnapshot(response.status, headers, await response.text());
};

export type EventStream = {
  /** Hangs up (destroys the socket, so the server sees the client leave). */
  close: () => void;
  /** Resolves with the text of the first `count` events (fewer if it ends). */
  events: (count: number) => Promise<string>;
  response: IncomingMessage;
};

/**
 * Opens an event stream with node:http on a connection of its own: fetch
 * keeps an aborted stream's socket alive for seconds, which delays the
 * server's close().
 */
export const openEventStream = (url: string, spec: RequestSpec) =>
  new Promise<EventStream>((resolve, reject) => {
    const outgoing = httpRequest(url + spec.path, {
      agent: false,
      headers: spec.headers,
      method: spec.method ?? "GET",
    });

    outgoing.on("error", reject);
    outgoing.on("response", (response) => {
      response.setEncoding("utf8");
      let text = "";
      let ended = false;
      const waiting = new Set<() => void>();
      const wake = () => {
        for (const notify of waiting) {
          notify();
        }
        waiting.clear();
      };

      response.on("data", (chunk: string) => {
        text += chunk;
        wake();
      });
      response.on("close", () => {
        ended = true;
        wake();
      });
      response.on("error", () => {});

      const events = async (count: number) => {
        const complete = () => text.split("\n\n").length > count;
        while (!complete() && !ended) {
          await new Promise<void>((notify) => {
            waiting.add(notify);
          });
        }

        return text
          .split("\n\n")
          .slice(0, count)
          .map((event) => `${event}\n\n`)
          .join("");
      };

      resolve({ close: () => outgoing.destroy(), events, response });
    });
    outgoing.end();
  });

/**
 * Opens a session's standalone GET stream, resuming after `lastEventId` when
 * one is given.
 */
export const openSessionStream = (
  url: string,
  sessionId: string,
  lastEventId?: string,
) =>
  openEventStream(url, {
    headers: {
      Accept: "text/event-stream",
      "Mcp-Session-Id": sessionId,
      ...(lastEventId ? { "Last-Event-ID": lastEventId } : {}),
    },
    path: "/mcp",
  });

/**
 * Opens an event stream, records the response with its first `count` events
 * as the body, then hangs up.
 */
export const snapshotEvents = async (
  url: string,
  spec: RequestSpec,
  count: number,
) => {
  const stream = await openEventStream(url, spec);

  try {
    const body = await stream.events(count);
    const { headers, statusCode } = stream.response;

    return toSnapshot(
      statusCode!,
      Object.entries(headers).map(([name, value]) => [name, String(value)]),
      body,
    );
  } finally {
    stream.close();
  }
};

/** Initializes a stateful session; resolves with its id. */
export const initializeSession = async (url: string, path = "/mcp") => {
  const response = await request(url, {
    body: initializeRequest(),
    headers: streamHeaders,
    method: "POST",
    path,
  });
  await response.text();

  const sessionId = response.headers.get("mcp-session-id");
  if (!sessionId) {
    throw new Error(`initialize answered ${response.status} without a session`);
  }

  return sessionId;
};

/**
 * Writes raw bytes to the server (for request targets fetch would
 * normalize); resolves with its first complete answer, or with whatever
 * arrived before the connection closed.
 */
export const sendRaw = (port: number, data: Buffer | string) =>
  new Promise<string>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";

    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      answer += chunk;
      // One complete answer without a body, or with a Content-Length body.
      const end = answer.indexOf("\r\n\r\n");
      if (end !== -1) {
        const length = /content-length: (\d+)/i.exec(answer.slice(0, end));
        if (answer.length >= end + 4 + Number(length?.[1] ?? 0)) {
          socket.end();
        }
      }
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(answer));
    socket.write(data);
  });

/** The status code of a raw HTTP answer, or undefined when there was none. */
export const rawStatus = (answer: string) => {
  const match = /^HTTP\/1\.1 (\d{3})/.exec(answer);

  return match ? Number(match[1]) : undefined;
};

export type ChildResult = {
  code: null | number;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
};

/**
 * Runs, in a fresh Node process started from the repository root (so
 * `mcp-proxy-upstream` resolves), an ES module that has `startHTTPServer`
 * (upstream's), `createServer` (a test MCP server), `net` and a free `port`
 * in scope, followed by `scenario`. For scenarios that crash upstream's
 * process, which must not be the test runner's. Killed after `timeoutMs`,
 * so a hang shows as `signal: "SIGKILL"`.
 */
export const runUpstreamChild = (scenario: string, timeoutMs = 15_000) =>
  new Promise<ChildResult>((resolve, reject) => {
    const source = `
      import { Server } from "@modelcontextprotocol/sdk/server/index.js";
      import { startHTTPServer } from "mcp-proxy-upstream";
      import net from "node:net";

      const createServer = async () =>
        new Server({ name: "test", version: "1.0.0" }, { capabilities: { tools: {} } });
      const port = await new Promise((resolve) => {
        const probe = net.createServer().listen(0, "127.0.0.1", () => {
          const { port } = probe.address();
          probe.close(() => resolve(port));
        });
      });

      ${scenario}
    `;
    const child = spawn(
      process.execPath,
      ["--input-type=module", "-e", source],
      { cwd: new URL("..", import.meta.url), stdio: "pipe" },
    );
    let stdout = "";
    let stderr = "";

    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));

    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);

    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr, stdout });
    });
  });
