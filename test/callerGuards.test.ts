/**
 * `allowedOrigins` and `allowedHosts`: a request whose `Origin` is present
 * and not allowed, or whose `Host` is not allowed, gets 403 on every route,
 * before the API key, `authenticate` or any session lookup. Requests
 * without `Origin` pass; without either option nothing is checked, as in
 * upstream 5.10.0.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { startHTTPServer as startUpstreamHTTPServer } from "mcp-proxy-upstream";
import http from "node:http";
import { afterEach, describe, expect, it } from "vitest";

import { startHTTPServer } from "../src/startHTTPServer.js";
import { createTestServer, rawStatus, sendRaw } from "./compat-helpers.js";
import {
  byName,
  getFreePort,
  initializeRequest,
  streamHeaders,
} from "./helpers.js";

type Options = Partial<Parameters<typeof startHTTPServer<Server>>[0]>;

const API_KEY = "guards-test-key";
const APP = "https://app.example";
const FOREIGN = "https://evil.example";

const toClose: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of toClose.splice(0)) {
    await close();
  }
});

/**
 * Starts our server on 127.0.0.1 with these options (or the options for
 * its port); counts the calls of `authenticate`.
 */
const start = async (
  optionsFor: ((server: { port: number }) => Options) | Options = {},
) => {
  const port = await getFreePort();
  const options =
    typeof optionsFor === "function" ? optionsFor({ port }) : optionsFor;
  const calls = { authenticate: 0 };
  const { close } = await startHTTPServer<Server>({
    apiKey: API_KEY,
    authenticate: async () => {
      calls.authenticate += 1;
      return { sub: "ada" };
    },
    createServer: createTestServer,
    onUnhandledRequest: async (_req, res) => {
      res.writeHead(200).end("custom");
    },
    ...options,
    host: "127.0.0.1",
    port,
  });
  toClose.push(close);

  return { calls, host: `127.0.0.1:${port}`, port };
};

type Answer = {
  body: string;
  headers: http.IncomingHttpHeaders;
  status: number;
};

/**
 * Sends one request with node:http, which (unlike fetch) sends any `Host`.
 * An event stream's body is not waited for: its head is the answer.
 */
const send = (
  port: number,
  {
    body,
    headers = {},
    method,
    path,
  }: {
    body?: string;
    headers?: Record<string, string>;
    method: string;
    path: string;
  },
) =>
  new Promise<Answer>((resolve, reject) => {
    const outgoing = http.request({
      agent: false,
      headers,
      host: "127.0.0.1",
      method,
      path,
      port,
    });

    outgoing.on("error", reject);
    outgoing.on("response", (response) => {
      const answer = {
        headers: response.headers,
        status: response.statusCode!,
      };

      if (
        String(response.headers["content-type"]).startsWith("text/event-stream")
      ) {
        outgoing.destroy();
        resolve({ ...answer, body: "" });
        return;
      }

      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => resolve({ ...answer, body: text }));
    });
    outgoing.end(body);
  });

const forbidden = (what: "host" | "origin") =>
  JSON.stringify({
    error: { code: -32000, message: `Forbidden: ${what} not allowed` },
    id: null,
    jsonrpc: "2.0",
  });

type Route = {
  body?: string;
  headers?: Record<string, string>;
  method: string;
  name: string;
  /** The status of a request the guards let by. */
  passes: number;
  path: string;
};

/** Every route the server answers. */
const ROUTES = byName<Route>([
  {
    body: JSON.stringify(initializeRequest()),
    headers: streamHeaders,
    method: "POST",
    name: "stream POST",
    passes: 200,
    path: "/mcp",
  },
  { method: "GET", name: "stream GET", passes: 400, path: "/mcp" },
  { method: "DELETE", name: "stream DELETE", passes: 400, path: "/mcp" },
  { method: "GET", name: "GET /sse", passes: 200, path: "/sse" },
  {
    body: JSON.stringify({ id: 1, jsonrpc: "2.0", method: "ping" }),
    headers: { "Content-Type": "application/json" },
    method: "POST",
    name: "POST /messages",
    passes: 400,
    path: "/messages?sessionId=none",
  },
  { method: "GET", name: "GET /ping", passes: 200, path: "/ping" },
  {
    headers: { "Access-Control-Request-Method": "POST" },
    method: "OPTIONS",
    name: "OPTIONS preflight",
    passes: 204,
    path: "/mcp",
  },
  { method: "GET", name: "onUnhandledRequest", passes: 200, path: "/custom" },
]);

