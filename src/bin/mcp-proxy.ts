#!/usr/bin/env node

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import util from "node:util";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";

import { isLoopbackOrigin, normalizeOrigin } from "../callerGuards.js";
import { describeExposure } from "./exposure.js";

util.inspect.defaultOptions.depth = 8;

/**
 * The version in the nearest package.json above this file. The same lookup
 * finds the package root from `dist/bin/` (built), `src/bin/` (tsx) and any
 * chunk tsup may move this code into.
 */
const readPackageVersion = (): string => {
  let directory = dirname(fileURLToPath(import.meta.url));

  for (;;) {
    try {
      const manifest: unknown = JSON.parse(
        readFileSync(join(directory, "package.json"), "utf8"),
      );

      if (
        manifest &&
        typeof manifest === "object" &&
        "version" in manifest &&
        typeof manifest.version === "string"
      ) {
        return manifest.version;
      }
    } catch {
      // No readable package.json here: keep walking up.
    }

    const parent = dirname(directory);

    if (parent === directory) {
      return "unknown";
    }

    directory = parent;
  }
};

/** The arguments after `--`, which yargs keeps apart ("populate--"). */
const afterDashes = (value: unknown): string[] =>
  Array.isArray(value) ? value.map(String) : [];

const isNonNegativeNumber = (value: unknown) =>
  typeof value === "number" && Number.isFinite(value) && value >= 0;

const parserConfiguration = {
  // A repeated option takes its last value instead of becoming an array.
  "duplicate-arguments-array": false,
  // The command's arguments stay the strings they were typed as.
  "parse-positional-numbers": false,
  "populate--": true,
  // Options mcp-proxy does not know belong to the command: keep them, in place.
  "unknown-options-as-args": true,
};

/**
 * Every value of the list options: each repetition, each split at commas
 * (`MCP_PROXY_ALLOWED_ORIGINS=a,b`). The main parse keeps only the last
 * repetition, as it does for every other option. `undefined` when unset.
 */
const lists = await yargs(hideBin(process.argv))
  .env("MCP_PROXY")
  .parserConfiguration({
    ...parserConfiguration,
    "duplicate-arguments-array": true,
  })
  .options({
    allowedHosts: { array: true, nargs: 1, type: "string" },
    allowedOrigins: { array: true, nargs: 1, type: "string" },
  })
  .help(false)
  .version(false)
  .parseAsync();

const splitList = (values: string[] | undefined) =>
  values
    ?.flatMap((value) => String(value).split(","))
    .map((value) => value.trim())
    .filter(Boolean);

const allowedHostList = splitList(lists.allowedHosts);
const allowedOriginList = splitList(lists.allowedOrigins);

