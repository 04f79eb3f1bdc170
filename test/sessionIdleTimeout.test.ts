/**
 * `sessionIdleTimeout` (and `--sessionIdleTimeout`): a stateful session no
 * request has used for that long is closed, `onClose` runs once, and its id
 * is forgotten. Upstream 5.10.0 keeps abandoned sessions forever.
 *
 * The clock is faked (setTimeout/clearTimeout only; sockets stay real), so
 * these tests decide with counts what "idle for that long" means, whatever
 * the load on the machine.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { get, type IncomingMessage } from "node:http";
import { setImmediate as turn } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { startHTTPServer } from "../src/startHTTPServer.js";
import { createTestServer } from "./compat-helpers.js";
import { getFreePort } from "./helpers.js";
import {
  echoCall,
  initializeMessage,
  send,
  STREAM_HEADERS,
} from "./stress-helpers.js";

const TIMEOUT = 60_000;

const toClose: (() => Promise<void>)[] = [];

beforeEach(() => {
  for (const method of ["error", "log", "warn"] as const) {
    vi.spyOn(console, method).mockImplementation(() => {});
  }
});

afterEach(async () => {
  vi.useRealTimers();
  for (const close of toClose.splice(0).reverse()) {
    await close();
  }
  vi.restoreAllMocks();
});

/** Lets pending I/O callbacks and ticks run (setImmediate is not faked). */
const settle = async () => {
  for (let index = 0; index < 20; index++) {
    await turn();
  }
};

const start = async (
  options: Partial<Parameters<typeof startHTTPServer<Server>>[0]> = {},
) => {
  const closed: Server[] = [];
  const port = await getFreePort();
  const { close } = await startHTTPServer<Server>({
    createServer: createTestServer,
    host: "127.0.0.1",
    onClose: async (server) => {
      closed.push(server);
    },
    port,
    sessionIdleTimeout: TIMEOUT,
    ...options,
  });
  toClose.push(close);

  const initialize = async () => {
    const answer = await send(port, {
      body: initializeMessage(1),
      headers: STREAM_HEADERS,
    });
    expect(answer.status).toBe(200);
    await settle();

    return String(answer.headers["mcp-session-id"]);
  };

  const sessionHeaders = (sessionId: string) => ({
    ...STREAM_HEADERS,
    "Mcp-Protocol-Version": "2025-03-26",
    "Mcp-Session-Id": sessionId,
  });

  return { close, closed, initialize, port, sessionHeaders };
};

/** Advances the fake clock by `ms` and lets what that started finish. */
const advance = async (ms: number) => {
  vi.advanceTimersByTime(ms);
  await settle();
};

const fakeClock = () =>
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });

describe("sessionIdleTimeout", () => {
  it("closes a session idle for that long: onClose once, its id forgotten", async () => {
    fakeClock();
    const server = await start();
    const sessionId = await server.initialize();

    await advance(TIMEOUT - 1);
    expect(server.closed).toHaveLength(0);

    await advance(1);
    await vi.waitUntil(() => server.closed.length > 0, { interval: 1 });
    expect(server.closed).toHaveLength(1);

    const headers = server.sessionHeaders(sessionId);
    const post = await send(server.port, { body: echoCall(2, "x"), headers });
    expect(post.status).toBe(404);
    const get = await send(server.port, { headers, method: "GET" });
    expect([get.status, get.body]).toEqual([400, "No active transport"]);
    const deleted = await send(server.port, { headers, method: "DELETE" });
    expect([deleted.status, deleted.body]).toEqual([
      400,
      "No active transport",
    ]);

    await server.close();
    toClose.pop();
    expect(server.closed).toHaveLength(1);
  });

  it("every request of the session starts the clock again", async () => {
    fakeClock();
    const server = await start();
    const sessionId = await server.initialize();
    const headers = server.sessionHeaders(sessionId);

    for (let round = 0; round < 5; round++) {
      await advance(TIMEOUT / 2);
      const answer = await send(server.port, {
        body: { jsonrpc: "2.0", method: "notifications/initialized" },
        headers,
      });
      expect(answer.status).toBe(202);
      await settle();
    }

    // 2.5 timeouts since initialize, never one since the last request.
    await advance(TIMEOUT / 2 + 1);
    expect(server.closed).toHaveLength(0);

    await advance(TIMEOUT / 2);
    await vi.waitUntil(() => server.closed.length > 0, { interval: 1 });
    expect(server.closed).toHaveLength(1);
  });

  it("does not run while a request is in flight: an open event stream keeps the session", async () => {
    fakeClock();
    const server = await start();
    const sessionId = await server.initialize();

    const outgoing = get({
      headers: {
        ...server.sessionHeaders(sessionId),
        Accept: "text/event-stream",
      },
      host: "127.0.0.1",
      path: "/mcp",
      port: server.port,
    });
    outgoing.on("error", () => {});
    const stream = await new Promise<IncomingMessage>((resolve) =>
      outgoing.on("response", resolve),
    );
    expect(stream.statusCode).toBe(200);
    stream.on("error", () => {});
    await settle();

    await advance(TIMEOUT * 10);
    expect(server.closed).toHaveLength(0);

    outgoing.destroy();
    await settle();

    await advance(TIMEOUT - 1);
    expect(server.closed).toHaveLength(0);
    await advance(1);
    await vi.waitUntil(() => server.closed.length > 0, { interval: 1 });
    expect(server.closed).toHaveLength(1);
  });

  it("is off by default (as in 5.10.0), and in stateless mode", async () => {
    fakeClock();
    const withDefault = await start({ sessionIdleTimeout: undefined });
    const sessionId = await withDefault.initialize();

    const stateless = await start({ stateless: true });
    const answer = await send(stateless.port, {
      body: echoCall(1, "x"),
      headers: STREAM_HEADERS,
    });
    expect(answer.status).not.toBe(500);

    await advance(2 ** 31);
    expect(withDefault.closed).toHaveLength(0);

    const post = await send(withDefault.port, {
      body: { jsonrpc: "2.0", method: "notifications/initialized" },
      headers: withDefault.sessionHeaders(sessionId),
    });
    expect(post.status).toBe(202);
  });

  it("a timeout beyond Node's timer range (~24.8 days) is clamped, not fired at once", async () => {
    fakeClock();
    const server = await start({ sessionIdleTimeout: 40 * 24 * 3600 * 1000 });
    await server.initialize();

    await advance(2 ** 31 - 2);
    expect(server.closed).toHaveLength(0);
    await advance(1);
    await vi.waitUntil(() => server.closed.length > 0, { interval: 1 });
    expect(server.closed).toHaveLength(1);
  });

  it("its timers never keep the process alive", async () => {
    const timers = () =>
      process
        .getActiveResourcesInfo()
        .filter((resource) => resource === "Timeout").length;

    const server = await start();
    const before = timers();
    await server.initialize();
    await server.initialize();

    expect(timers()).toBe(before);
  });

  it.each([-1, Number.NaN, "1000" as unknown as number])(
    "rejects %s",
    async (sessionIdleTimeout) => {
      await expect(
        startHTTPServer({
          createServer: createTestServer,
          port: await getFreePort(),
          sessionIdleTimeout,
        }),
      ).rejects.toThrow(RangeError);
    },
  );
});