describe("allowedOrigins", () => {
  it.each(ROUTES)(
    "%s: a foreign Origin gets 403 before the API key and authenticate",
    async (_, route) => {
      const server = await start({ allowedOrigins: [APP] });

      const answer = await send(server.port, {
        ...route,
        // No API key and no token: the 403 comes first all the same.
        headers: { ...route.headers, Origin: FOREIGN },
      });

      expect(answer).toMatchObject({
        body: forbidden("origin"),
        headers: { "content-type": "application/json" },
        status: 403,
      });
      expect(answer.headers["access-control-allow-origin"]).toBeUndefined();
      expect(server.calls.authenticate).toBe(0);
    },
  );

  it.each(ROUTES)(
    "%s: an allowed Origin, or none, is answered as without the option",
    async (_, route) => {
      const server = await start({ allowedOrigins: [APP] });

      for (const origin of [{ Origin: APP }, {}] as Record<string, string>[]) {
        const answer = await send(server.port, {
          ...route,
          headers: { ...route.headers, ...origin, "X-API-Key": API_KEY },
        });

        expect(answer.status, JSON.stringify(origin)).toBe(route.passes);
      }
    },
  );

  it.each(
    byName([
      {
        allowed: true,
        name: "default port and case",
        origin: "HTTPS://App.Example:443",
      },
      {
        allowed: true,
        name: "a trailing slash",
        origin: "https://app.example/",
      },
      { allowed: false, name: "another scheme", origin: "http://app.example" },
      {
        allowed: false,
        name: "another port",
        origin: "https://app.example:8443",
      },
      { allowed: false, name: "a subdomain", origin: "https://x.app.example" },
      { allowed: false, name: "the opaque origin null", origin: "null" },
      { allowed: false, name: "not a URL", origin: "app.example" },
      { allowed: false, name: "empty", origin: "" },
    ]),
  )("compares normalised origins: %s", async (_, { allowed, origin }) => {
    const server = await start({ allowedOrigins: `${APP}/` });

    const answer = await send(server.port, {
      headers: { Origin: origin },
      method: "GET",
      path: "/ping",
    });

    expect(answer.status).toBe(allowed ? 200 : 403);
  });

  it("allows `null` only when it is listed", async () => {
    const server = await start({ allowedOrigins: ["null"] });

    const answer = await send(server.port, {
      headers: { Origin: "null" },
      method: "GET",
      path: "/ping",
    });

    expect(answer.status).toBe(200);
  });

  it("asks a function with the normalised origin; a throw allows nothing", async () => {
    const asked: string[] = [];
    const server = await start({
      allowedOrigins: (origin) => {
        asked.push(origin);
        if (origin === FOREIGN) {
          throw new Error("no");
        }
        return origin === APP;
      },
    });

    const statuses = [];
    for (const origin of ["https://APP.example:443/x", FOREIGN, "not a url"]) {
      const answer = await send(server.port, {
        headers: { Origin: origin },
        method: "GET",
        path: "/ping",
      });
      statuses.push(answer.status);
    }

    expect(statuses).toEqual([200, 403, 403]);
    // Each request asks once for the guard and once for CORS; an Origin
    // that is not a URL is refused without asking.
    expect([...new Set(asked)]).toEqual([APP, FOREIGN]);
  });

  it("refuses to start with an entry that is not an origin", async () => {
    await expect(
      start({ allowedOrigins: [APP, "app.example"] }),
    ).rejects.toThrow('allowedOrigins: "app.example" is not an origin');
  });

  it("makes CORS echo the allowed origin, with Vary: Origin", async () => {
    const server = await start({ allowedOrigins: [APP] });

    const answer = await send(server.port, {
      headers: { "Access-Control-Request-Method": "POST", Origin: APP },
      method: "OPTIONS",
      path: "/mcp",
    });

    expect(answer.status).toBe(204);
    expect(answer.headers["access-control-allow-origin"]).toBe(APP);
    expect(answer.headers.vary).toBe("Origin");
  });

  it("leaves CORS to `cors.origin` when it is given", async () => {
    const server = await start({
      allowedOrigins: [APP],
      cors: { origin: "*" },
    });

    const answer = await send(server.port, {
      headers: { Origin: APP },
      method: "GET",
      path: "/ping",
    });

    expect(answer.headers["access-control-allow-origin"]).toBe("*");
  });
});

