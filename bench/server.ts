// One benchmark server, in its own process:
//
//   node --import tsx bench/server.ts <implementation> <S1|S2|S3|S4> <port>
//
// (run.ts compiles it to plain JavaScript first, and runs it on bare node.)
//
// fork and upstream: `startHTTPServer` from the module at BENCH_PROXY_MODULE
// (the fork's built dist/index.js, or upstream's), with MCP servers made from
// the SDK at BENCH_SDK_DIR (the app's own SDK). bare and bare-body: a
// `node:http` server that answers every request with BENCH_CANNED ({status,
// headers, body}), at once or after reading and parsing the JSON body.
// Prints "READY" once it listens; answers the IPC message "cpu" with the CPU
// time it has used; SIGTERM closes it and exits 0, so that `--cpu-prof`
// writes its profile.
import type { IncomingMessage } from "node:http";

import http from "node:http";
import { pathToFileURL } from "node:url";

import {
  API_KEY,
  type CannedResponse,
  DYNAMIC_CHALLENGE,
  type Implementation,
  IMPLEMENTATIONS,
  type Scenario,
  SCENARIOS,
  TOKEN,
} from "./common.js";

type McpServer = InstanceType<SdkServerModule["Server"]>;

type SdkServerModule =
  typeof import("@modelcontextprotocol/sdk/server/index.js");

type SdkTypesModule = typeof import("@modelcontextprotocol/sdk/types.js");

/** The options both packages' `startHTTPServer` take that the scenarios use. */
type StartHTTPServer = (options: {
  apiKey?: string;
  authenticate?: (request: IncomingMessage) => Promise<unknown>;
  createServer: (request: IncomingMessage) => Promise<McpServer>;
  enableJsonResponse?: boolean;
  host?: string;
  port: number;
  stateless?: boolean;
}) => Promise<{ close: () => Promise<void> }>;

const HOST = "127.0.0.1";

const [implementation, scenario, portText] = process.argv.slice(2) as [
  Implementation,
  Scenario,
  string,
];
const port = Number(portText);

if (
  !IMPLEMENTATIONS.includes(implementation) ||
  !SCENARIOS.includes(scenario) ||
  !Number.isInteger(port)
) {
  console.error(
    `usage: bench/server.ts <${IMPLEMENTATIONS.join("|")}> <${SCENARIOS.join("|")}> <port>`,
  );
  process.exit(2);
}

const requireEnvironment = (name: string) => {
  const value = process.env[name];

  if (!value) {
    console.error(`bench/server.ts: ${name} is not set`);
    process.exit(2);
  }

  return value;
};

const startBare = async (readBody: boolean): Promise<() => Promise<void>> => {
  const canned = JSON.parse(
    requireEnvironment("BENCH_CANNED"),
  ) as CannedResponse;
  const answer = (res: http.ServerResponse) => {
    res.writeHead(canned.status, canned.headers).end(canned.body);
  };

  const server = http.createServer((req, res) => {
    if (!readBody) {
      req.resume();
      answer(res);
      return;
    }

    const chunks: Buffer[] = [];

    req
      .on("data", (chunk: Buffer) => chunks.push(chunk))
      .on("end", () => {
        try {
          JSON.parse(Buffer.concat(chunks).toString());
        } catch {
          // The answer is the same either way.
        }

        answer(res);
      });
  });

  await new Promise<void>((resolve) => server.listen(port, HOST, resolve));

  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
};

const startProxy = async (): Promise<() => Promise<void>> => {
  const sdkDirectory = requireEnvironment("BENCH_SDK_DIR");
  const sdkUrl = (path: string) =>
    pathToFileURL(`${sdkDirectory}/dist/esm/${path}`).href;

  const [{ startHTTPServer }, { Server }, types] = await Promise.all([
    import(
      pathToFileURL(requireEnvironment("BENCH_PROXY_MODULE")).href
    ) as Promise<{ startHTTPServer: StartHTTPServer }>,
    import(sdkUrl("server/index.js")) as Promise<SdkServerModule>,
    import(sdkUrl("types.js")) as Promise<SdkTypesModule>,
  ]);

  // A trivial MCP server: one tool that echoes its argument.
  const createServer = async () => {
    const server = new Server(
      { name: "bench", version: "1.0.0" },
      { capabilities: { tools: {} } },
    );

    server.setRequestHandler(types.ListToolsRequestSchema, async () => ({
      tools: [
        {
          description: "Echoes its text",
          inputSchema: {
            properties: { text: { type: "string" } },
            type: "object",
          },
          name: "echo",
        },
      ],
    }));
    server.setRequestHandler(types.CallToolRequestSchema, async (request) => ({
      content: [{ text: String(request.params.arguments?.text), type: "text" }],
    }));

    return server;
  };

  const options: Record<Scenario, Parameters<StartHTTPServer>[0]> = {
    // Stateless POST, answered 401 by `authenticate` with its own challenge.
    S1: {
      authenticate: async () => ({
        authenticated: false,
        wwwAuthenticate: DYNAMIC_CHALLENGE,
      }),
      createServer,
      port,
      stateless: true,
    },
    // Missing X-API-Key, answered 401 before anything else runs.
    S2: { apiKey: API_KEY, createServer, port, stateless: true },
    // Stateless, authenticated tools/call answered with JSON.
    S3: {
      authenticate: async (request) =>
        request.headers.authorization === `Bearer ${TOKEN}`
          ? { authenticated: true }
          : { authenticated: false },
      createServer,
      enableJsonResponse: true,
      port,
      stateless: true,
    },
    // Stateful: tools/list on a session the parent opened.
    S4: { createServer, enableJsonResponse: true, port },
  };

  const server = await startHTTPServer({ ...options[scenario], host: HOST });

  return () => server.close();
};

const close =
  implementation === "bare" || implementation === "bare-body"
    ? await startBare(implementation === "bare-body")
    : await startProxy();

process.once("SIGTERM", () => {
  // Exit even when a keep-alive socket holds close() open.
  setTimeout(() => process.exit(0), 2000).unref();
  close().then(
    () => process.exit(0),
    () => process.exit(0),
  );
});

// The parent asks for the CPU time used so far, to get CPU time per request.
process.on("message", (message) => {
  if (message === "cpu") {
    const { system, user } = process.cpuUsage();
    process.send?.({ cpuMicroseconds: system + user });
  }
});

process.stdout.write("READY\n");
