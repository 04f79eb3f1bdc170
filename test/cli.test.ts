// End-to-end tests of the `mcp-proxy` bin: the built CLI runs as a real child
// process in front of a real stdio MCP server, and SDK clients talk to it
// over HTTP.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import {
  type Certificates,
  createCertificates,
  fetchTrusting,
} from "./certificates.js";
import { getFreePort, initializeRequest, streamHeaders } from "./helpers.js";
import {
  cleanEnvironment,
  type RunningProcess,
  startProcess,
} from "./processes.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = join(root, "dist", "bin", "mcp-proxy.js");
const fixture = join(root, "test", "fixtures", "simple-stdio-server.ts");

/** Runs the fixture server; `--import tsx` is much faster than `npx tsx`. */
const serverCommand = [process.execPath, "--import", "tsx", fixture];

const INFO_VARIABLE = "CLI_TEST_CHILD_INFO";

const temporaryDirectory = mkdtempSync(join(tmpdir(), "mcp-proxy-cli-"));

/**
 * A wrapper around the fixture server that first writes its pid and
 * arguments to the file named by $CLI_TEST_CHILD_INFO.
 */
const recordingServer = join(temporaryDirectory, "recording-server.mjs");

writeFileSync(
  recordingServer,
  [
    'import { writeFileSync } from "node:fs";',
    `writeFileSync(process.env.${INFO_VARIABLE}, JSON.stringify({ args: process.argv.slice(2), pid: process.pid }));`,
    `await import(${JSON.stringify(pathToFileURL(fixture).href)});`,
    "",
  ].join("\n"),
);

const recordingCommand = [process.execPath, "--import", "tsx", recordingServer];

let infoFileCount = 0;

/** A fresh path for the recording server to write to. */
const newInfoFile = () =>
  join(temporaryDirectory, `child-${++infoFileCount}.json`);

const readChildInfo = (path: string) =>
  JSON.parse(readFileSync(path, "utf8")) as { args: string[]; pid: number };

afterAll(() => {
  rmSync(temporaryDirectory, { force: true, recursive: true });
});

const processes = new Set<ChildProcess>();
const clients = new Set<Client>();

/** Spawns the built CLI with these arguments. */
const runCli = (
  args: string[],
  env: Record<string, string> = {},
): RunningProcess => {
  const cli = startProcess({
    args: [bin, ...args],
    command: process.execPath,
    cwd: root,
    env: cleanEnvironment(env),
    name: "mcp-proxy",
  });

  processes.add(cli.child);

  return cli;
};

/**
 * Starts the CLI on 127.0.0.1 and a free port, with these arguments after
 * the host and port, and waits until it serves.
 */
const startProxy = async (args: string[], env: Record<string, string> = {}) => {
  const port = await getFreePort();
  const proxy = runCli(
    ["--host", "127.0.0.1", "--port", String(port), ...args],
    env,
  );

  await proxy.waitFor("starting server on port");

  return {
    ...proxy,
    port,
    url: (path: string) => new URL(path, `http://127.0.0.1:${port}`),
  };
};

type Kind = "sse" | "stream";

const connect = async (kind: Kind, url: URL, requestInit?: RequestInit) => {
  const client = new Client({ name: "cli-test", version: "1.0.0" });

  clients.add(client);

  await client.connect(
    kind === "sse"
      ? new SSEClientTransport(url, { requestInit })
      : new StreamableHTTPClientTransport(url, { requestInit }),
  );

  return client;
};

/** Lists the tools and calls `add` through the proxy. */
const expectProxying = async (client: Client) => {
  const { tools } = await client.listTools();

  expect(tools.map((tool) => tool.name)).toEqual(["add"]);

  const result = await client.callTool({
    arguments: { a: 2, b: 3 },
    name: "add",
  });

  expect(result.content).toEqual([{ text: "5", type: "text" }]);
};

/** Asserts that neither GET nor POST reach anything at this URL. */
const expectNotServed = async (url: URL) => {
  const get = await fetch(url);
  const post = await fetch(url, {
    body: JSON.stringify(initializeRequest()),
    headers: streamHeaders,
    method: "POST",
  });

  expect([get.status, post.status]).toEqual([404, 404]);
};

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

afterEach(async () => {
  // Stop the proxies before closing their clients: a client that has just
  // disconnected can leave a fresh, request-less connection behind, and
  // http.Server#close() waits for it until the client's keep-alive timeout.
  await Promise.all(
    [...processes].map(async (child) => {
      if (child.exitCode === null && child.signalCode === null) {
        const closed = new Promise((resolve) => child.once("close", resolve));

        child.kill("SIGTERM");

        const outcome = await Promise.race([closed, delay(10_000, "timeout")]);

        if (outcome === "timeout") {
          child.kill("SIGKILL");
        }
      }
    }),
  );
  processes.clear();

  await Promise.allSettled([...clients].map((client) => client.close()));
  clients.clear();
});

