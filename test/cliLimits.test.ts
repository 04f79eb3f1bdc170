/**
 * The CLI's `--maxBodySize` and `--sessionIdleTimeout`, each given once as a
 * flag and once as an MCP_PROXY_* variable, and their defaults (10 MiB; 30
 * minutes, where `startHTTPServer` itself defaults to never).
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";

import { tooLarge } from "./helpers.js";
import {
  initializeMessage,
  send,
  startCli,
  STREAM_HEADERS,
} from "./stress-helpers.js";

const bin = fileURLToPath(new URL("../dist/bin/mcp-proxy.js", import.meta.url));

describe("--maxBodySize and --sessionIdleTimeout", () => {
  it("default to 10 MiB and 30 minutes", () => {
    const help = execFileSync(process.execPath, [bin, "--help"], {
      encoding: "utf8",
    });

    expect(help).toMatch(/--maxBodySize[^]*?\[default: 10485760\]/);
    expect(help).toMatch(/--sessionIdleTimeout[^]*?\[default: 1800000\]/);
  });

  it.each<{
    args: string[];
    env: Record<string, string>;
    limit: number;
    name: string;
  }>([
    {
      args: ["--maxBodySize", "1000"],
      env: { MCP_PROXY_SESSION_IDLE_TIMEOUT: "200" },
      limit: 1000,
      name: "--maxBodySize 1000, MCP_PROXY_SESSION_IDLE_TIMEOUT=200",
    },
    {
      args: ["--sessionIdleTimeout", "200"],
      env: { MCP_PROXY_MAX_BODY_SIZE: "1500" },
      limit: 1500,
      name: "--sessionIdleTimeout 200, MCP_PROXY_MAX_BODY_SIZE=1500",
    },
  ])(
    "$name: the body limit, and idle sessions closed",
    async ({ args, env, limit }) => {
      const cli = await startCli(args, env);

      try {
        const over = await send(cli.port, {
          body: "x".repeat(limit + 1),
          headers: STREAM_HEADERS,
        });
        expect([over.status, over.body]).toEqual([413, tooLarge(limit)]);

        const initialize = await send(cli.port, {
          body: initializeMessage(1),
          headers: STREAM_HEADERS,
        });
        expect(initialize.status).toBe(200);

        const headers = {
          ...STREAM_HEADERS,
          "Mcp-Session-Id": String(initialize.headers["mcp-session-id"]),
        };

        await vi.waitFor(
          async () => {
            const answer = await send(cli.port, {
              body: { jsonrpc: "2.0", method: "notifications/initialized" },
              headers,
            });
            expect(answer.status).toBe(404);
          },
          // Each poll is a request of the session: poll less often than the
          // timeout, or the session never idles.
          { interval: 500, timeout: 15_000 },
        );
        expect(cli.output()).toContain("closing a session idle for 200 ms");
      } finally {
        await cli.stop();
      }
    },
  );
});