const argv = await yargs(hideBin(process.argv))
  .scriptName("mcp-proxy")
  .usage(
    "$0 [options] <command> [args...]\n\n" +
      "Runs <command> as a stdio MCP server and serves it over SSE and streamable HTTP.",
  )
  .env("MCP_PROXY")
  .parserConfiguration(parserConfiguration)
  .options({
    allowedHosts: {
      describe:
        "Host header values to answer, port included (comma-separated or repeated), e.g. localhost:8080,127.0.0.1:8080,[::1]:8080; any other gets 403",
      type: "string",
    },
    allowedOrigins: {
      defaultDescription: "loopback pages",
      describe:
        "Browser origins that may call (comma-separated or repeated; * for any); a request with any other Origin gets 403",
      type: "string",
    },
    apiKey: {
      describe: "Require this API key in the X-API-Key header of every request",
      type: "string",
    },
    debug: {
      default: false,
      describe: "Log every event of the command's stdio transport",
      type: "boolean",
    },
    endpoint: {
      describe:
        "Endpoint of the server chosen with --server (the stream endpoint when --server is not given); --sseEndpoint and --streamEndpoint take precedence",
      type: "string",
    },
    gracefulShutdownTimeout: {
      default: 5000,
      describe:
        "Milliseconds to wait for a clean shutdown before exiting with code 1",
      type: "number",
    },
    host: {
      default: "::",
      describe: "Host to listen on",
      type: "string",
    },
    maxBodySize: {
      default: 10 * 1024 * 1024,
      describe:
        "Largest request body in bytes; a larger one gets 413 (0: no limit)",
      type: "number",
    },
    port: {
      default: 8080,
      describe: "Port to listen on",
      type: "number",
    },
    requestTimeout: {
      default: 300000,
      describe: "Milliseconds to wait for the command to answer a request",
      type: "number",
    },
    server: {
      choices: ["sse", "stream"] as const,
      describe: "Serve only this transport (default: both sse and stream)",
      type: "string",
    },
    sessionIdleTimeout: {
      default: 30 * 60 * 1000,
      describe:
        "Milliseconds without a request after which a stateful session is closed (0: never)",
      type: "number",
    },
    shell: {
      default: false,
      describe: "Run the command through the user's shell",
      type: "boolean",
    },
    sseEndpoint: {
      defaultDescription: '"/sse"',
      describe: "SSE endpoint",
      type: "string",
    },
    sslCa: {
      describe:
        "PEM file of the CA certificates to trust instead of Node's defaults (HTTPS)",
      type: "string",
    },
    sslCert: {
      describe:
        "PEM file of the certificate chain; with --sslKey, serves HTTPS",
      type: "string",
    },
    sslKey: {
      describe: "PEM file of the private key of --sslCert",
      type: "string",
    },
    stateless: {
      default: false,
      describe:
        "Run the streamable HTTP transport without sessions (stateless mode)",
      type: "boolean",
    },
    streamEndpoint: {
      defaultDescription: '"/mcp"',
      describe: "Streamable HTTP endpoint",
      type: "string",
    },
  })
  .check((parsed) => {
    for (const origin of allowedOriginList ?? []) {
      if (origin !== "*" && normalizeOrigin(origin) === undefined) {
        throw new Error(`--allowedOrigins: ${origin} is not an origin`);
      }
    }

    for (const key of [
      "gracefulShutdownTimeout",
      "maxBodySize",
      "requestTimeout",
      "sessionIdleTimeout",
    ] as const) {
      if (!isNonNegativeNumber(parsed[key])) {
        throw new Error(`--${key} must be a non-negative number`);
      }
    }

    if (
      !isNonNegativeNumber(parsed.port) ||
      !Number.isInteger(parsed.port) ||
      parsed.port > 65535
    ) {
      throw new Error("--port must be an integer from 0 to 65535");
    }

    const [first] = parsed._;

    if (first === undefined) {
      if (afterDashes(parsed["--"]).length === 0) {
        throw new Error("Missing <command>");
      }
    } else if (String(first).startsWith("-")) {
      throw new Error(
        `Unknown option before <command>: ${first} (options for the command go after it, or after --)`,
      );
    }

    return true;
  })
  .example(
    "$0 --port 8080 npx -y some-mcp-server",
    "Proxy an MCP server started with npx",
  )
  .example(
    "$0 --port 8080 -- node server.js --port 3000",
    "Everything after -- goes to the command",
  )
  .epilogue(
    "Options mcp-proxy does not know are passed to <command> where they stand. " +
      "Options that mcp-proxy knows (--port, --debug, --help...) are taken by mcp-proxy " +
      "wherever they appear before --; put the command's own options after -- to be sure " +
      "they reach it. Every option can also be set through an MCP_PROXY_* environment " +
      "variable (e.g. MCP_PROXY_PORT=8080).",
  )
  .version(readPackageVersion())
  .help()
  .parseAsync();

// Loaded once the arguments are parsed, so that --help, --version and a
// usage error answer without loading the SDK.
const [
  { Client },
  { Server },
  { InMemoryEventStore },
  { proxyServer },
  { startHTTPServer },
  { StdioClientTransport },
] = await Promise.all([
  import("@modelcontextprotocol/sdk/client/index.js"),
  import("@modelcontextprotocol/sdk/server/index.js"),
  import("../InMemoryEventStore.js"),
  import("../proxyServer.js"),
  import("../startHTTPServer.js"),
  import("../StdioClientTransport.js"),
]);

const [command, ...args] = [...argv._.map(String), ...afterDashes(argv["--"])];

if (command === undefined) {
  // .check() rejects this already; this only narrows the type.
  throw new Error("Missing <command>");
}

// --endpoint names the endpoint of the --server chosen, or of the stream
// server when both run; --sseEndpoint and --streamEndpoint take precedence.
const sseEndpoint =
  argv.server === "stream"
    ? null
    : (argv.sseEndpoint ??
      (argv.server === "sse" ? argv.endpoint : undefined) ??
      "/sse");