describe("mcp-proxy", () => {
  it("lists every option in --help", async () => {
    const cli = runCli(["--help"]);

    expect(await cli.exited).toEqual({ code: 0, signal: null });

    for (const option of [
      "--apiKey",
      "--debug",
      "--endpoint",
      "--gracefulShutdownTimeout",
      "--help",
      "--host",
      "--port",
      "--requestTimeout",
      "--server",
      "--shell",
      "--sseEndpoint",
      "--sslCa",
      "--sslCert",
      "--sslKey",
      "--stateless",
      "--streamEndpoint",
      "--version",
    ]) {
      expect(cli.output()).toContain(option);
    }

    expect(cli.output()).toContain("mcp-proxy [options] <command> [args...]");
    expect(cli.output()).toContain("after --");
  });

  it("prints the version of its package.json with --version", async () => {
    const { version } = JSON.parse(
      readFileSync(join(root, "package.json"), "utf8"),
    ) as { version: string };
    const cli = runCli(["--version"]);

    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.output().trim()).toBe(version);
  });

  it.each<{ kind: Kind; path: string }>([
    { kind: "stream", path: "/mcp" },
    { kind: "sse", path: "/sse" },
  ])("proxies the command over $kind at $path", async ({ kind, path }) => {
    const proxy = await startProxy(["--", ...serverCommand]);

    await expectProxying(await connect(kind, proxy.url(path)));
  });

  it("logs the command's transport events with --debug", async () => {
    const proxy = await startProxy(["--debug", "--", ...serverCommand]);

    await expectProxying(await connect("stream", proxy.url("/mcp")));
    await proxy.waitFor("transport event");
  });

  it("listens on the port in MCP_PROXY_PORT", async () => {
    const port = await getFreePort();
    const proxy = runCli(["--host", "127.0.0.1", "--", ...serverCommand], {
      MCP_PROXY_PORT: String(port),
    });

    await proxy.waitFor(`starting server on port ${port}`);
    await expectProxying(
      await connect("stream", new URL(`http://127.0.0.1:${port}/mcp`)),
    );
  });

  describe.each<{
    args: string[];
    env?: Record<string, string>;
    name: string;
    notServed: string[];
    served: { kind: Kind; path: string }[];
  }>([
    {
      args: [],
      name: "by default",
      notServed: ["/other"],
      served: [
        { kind: "stream", path: "/mcp" },
        { kind: "sse", path: "/sse" },
      ],
    },
    {
      args: ["--server", "stream"],
      name: "with --server stream",
      notServed: ["/sse"],
      served: [{ kind: "stream", path: "/mcp" }],
    },
    {
      args: ["--server", "sse"],
      name: "with --server sse",
      notServed: ["/mcp"],
      served: [{ kind: "sse", path: "/sse" }],
    },
    {
      args: [],
      env: { MCP_PROXY_SERVER: "stream" },
      name: "with MCP_PROXY_SERVER=stream",
      notServed: ["/sse"],
      served: [{ kind: "stream", path: "/mcp" }],
    },
    {
      args: ["--endpoint", "/custom"],
      name: "with --endpoint and no --server (the stream endpoint)",
      notServed: ["/mcp"],
      served: [
        { kind: "stream", path: "/custom" },
        { kind: "sse", path: "/sse" },
      ],
    },
    {
      args: ["--server", "sse", "--endpoint", "/events"],
      name: "with --server sse --endpoint",
      notServed: ["/sse", "/mcp"],
      served: [{ kind: "sse", path: "/events" }],
    },
    {
      args: ["--endpoint", "/ignored", "--streamEndpoint", "/explicit"],
      name: "with --streamEndpoint winning over --endpoint",
      notServed: ["/ignored", "/mcp"],
      served: [
        { kind: "stream", path: "/explicit" },
        { kind: "sse", path: "/sse" },
      ],
    },
    {
      args: ["--server", "sse", "--endpoint", "/x", "--sse-endpoint", "/y"],
      name: "with --sse-endpoint winning over --endpoint",
      notServed: ["/x", "/sse"],
      served: [{ kind: "sse", path: "/y" }],
    },
    {
      args: ["--stream-endpoint", "/kebab"],
      name: "with kebab-case --stream-endpoint",
      notServed: ["/mcp"],
      served: [{ kind: "stream", path: "/kebab" }],
    },
    {
      args: [],
      env: { MCP_PROXY_STREAM_ENDPOINT: "/from-env" },
      name: "with MCP_PROXY_STREAM_ENDPOINT",
      notServed: ["/mcp"],
      served: [{ kind: "stream", path: "/from-env" }],
    },
    {
      args: ["--stateless"],
      name: "with --stateless",
      notServed: [],
      served: [{ kind: "stream", path: "/mcp" }],
    },
  ])("endpoints $name", ({ args, env, notServed, served }) => {
    it("serves and 404s the expected paths", async () => {
      const proxy = await startProxy([...args, "--", ...serverCommand], env);

      for (const { kind, path } of served) {
        await expectProxying(await connect(kind, proxy.url(path)));
      }

      for (const path of notServed) {
        await expectNotServed(proxy.url(path));
      }
    });
  });

  describe.each<{ args: string[]; env?: Record<string, string>; name: string }>(
    [
      { args: ["--apiKey", "secret"], name: "--apiKey" },
      { args: ["--api-key", "secret"], name: "--api-key" },
      {
        args: [],
        env: { MCP_PROXY_API_KEY: "secret" },
        name: "MCP_PROXY_API_KEY",
      },
    ],
  )("API key from $name", ({ args, env }) => {
    it.each<string | undefined>([undefined, "wrong"])(
      "rejects a request with X-API-Key %s",
      async (key) => {
        const proxy = await startProxy([...args, "--", ...serverCommand], env);
        const response = await fetch(proxy.url("/mcp"), {
          body: JSON.stringify(initializeRequest()),
          headers: { ...streamHeaders, ...(key ? { "X-API-Key": key } : {}) },
          method: "POST",
        });

        expect(response.status).toBe(401);
        expect(await response.text()).toBe(
          '{"error":{"code":401,"message":"Unauthorized: Invalid or missing API key"},"id":null,"jsonrpc":"2.0"}',
        );
      },
    );

    it.each<{ kind: Kind; path: string }>([
      { kind: "stream", path: "/mcp" },
      { kind: "sse", path: "/sse" },
    ])(
      "serves $kind to a client that sends the key",
      async ({ kind, path }) => {
        const proxy = await startProxy([...args, "--", ...serverCommand], env);

        await expectProxying(
          await connect(kind, proxy.url(path), {
            headers: { "X-API-Key": "secret" },
          }),
        );
      },
    );
  });

  it.each<{
    args: (server: string[]) => string[];
    childArgs: string[];
    name: string;
  }>([
    {
      args: (server) => [...server, "a", "-y", "--z=1", "--no-color"],
      childArgs: ["a", "-y", "--z=1", "--no-color"],
      name: "keeps options it does not know for the command",
    },
    {
      args: (server) => [...server, "a", "--", "b", "--port", "1", "--help"],
      childArgs: ["a", "b", "--port", "1", "--help"],
      name: "keeps arguments on both sides of --",
    },
    {
      args: (server) => ["--", ...server, "a", "--debug"],
      childArgs: ["a", "--debug"],
      name: "takes the command from after --",
    },
    {
      args: (server) => [
        "--shell",
        "--",
        `${server.map((word) => `'${word}'`).join(" ")} a 'b c'`,
      ],
      childArgs: ["a", "b c"],
      name: "runs the command through a shell with --shell",
    },
  ])("$name", async ({ args, childArgs }) => {
    const infoFile = newInfoFile();
    const proxy = await startProxy(args(recordingCommand), {
      [INFO_VARIABLE]: infoFile,
    });

    expect(readChildInfo(infoFile).args).toEqual(childArgs);
    await expectProxying(await connect("stream", proxy.url("/mcp")));
  });

  it.each<NodeJS.Signals>(["SIGTERM", "SIGINT"])(
    "shuts down on %s: exits 0 and stops the command",
    async (signal) => {
      const infoFile = newInfoFile();
      const proxy = await startProxy(
        ["--gracefulShutdownTimeout", "15000", "--", ...recordingCommand],
        { [INFO_VARIABLE]: infoFile },
      );
      const { pid } = readChildInfo(infoFile);

      // Open sessions on both transports, so that closing has work to do.
      await expectProxying(await connect("stream", proxy.url("/mcp")));
      await expectProxying(await connect("sse", proxy.url("/sse")));
      expect(isRunning(pid)).toBe(true);

      proxy.child.kill(signal);

      expect(await proxy.exited).toEqual({ code: 0, signal: null });
      expect(proxy.output()).toContain(
        "received shutdown signal; shutting down",
      );
      expect(isRunning(pid)).toBe(false);
    },
  );

  describe("HTTPS", () => {
    let certificates: Certificates;

    beforeAll(async () => {
      certificates = await createCertificates();
    }, 60_000);

    afterAll(async () => {
      await certificates?.remove();
    });

    it.each<{
      args: () => string[];
      env?: () => Record<string, string>;
      name: string;
    }>([
      {
        args: () => [
          "--sslCert",
          certificates.certPath,
          "--sslKey",
          certificates.keyPath,
        ],
        name: "--sslCert and --sslKey",
      },
      {
        args: () => [
          "--ssl-ca",
          certificates.caPath,
          "--ssl-cert",
          certificates.certPath,
          "--ssl-key",
          certificates.keyPath,
        ],
        name: "kebab-case --ssl-ca, --ssl-cert and --ssl-key",
      },
      {
        args: () => [],
        env: () => ({
          MCP_PROXY_SSL_CERT: certificates.certPath,
          MCP_PROXY_SSL_KEY: certificates.keyPath,
        }),
        name: "MCP_PROXY_SSL_CERT and MCP_PROXY_SSL_KEY",
      },
    ])("serves HTTPS with $name", async ({ args, env }) => {
      const proxy = await startProxy(
        [...args(), "--", ...serverCommand],
        env?.(),
      );
      const client = new Client({ name: "cli-test", version: "1.0.0" });

      clients.add(client);
      await client.connect(
        new StreamableHTTPClientTransport(
          new URL(`https://127.0.0.1:${proxy.port}/mcp`),
          { fetch: fetchTrusting({ ca: certificates.ca }) },
        ),
      );
      await expectProxying(client);
    });

    it.each<{ args: () => string[]; message: () => string; name: string }>([
      {
        args: () => ["--sslCert", certificates.certPath],
        message: () =>
          "HTTPS needs both sslCert and sslKey, but only sslCert is set",
        name: "--sslCert without --sslKey",
      },
      {
        args: () => [
          "--sslCert",
          join(certificates.directory, "missing.pem"),
          "--sslKey",
          certificates.keyPath,
        ],
        message: () =>
          `could not read the sslCert file "${join(certificates.directory, "missing.pem")}"`,
        name: "an --sslCert file that does not exist",
      },
    ])(
      "exits 1 with $name, never serving plain HTTP",
      async ({ args, message }) => {
        const port = await getFreePort();
        const cli = runCli([
          "--host",
          "127.0.0.1",
          "--port",
          String(port),
          ...args(),
          "--",
          ...serverCommand,
        ]);

        expect(await cli.exited).toEqual({ code: 1, signal: null });
        expect(cli.output()).toContain("could not start the proxy");
        expect(cli.output()).toContain(message());
        expect(cli.output()).not.toContain("starting server on port");
      },
    );
  });

  describe("fails to start", () => {
    it.each<{ args: string[]; message: string; name: string }>([
      {
        args: ["--", "/nonexistent/mcp-server-command"],
        message: "could not start the proxy",
        name: "when the command does not exist",
      },
      {
        args: ["--", process.execPath, "-e", "process.exit(3)"],
        message: "could not start the proxy",
        name: "when the command exits at once",
      },
      {
        args: [],
        message: "Missing <command>",
        name: "without a command",
      },
      {
        args: ["--unknown-option", ...serverCommand],
        message: "Unknown option before <command>: --unknown-option",
        name: "with an unknown option before the command",
      },
      {
        args: ["--server", "both", "--", ...serverCommand],
        message: "Invalid values",
        name: "with an invalid --server",
      },
      {
        args: ["--requestTimeout", "soon", "--", ...serverCommand],
        message: "--requestTimeout must be a non-negative number",
        name: "with a non-numeric --requestTimeout",
      },
    ])("$name", async ({ args, message }) => {
      const port = await getFreePort();
      const cli = runCli([
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        ...args,
      ]);

      expect(await cli.exited).toEqual({ code: 1, signal: null });
      expect(cli.output()).toContain(message);
      expect(cli.output()).not.toContain("starting server on port");
    });

    it("when the port is taken, and stops the command", async () => {
      const blocker = createServer();
      const port = await getFreePort();

      await new Promise<void>((resolve, reject) => {
        blocker.once("error", reject);
        blocker.listen(port, "127.0.0.1", resolve);
      });

      try {
        const infoFile = newInfoFile();
        const cli = runCli(
          [
            "--host",
            "127.0.0.1",
            "--port",
            String(port),
            "--",
            ...recordingCommand,
          ],
          { [INFO_VARIABLE]: infoFile },
        );

        expect(await cli.exited).toEqual({ code: 1, signal: null });
        expect(cli.output()).toContain("could not start the proxy");
        expect(isRunning(readChildInfo(infoFile).pid)).toBe(false);
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
    });
  });
});
