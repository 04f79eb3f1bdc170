// The FastMCP 3.x app of e2e/fixtures/fastmcp-app.mjs, run as a child
// process inside a consumer project, and the reported scenario's check
// against it.
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { ListRootsRequestSchema } from "@modelcontextprotocol/sdk/types.js";

import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import {
  cleanEnvironment,
  getFreePort,
  type RunningProcess,
  startProcess,
} from "./processes.js";

/** The challenge the app's `authenticate` returns (the reported scenario). */
export const APP_CHALLENGE =
  'Bearer realm="MCP Server", authorization_server="http://localhost:8080/realms/mcp_security"';

/** The reported scenario's `curl -i` initialize body, byte for byte. */
export const REPORTED_INITIALIZE =
  '{"jsonrpc":"2.0","method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"test-client","version":"1.0"}},"id":1}';

export const GOOD_TOKEN = "e2e-good-token";

export type RawResponse = {
  body: string;
  /** Every field line as received, names lowercased, repeats kept. */
  fields: [string, string][];
  headers: Record<string, string | string[] | undefined>;
  status: number;
};

/** The values of every field line named `name`. */
export const fieldValues = (response: RawResponse, name: string) =>
  response.fields
    .filter(([field]) => field === name.toLowerCase())
    .map(([, value]) => value);

/**
 * An HTTP request with node:http, which keeps each header field line
 * (fetch joins repeated ones), like `curl -i`. An https URL goes through
 * node:https, which verifies the server's certificate against `ca` (PEM).
 */
export const rawRequest = (
  url: string,
  {
    body,
    ca,
    headers = {},
    method = "GET",
  }: {
    body?: string;
    ca?: Buffer | string;
    headers?: Record<string, string>;
    method?: string;
  } = {},
) =>
  new Promise<RawResponse>((resolve, reject) => {
    const respond = (incoming: IncomingMessage) => {
      const chunks: Buffer[] = [];

      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.on("error", reject);
      incoming.on("end", () => {
        const fields: [string, string][] = [];

        for (let index = 0; index < incoming.rawHeaders.length; index += 2) {
          fields.push([
            incoming.rawHeaders[index].toLowerCase(),
            incoming.rawHeaders[index + 1],
          ]);
        }

        resolve({
          body: Buffer.concat(chunks).toString(),
          fields,
          headers: incoming.headers,
          status: incoming.statusCode ?? 0,
        });
      });
    };
    const outgoing = url.startsWith("https:")
      ? httpsRequest(url, { ca, headers, method }, respond)
      : httpRequest(url, { headers, method }, respond);

    outgoing.on("error", reject);
    outgoing.end(body);
  });

/**
 * The JSON-RPC message of a POST's answer, whether it came as JSON or as an
 * SSE stream (the first `data:` line).
 */
export const jsonRpcMessage = (body: string): unknown => {
  const data = body
    .split("\n")
    .find((line) => line.startsWith("data: "))
    ?.slice("data: ".length);
  return JSON.parse(data ?? body);
};

/** The reported scenario's request: `curl -i -X POST <url>` with the initialize body. */
export const sendReportedInitialize = (
  url: string,
  token?: string,
  ca?: Buffer | string,
) =>
  rawRequest(url, {
    body: REPORTED_INITIALIZE,
    ca,
    headers: {
      Accept: "application/json, text/event-stream",
      "Content-Type": "application/json",
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    method: "POST",
  });

export type FastMCPApp = { port: number; url: string } & RunningProcess;

/**
 * Starts the fixture app of a consumer project on 127.0.0.1. `env` adds the
 * fixture's optional settings (E2E_OAUTH_RESOURCE, E2E_SSL_*); with
 * E2E_SSL_CERT the app serves HTTPS.
 */
export const startFastMCPApp = async ({
  directory,
  env = {},
  name,
  port: chosenPort,
  stateless,
}: {
  directory: string;
  env?: Record<string, string>;
  name: string;
  /** A free port picked beforehand, when `env` has to name it. */
  port?: number;
  stateless: boolean;
}): Promise<FastMCPApp> => {
  const port = chosenPort ?? (await getFreePort());
  const app = startProcess({
    args: ["fastmcp-app.mjs"],
    command: process.execPath,
    cwd: directory,
    env: cleanEnvironment({
      E2E_PORT: String(port),
      E2E_STATELESS: String(stateless),
      E2E_TOKEN: GOOD_TOKEN,
      ...env,
    }),
    name,
  });

  await app.waitFor("E2E_READY");

  const scheme = env.E2E_SSL_CERT ? "https" : "http";

  return { ...app, port, url: `${scheme}://127.0.0.1:${port}/mcp` };
};

type SdkClientModules = {
  Client: typeof Client;
  ListRootsRequestSchema: typeof ListRootsRequestSchema;
  StreamableHTTPClientTransport: typeof StreamableHTTPClientTransport;
};

/**
 * The MCP SDK client of a consumer project (the version the app holds),
 * loaded from that project's node_modules.
 */
export const loadProjectSdkClient = async (
  directory: string,
): Promise<SdkClientModules> => {
  const sdk = join(
    directory,
    "node_modules",
    "@modelcontextprotocol",
    "sdk",
    "dist",
    "esm",
  );
  const [
    { Client: ProjectClient },
    { StreamableHTTPClientTransport: ProjectTransport },
    { ListRootsRequestSchema: ProjectListRoots },
  ] = (await Promise.all([
    import(pathToFileURL(join(sdk, "client", "index.js")).href),
    import(pathToFileURL(join(sdk, "client", "streamableHttp.js")).href),
    import(pathToFileURL(join(sdk, "types.js")).href),
  ])) as [
    { Client: typeof Client },
    { StreamableHTTPClientTransport: typeof StreamableHTTPClientTransport },
    { ListRootsRequestSchema: typeof ListRootsRequestSchema },
  ];

  return {
    Client: ProjectClient,
    ListRootsRequestSchema: ProjectListRoots,
    StreamableHTTPClientTransport: ProjectTransport,
  };
};