describe("allowedHosts", () => {
  // A Host value names a port: a name without one is another value.
  const hostsOf = (port: number) => [`localhost:${port}`, `[::1]:${port}`];

  it.each(ROUTES)(
    "%s: another Host gets 403 before the API key and authenticate",
    async (_, route) => {
      const server = await start(({ port }) => ({
        allowedHosts: hostsOf(port),
      }));

      for (const host of [
        `evil.example:${server.port}`,
        "localhost",
        server.host,
      ]) {
        const answer = await send(server.port, {
          ...route,
          headers: { ...route.headers, Host: host, Origin: APP },
        });

        expect(answer, host).toMatchObject({
          body: forbidden("host"),
          headers: { "content-type": "application/json" },
          status: 403,
        });
      }
      expect(server.calls.authenticate).toBe(0);
    },
  );

  it.each(ROUTES)(
    "%s: a listed Host, in any case, is answered as without the option",
    async (_, route) => {
      const server = await start(({ port }) => ({
        allowedHosts: hostsOf(port),
      }));

      for (const host of [`LocalHost:${server.port}`, `[::1]:${server.port}`]) {
        const answer = await send(server.port, {
          ...route,
          headers: { ...route.headers, Host: host, "X-API-Key": API_KEY },
        });

        expect(answer.status, host).toBe(route.passes);
      }
    },
  );

  it("refuses a request without Host (HTTP/1.0)", async () => {
    const server = await start(({ port }) => ({ allowedHosts: hostsOf(port) }));

    const answer = await sendRaw(server.port, "GET /ping HTTP/1.0\r\n\r\n");

    expect(rawStatus(answer)).toBe(403);
    expect(answer.endsWith(forbidden("host"))).toBe(true);
  });

  it("asks a function with the lower-cased Host", async () => {
    const asked: string[] = [];
    const server = await start({
      allowedHosts: (host) => {
        asked.push(host);
        return host.startsWith("mcp.example:");
      },
    });

    const statuses = [];
    for (const host of [`MCP.example:${server.port}`, server.host]) {
      const answer = await send(server.port, {
        headers: { Host: host },
        method: "GET",
        path: "/ping",
      });
      statuses.push(answer.status);
    }

    expect(statuses).toEqual([200, 403]);
    expect(asked).toEqual([`mcp.example:${server.port}`, server.host]);
  });
});

describe("without allowedOrigins and allowedHosts", () => {
  it.each(["ours", "upstream"] as const)(
    "%s: any Origin and Host pass",
    async (side) => {
      const port = await getFreePort();
      const starter =
        side === "ours" ? startHTTPServer : startUpstreamHTTPServer;
      const { close } = await starter<Server>({
        createServer: createTestServer,
        host: "127.0.0.1",
        port,
      });
      toClose.push(close);

      const answer = await send(port, {
        body: JSON.stringify(initializeRequest()),
        headers: { ...streamHeaders, Host: "evil.example", Origin: FOREIGN },
        method: "POST",
        path: "/mcp",
      });

      expect(answer.status).toBe(200);
    },
  );
});