const streamEndpoint =
  argv.server === "sse"
    ? null
    : (argv.streamEndpoint ?? argv.endpoint ?? "/mcp");

// MCP transport spec: servers MUST validate Origin. Only browsers send it,
// so other clients on the network keep working as with upstream.
const allowedOrigins =
  allowedOriginList === undefined
    ? "loopback"
    : allowedOriginList.includes("*")
      ? undefined
      : allowedOriginList.map((origin) => normalizeOrigin(origin) ?? origin);

const childEnvironment: Record<string, string> = {};

for (const [name, value] of Object.entries(process.env)) {
  if (value !== undefined) {
    childEnvironment[name] = value;
  }
}

const transport = new StdioClientTransport({
  args,
  command,
  env: childEnvironment,
  onEvent: argv.debug
    ? (event) => {
        console.debug("transport event", event);
      }
    : undefined,
  shell: argv.shell,
  // The command's stderr goes straight to ours, for debugging.
  stderr: "inherit",
});

const client = new Client(
  { name: "mcp-proxy", version: "1.0.0" },
  { capabilities: {} },
);

let childPid: null | number = null;

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Stops the command and waits until its process is gone. */
const stopChild = async () => {
  await client.close();

  if (childPid !== null) {
    while (isRunning(childPid)) {
      await delay(20);
    }
  }
};

/** Exits once what was logged has been written out (pipes can be async). */
const exit = async (code: number): Promise<never> => {
  await Promise.all(
    [process.stdout, process.stderr].map(
      (stream) => new Promise((resolve) => stream.write("", resolve)),
    ),
  );

  process.exit(code);
};

const start = async () => {
  await client.connect(transport);

  childPid = transport.pid;

  const serverVersion = client.getServerVersion() ?? {
    name: "mcp-proxy",
    version: "1.0.0",
  };
  const serverCapabilities = client.getServerCapabilities() ?? {};

  return startHTTPServer({
    allowedHosts: allowedHostList,
    allowedOrigins:
      allowedOrigins === "loopback" ? isLoopbackOrigin : allowedOrigins,
    apiKey: argv.apiKey,
    createServer: async () => {
      const server = new Server(serverVersion, {
        capabilities: serverCapabilities,
      });

      await proxyServer({
        client,
        requestTimeout: argv.requestTimeout,
        server,
        serverCapabilities,
      });

      return server;
    },
    eventStore: new InMemoryEventStore(),
    host: argv.host,
    maxBodySize: argv.maxBodySize,
    port: argv.port,
    sessionIdleTimeout: argv.sessionIdleTimeout,
    sseEndpoint,
    sslCa: argv.sslCa,
    sslCert: argv.sslCert,
    sslKey: argv.sslKey,
    stateless: argv.stateless,
    streamEndpoint,
  });
};

let httpServer: Awaited<ReturnType<typeof start>>;

try {
  httpServer = await start();
} catch (error) {
  console.error("could not start the proxy", error);

  await stopChild().catch(() => {});

  await exit(1);
}

const shutdown = async () => {
  console.info("received shutdown signal; shutting down");

  // Should the event loop run dry before the closes below settle, that is a
  // failed shutdown too.
  process.exitCode = 1;

  setTimeout(() => {
    console.error(
      "could not shut down within %d ms; exiting",
      argv.gracefulShutdownTimeout,
    );

    if (childPid !== null && isRunning(childPid)) {
      process.kill(childPid, "SIGKILL");
    }

    process.exit(1);
  }, argv.gracefulShutdownTimeout).unref();

  let exitCode = 0;

  try {
    await httpServer.close();
  } catch (error) {
    console.error("could not close the HTTP server", error);
    exitCode = 1;
  }

  try {
    await stopChild();
  } catch (error) {
    console.error("could not stop the command", error);
    exitCode = 1;
  }

  await exit(exitCode);
};

// The first SIGINT or SIGTERM shuts down; a second one of either kind gets
// Node's default handling and ends the process at once.
const onSignal = () => {
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  void shutdown();
};

process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

const exposure = describeExposure({
  allowedHosts: allowedHostList,
  allowedOrigins,
  command,
  hasApiKey: Boolean(argv.apiKey),
  host: argv.host,
  port: argv.port,
  sseEndpoint,
  streamEndpoint,
});

for (const line of exposure.info) {
  console.info(line);
}

for (const line of exposure.warnings) {
  console.warn(line);
}

console.info("starting server on port %d", argv.port);
