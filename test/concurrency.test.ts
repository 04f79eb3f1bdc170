/**
 * No cross-talk under concurrency: 2000 stateless requests, 100 at a time,
 * half failing `authenticate` with a challenge made from their own request,
 * half calling a tool. Every answer must be its own request's: challenge,
 * JSON-RPC id, message, result. Upstream 5.10.0 drops every challenge.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { startHTTPServer as upstreamStartHTTPServer } from "mcp-proxy-upstream";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { getFreePort } from "./helpers.js";
import {
  authenticateByIndex,
  authScenario,
  createEchoServer,
  echoCall,
  isOwnAnswer,
  runPool,
  send,
  STREAM_HEADERS,
} from "./stress-helpers.js";

const COUNT = 2000;

beforeEach(() => {
  for (const method of ["error", "log", "warn"] as const) {
    vi.spyOn(console, method).mockImplementation(() => {});
  }
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("concurrent requests, half failing authentication", () => {
  it(`${COUNT} requests, 100 at a time: every answer is its own request's, no 5xx`, async () => {
    const figures = await authScenario({ concurrency: 100, count: COUNT });

    expect(figures.requests).toBe(COUNT);
    // 401: returned, thrown Error, thrown Response; 403: statusCode 403.
    expect(figures.statuses).toEqual({
      200: COUNT / 2,
      401: (COUNT / 8) * 3,
      403: COUNT / 8,
    });
    expect(figures.failures).toBe(0);
    // Only requests that passed made a server, and each was closed.
    expect(figures.onConnect).toBe(COUNT / 2);
    expect(figures.onClose).toBe(COUNT / 2);
    expect(figures.socketsAfter).toBeLessThanOrEqual(figures.socketsBefore);
  }, 120_000);

  it("upstream 5.10.0 answers the failures without their challenge", async () => {
    const port = await getFreePort();
    const upstream = await upstreamStartHTTPServer<Server>({
      authenticate: authenticateByIndex,
      createServer: createEchoServer,
      enableJsonResponse: true,
      host: "127.0.0.1",
      port,
      stateless: true,
    });

    try {
      const answers = await runPool(16, 8, async (index) => {
        const nonce = `n${index}`;
        const answer = await send(port, {
          body: echoCall(index, nonce),
          headers: {
            ...STREAM_HEADERS,
            "X-Index": String(index),
            "X-Nonce": nonce,
          },
        });

        return { answer, index, own: isOwnAnswer(index, nonce, answer) };
      });

      const failures = answers.filter(({ index }) => index % 2 === 0);
      expect(failures.every(({ own }) => !own)).toBe(true);
      expect(
        failures.map(({ answer }) => answer.headers["www-authenticate"]),
      ).toEqual(failures.map(() => undefined));
    } finally {
      await upstream.close();
    }
  });
});
