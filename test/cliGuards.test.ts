/**
 * The CLI's `--allowedOrigins` and `--allowedHosts` (and their MCP_PROXY_*
 * variables), its default Origin check (loopback pages only), and what it
 * says at start about what it exposes. The built CLI runs as a child
 * process in front of the fixture stdio server.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import http from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

import {
  byName,
  getFreePort,
  initializeRequest,
  streamHeaders,
} from "./helpers.js";
import {
  cleanEnvironment,
  type RunningProcess,
  startProcess,
} from "./processes.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = join(root, "dist", "bin", "mcp-proxy.js");
const fixture = join(root, "test", "fixtures", "simple-stdio-server.ts");

const running: RunningProcess[] = [];
const clients: Client[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((cli) => cli.stop()));
  await Promise.allSettled(clients.splice(0).map((client) => client.close()));
});

/** Starts the CLI on `host` and `port` (or a free one); waits until it serves. */
const startCli = async ({
  args = [],
  env = {},
  host = "127.0.0.1",
  port,
}: {
  args?: string[];
  env?: Record<string, string>;
  host?: string;
  port: number;
}) => {
  const cli = startProcess({
    args: [
      bin,
      "--host",
      host,
      "--port",
      String(port),
      ...args,
      "--",
      process.execPath,
      "--import",
      "tsx",
      fixture,
    ],
    command: process.execPath,
    cwd: root,
    env: cleanEnvironment(env),
    name: "mcp-proxy",
  });
  running.push(cli);

  await cli.waitFor("starting server on port");

  return { ...cli, port };
};

/** POSTs an initialize with node:http, which sends any Host. */
const initialize = (port: number, headers: Record<string, string>) =>
  new Promise<{ body: string; status: number }>((resolve, reject) => {
    const outgoing = http.request({
      agent: false,
      headers: { ...streamHeaders, ...headers },
      host: "127.0.0.1",
      method: "POST",
      path: "/mcp",
      port,
    });

    outgoing.on("error", reject);
    outgoing.on("response", (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ body, status: response.statusCode! }));
    });
    outgoing.end(JSON.stringify(initializeRequest()));
  });

const statusFor = async (port: number, headers: Record<string, string>) =>
  (await initialize(port, headers)).status;

const FORBIDDEN_ORIGIN = JSON.stringify({
  error: { code: -32000, message: "Forbidden: origin not allowed" },
  id: null,
  jsonrpc: "2.0",
});

describe("the CLI's default Origin check", () => {
  it("refuses a foreign page, lets loopback pages and non-browser clients through, and says so", async () => {
    const cli = await startCli({ port: await getFreePort() });

    expect(
      await initialize(cli.port, { Origin: "https://evil.example" }),
    ).toEqual({ body: FORBIDDEN_ORIGIN, status: 403 });

    for (const origin of [
      "http://localhost:5173",
      "https://localhost",
      "http://127.0.0.1:9",
      "http://[::1]:3000",
    ]) {
      expect(await statusFor(cli.port, { Origin: origin }), origin).toBe(200);
    }

    // An SDK client sends no Origin: it works as with upstream.
    const client = new Client({ name: "cli-guards", version: "1.0.0" });
    clients.push(client);
    await client.connect(
      new StreamableHTTPClientTransport(
        new URL(`http://127.0.0.1:${cli.port}/mcp`),
      ),
    );
    const result = await client.callTool({
      arguments: { a: 2, b: 3 },
      name: "add",
    });
    expect(result.content).toEqual([{ text: "5", type: "text" }]);

    // Line by line: the wrapped command's stderr shares the output.
    for (const line of [
      `[mcp-proxy] listening on http://127.0.0.1:${cli.port} (this machine only): streamable HTTP at /mcp, SSE at /sse`,
      "[mcp-proxy] API key: none (--apiKey not set)",
      "[mcp-proxy] browser origins allowed: loopback pages only (http(s)://localhost, 127.0.0.1, [::1], any port); --allowedOrigins adds others",
      "[mcp-proxy] Host headers allowed: any (--allowedHosts not set)",
      `[mcp-proxy] to refuse DNS rebinding outright, add --allowedHosts localhost:${cli.port},127.0.0.1:${cli.port},[::1]:${cli.port}`,
      `starting server on port ${cli.port}`,
    ]) {
      expect(cli.output()).toContain(`${line}\n`);
    }

    await cli.stop();
    expect(cli.output()).not.toContain("warning");
  });
});

