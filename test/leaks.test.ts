/**
 * No leaks: thousands of stateless requests, hundreds of stateful sessions
 * (half ended by DELETE, half abandoned and closed by `sessionIdleTimeout`)
 * and of SSE sessions leave the session maps, sockets and `onClose` counts
 * where they started, and every server and transport collectable.
 *
 * The scenarios run in a child process started with --expose-gc, through
 * the soak script at CI counts (bench/soak.ts runs them at 10-100x): after
 * `gc()`, WeakRefs to every server and transport must be empty and the heap
 * roughly flat. Counts only; nothing here judges time.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { startHTTPServer as upstreamStartHTTPServer } from "mcp-proxy-upstream";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";

import { getFreePort } from "./helpers.js";
import {
  createEchoServer,
  echoCall,
  runPool,
  type ScenarioFigures,
  send,
  STREAM_HEADERS,
} from "./stress-helpers.js";

const root = fileURLToPath(new URL("..", import.meta.url));

const COUNTS = { sse: 200, stateful: 500, stateless: 5000 };

/** Generous: a leaked server per request would be hundreds of MiB. */
const MAX_HEAP_GROWTH = 16 * 1024 * 1024;

type SoakResult = {
  count: number;
  heapGrowth: number;
  ok: boolean;
  scenario: string;
} & ScenarioFigures;

const runSoak = () =>
  new Promise<{ handles: string[]; results: SoakResult[] }>(
    (resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          "--expose-gc",
          "--import",
          "tsx",
          "bench/soak.ts",
          "--json",
          "--auth",
          "0",
          "--concurrency",
          "50",
          "--maxHeapGrowth",
          String(MAX_HEAP_GROWTH / 1024 / 1024),
          ...Object.entries(COUNTS).flatMap(([name, count]) => [
            `--${name}`,
            String(count),
          ]),
        ],
        { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
      );
      let stdout = "";
      let stderr = "";

      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.on("error", reject);
      child.on("close", () => {
        try {
          resolve(JSON.parse(stdout.trim().split("\n").at(-1) ?? ""));
        } catch {
          reject(new Error(`soak printed no figures:\n${stdout}\n${stderr}`));
        }
      });
    },
  );

describe("no leaks", () => {
  it(`stateless ×${COUNTS.stateless}, stateful ×${COUNTS.stateful}, SSE ×${COUNTS.sse}: nothing left behind`, async () => {
    const { handles, results } = await runSoak();

    expect(results.map(({ scenario }) => scenario)).toEqual([
      "stateless requests",
      "stateful sessions",
      "SSE sessions",
    ]);

    for (const result of results) {
      const expectedConnects =
        result.scenario === "stateless requests"
          ? COUNTS.stateless
          : result.scenario === "stateful sessions"
            ? COUNTS.stateful
            : COUNTS.sse;

      expect({
        onClose: result.onClose,
        // One server per stateless request or session, each closed once.
        onConnect: result.onConnect,
        scenario: result.scenario,
        // Every server and transport (with its event store) collected.
        serversAlive: result.serversAlive,
        // Session maps: no closed session id still answers.
        sessionsStillOpen: result.sessionsStillOpen,
        // Sockets, client and server side, back to where they started.
        socketsLeft: result.socketsAfter - result.socketsBefore,
        transportsAlive: result.transportsAlive,
        wrongAnswersOr5xx: result.failures,
      }).toEqual({
        onClose: expectedConnects,
        onConnect: expectedConnects,
        scenario: result.scenario,
        serversAlive: 0,
        sessionsStillOpen: 0,
        socketsLeft: 0,
        transportsAlive: 0,
        wrongAnswersOr5xx: 0,
      });
      expect(result.heapGrowth).toBeLessThan(MAX_HEAP_GROWTH);
      expect(result.ok).toBe(true);
    }

    // Nothing left that would keep the process alive but its stdio pipes.
    expect(
      handles.filter((handle) => !["PipeWrap", "TTYWrap"].includes(handle)),
    ).toEqual([]);
  }, 180_000);

  it("upstream 5.10.0 never calls onClose for stateless requests", async () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    const onConnect = vi.fn(async () => {});
    const onClose = vi.fn(async () => {});
    const port = await getFreePort();
    const upstream = await upstreamStartHTTPServer<Server>({
      createServer: createEchoServer,
      enableJsonResponse: true,
      host: "127.0.0.1",
      onClose,
      onConnect,
      port,
      stateless: true,
    });

    try {
      const answers = await runPool(20, 5, (index) =>
        send(port, { body: echoCall(index, "x"), headers: STREAM_HEADERS }),
      );
      expect(answers.map(({ status }) => status)).toEqual(
        answers.map(() => 200),
      );
    } finally {
      await upstream.close();
      vi.restoreAllMocks();
    }

    expect(onConnect).toHaveBeenCalledTimes(20);
    expect(onClose).not.toHaveBeenCalled();
  });
});