describe("--allowedOrigins", () => {
  it("is listed in --help, with --allowedHosts", async () => {
    const cli = startProcess({
      args: [bin, "--help"],
      command: process.execPath,
      cwd: root,
      env: cleanEnvironment(),
      name: "mcp-proxy",
    });
    running.push(cli);

    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.output()).toMatch(/--allowedHosts .*Host header values/);
    expect(cli.output()).toMatch(
      /--allowedOrigins[^]*?\[default: loopback pages\]/,
    );
  });

  it.each(
    byName<{ args: string[]; env: Record<string, string>; name: string }>([
      {
        args: [
          "--allowedOrigins",
          "https://app.example",
          "--allowedOrigins=https://b.example/",
        ],
        env: {},
        name: "repeated",
      },
      {
        args: [],
        env: {
          MCP_PROXY_ALLOWED_ORIGINS: "https://app.example, https://b.example",
        },
        name: "MCP_PROXY_ALLOWED_ORIGINS, comma-separated",
      },
    ]),
  )("%s: only the origins listed", async (_, { args, env }) => {
    const cli = await startCli({ args, env, port: await getFreePort() });

    const statuses = {};
    for (const origin of [
      "https://app.example",
      "https://b.example",
      "https://evil.example",
      "http://localhost:5173",
    ]) {
      Object.assign(statuses, {
        [origin]: await statusFor(cli.port, { Origin: origin }),
      });
    }

    expect(statuses).toEqual({
      "http://localhost:5173": 403,
      "https://app.example": 200,
      "https://b.example": 200,
      "https://evil.example": 403,
    });
    expect(cli.output()).toContain(
      "[mcp-proxy] browser origins allowed: https://app.example, https://b.example\n",
    );
  });

  it("* lets any origin through", async () => {
    const cli = await startCli({
      args: ["--allowedOrigins", "*"],
      port: await getFreePort(),
    });

    expect(await statusFor(cli.port, { Origin: "https://evil.example" })).toBe(
      200,
    );
    expect(cli.output()).toContain(
      "[mcp-proxy] browser origins allowed: any (--allowedOrigins *)",
    );
  });

  it("refuses to start with an entry that is not an origin", async () => {
    const cli = startProcess({
      args: [bin, "--allowedOrigins", "app.example", "node"],
      command: process.execPath,
      cwd: root,
      env: cleanEnvironment(),
      name: "mcp-proxy",
    });
    running.push(cli);

    expect(await cli.exited).toEqual({ code: 1, signal: null });
    expect(cli.output()).toContain(
      "--allowedOrigins: app.example is not an origin",
    );
  });
});

describe("--allowedHosts", () => {
  it.each(["flag", "MCP_PROXY_ALLOWED_HOSTS"])(
    "%s: another Host gets 403",
    async (via) => {
      const port = await getFreePort();
      const hosts = `localhost:${port},127.0.0.1:${port}`;
      const cli = await startCli({
        args: via === "flag" ? ["--allowedHosts", hosts] : [],
        env: via === "flag" ? {} : { MCP_PROXY_ALLOWED_HOSTS: hosts },
        port,
      });

      const answer = await initialize(cli.port, {
        Host: `attacker.test:${cli.port}`,
      });

      expect(answer.status).toBe(403);
      expect(JSON.parse(answer.body)).toMatchObject({
        error: { message: "Forbidden: host not allowed" },
      });
      expect(await statusFor(cli.port, {})).toBe(200);
      expect(cli.output()).toContain(
        `[mcp-proxy] Host headers allowed: localhost:${cli.port}, 127.0.0.1:${cli.port}`,
      );
    },
  );
});

describe("what the CLI says it exposes", () => {
  it("warns that anyone who can reach the port can run the command, on all interfaces without --apiKey", async () => {
    const cli = await startCli({ host: "0.0.0.0", port: await getFreePort() });

    expect(cli.output()).toContain(
      `[mcp-proxy] listening on http://0.0.0.0:${cli.port} (all interfaces): streamable HTTP at /mcp, SSE at /sse`,
    );
    // On stderr, which may arrive after stdout's "starting server" line.
    await cli.waitFor(
      `[mcp-proxy] warning: listening on all interfaces without --apiKey: anyone who can reach port ${cli.port} can run the wrapped command (${process.execPath}) through its tools`,
    );
  });

  it("says an API key guards it, never which", async () => {
    const apiKey = "cli-guards-secret-4f1c";
    const cli = await startCli({
      env: { MCP_PROXY_API_KEY: apiKey },
      host: "0.0.0.0",
      port: await getFreePort(),
    });

    expect(cli.output()).toContain(
      "[mcp-proxy] API key: required in the X-API-Key header",
    );

    // Once it has exited, all it ever wrote has arrived.
    await cli.stop();
    expect(cli.output()).not.toContain("warning");
    expect(cli.output()).not.toContain(apiKey);
  });
});
