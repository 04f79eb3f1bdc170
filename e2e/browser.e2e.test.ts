import type { Browser, Page } from "playwright-core";

// A browser MCP client: a page served from one loopback origin calls an MCP
// server on another, in headless Chromium (Debian's, driven by
// playwright-core). It must read the 401's WWW-Authenticate, then run a
// session with a token through CORS: initialize, the GET stream, tools/list
// and DELETE. With the default CORS options it works without cookies (as the
// SDK's client sends its token) and a cookie-credentialed read is refused;
// with the page's origin listed, both work. Against upstream 5.10.0 the same
// page cannot read the challenge, though it is on the wire.
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { startHTTPServer as startUpstreamHTTPServer } from "mcp-proxy-upstream";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { startHTTPServer } from "../src/index.js";
import { launchChromium } from "./support/chromium.js";
import { fieldValues, rawRequest } from "./support/fastmcpApp.js";
import { getFreePort, waitForPortClosed } from "./support/processes.js";
import { fixturesDirectory } from "./support/projects.js";

const TOKEN = "e2e-browser-token";

type BrowserClient = {
  probe: (url: string, credentials: RequestCredentials) => Promise<ProbeResult>;
  session: (
    url: string,
    token: string,
    credentials: RequestCredentials,
  ) => Promise<SessionStep[]>;
};

type ProbeResult = {
  body: string;
  contentType: null | string;
  error?: string;
  status: number;
  wwwAuthenticate: null | string;
};

type SessionStep = {
  error?: string;
  name: string;
  ok: boolean;
  status?: number;
  tools?: string[];
};

const createMcpServer = async () => {
  const server = new Server(
    { name: "e2e-browser-mcp", version: "1.0.0" },
    { capabilities: { tools: {} } },
  );

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: [{ inputSchema: { type: "object" }, name: "echo" }],
  }));
  server.setRequestHandler(CallToolRequestSchema, async () => ({
    content: [{ text: "echo", type: "text" }],
  }));

  return server;
};

/** The app's check: one good token; anything else gets its challenge. */
const authenticateWith =
  (challenge: string) => async (request: IncomingMessage) =>
    request.headers.authorization === `Bearer ${TOKEN}`
      ? { sub: "ada" }
      : {
          authenticated: false,
          error: "Unauthorized: a bearer token is required",
          wwwAuthenticate: challenge,
        };

const closers: (() => Promise<void>)[] = [];
const ports: number[] = [];
const consoleMessages: string[] = [];

let browser: Browser;
let page: Page;
let pageOrigin: string;
let forkUrl: string;
let forkChallenge: string;
let listedUrl: string;
let listedChallenge: string;
let upstreamUrl: string;
let upstreamChallenge: string;

beforeAll(async () => {
  expect(inject("e2e").chromium).toBeTruthy();

  const [pagePort, forkPort, listedPort, upstreamPort] = await Promise.all([
    getFreePort(),
    getFreePort(),
    getFreePort(),
    getFreePort(),
  ]);
  ports.push(pagePort, forkPort, listedPort, upstreamPort);

  // The page's own origin.
  const html = readFileSync(join(fixturesDirectory, "browser-client.html"));
  const pageServer = createServer((request, response) => {
    if (request.url === "/") {
      response.writeHead(200, { "Content-Type": "text/html" }).end(html);
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) =>
    pageServer.listen(pagePort, "127.0.0.1", resolve),
  );
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        pageServer.close(() => resolve());
        pageServer.closeAllConnections();
      }),
  );
  pageOrigin = `http://127.0.0.1:${pagePort}`;

  // The MCP server on the fork, with its default CORS options.
  forkUrl = `http://127.0.0.1:${forkPort}/mcp`;
  forkChallenge = `Bearer resource_metadata="http://127.0.0.1:${forkPort}/.well-known/oauth-protected-resource/mcp"`;
  const fork = await startHTTPServer({
    authenticate: authenticateWith(forkChallenge),
    createServer: createMcpServer,
    host: "127.0.0.1",
    port: forkPort,
  });
  closers.push(() => fork.close());

  // The same app, with the page's origin listed: credentialed reads work.
  listedUrl = `http://127.0.0.1:${listedPort}/mcp`;
  listedChallenge = `Bearer resource_metadata="http://127.0.0.1:${listedPort}/.well-known/oauth-protected-resource/mcp"`;
  const listed = await startHTTPServer({
    authenticate: authenticateWith(listedChallenge),
    cors: { origin: [pageOrigin] },
    createServer: createMcpServer,
    host: "127.0.0.1",
    port: listedPort,
  });
  closers.push(() => listed.close());

  // The same app on upstream 5.10.0, given `oauth` so that its 401 does
  // carry a challenge (stateless: upstream calls authenticate only there).
  upstreamUrl = `http://127.0.0.1:${upstreamPort}/mcp`;
  upstreamChallenge = `Bearer resource_metadata="http://127.0.0.1:${upstreamPort}/.well-known/oauth-protected-resource"`;
  const upstream = await startUpstreamHTTPServer({
    authenticate: authenticateWith(upstreamChallenge),
    createServer: createMcpServer,
    host: "127.0.0.1",
    oauth: {
      protectedResource: { resource: `http://127.0.0.1:${upstreamPort}` },
    },
    port: upstreamPort,
    stateless: true,
  });
  closers.push(() => upstream.close());

  browser = await launchChromium();
  closers.unshift(() => browser.close());

  page = await browser.newPage();
  page.on("console", (message) => {
    consoleMessages.push(message.text());
  });
  await page.goto(`${pageOrigin}/`);
});

const closeAll = async () => {
  await Promise.allSettled(closers.splice(0).map((close) => close()));
};

afterAll(closeAll);

/**
 * Runs `work` in the page. An error from the page is thrown again without
 * its page stack, whose http:// frames Vitest cannot map to files.
 */
const inPage = async <T>(work: () => Promise<T>): Promise<T> => {
  try {
    return await work();
  } catch (error) {
    throw new Error(error instanceof Error ? error.message : String(error));
  }
};

const probe = (url: string, credentials: RequestCredentials) =>
  inPage(() =>
    page.evaluate(
      ([target, mode]) =>
        (window as unknown as { mcp: BrowserClient }).mcp.probe(target, mode),
      [url, credentials] as const,
    ),
  );

const runSession = (url: string, credentials: RequestCredentials) =>
  inPage(() =>
    page.evaluate(
      ([target, token, mode]) =>
        (window as unknown as { mcp: BrowserClient }).mcp.session(
          target,
          token,
          mode,
        ),
      [url, TOKEN, credentials] as const,
    ),
  );

/** What Chromium said since `from` (CORS errors are logged there). */
const consoleSince = (from: number) => consoleMessages.slice(from).join("\n");

const SESSION_LOG = [
  expect.objectContaining({ name: "initialize", ok: true, status: 200 }),
  expect.objectContaining({
    name: "notifications/initialized",
    ok: true,
    status: 202,
  }),
  expect.objectContaining({ name: "GET stream", ok: true, status: 200 }),
  expect.objectContaining({
    name: "tools/list",
    ok: true,
    status: 200,
    tools: ["echo"],
  }),
  expect.objectContaining({ name: "DELETE", ok: true, status: 200 }),
  expect.objectContaining({
    name: "tools/list after DELETE",
    ok: true,
    status: 404,
  }),
];

describe.each([
  { credentials: "omit", name: "fork defaults", url: () => forkUrl },
  { credentials: "omit", name: "origin listed", url: () => listedUrl },
  { credentials: "include", name: "origin listed", url: () => listedUrl },
] as const)(
  "a page on another origin, $name, credentials: $credentials",
  ({ credentials, url }) => {
    it("reads WWW-Authenticate from the 401", async () => {
      const from = consoleMessages.length;
      const result = await probe(url(), credentials);

      expect(result, consoleSince(from)).toMatchObject({
        contentType: "application/json",
        status: 401,
        wwwAuthenticate: url() === forkUrl ? forkChallenge : listedChallenge,
      });
      expect(JSON.parse(result.body)).toMatchObject({
        error: { message: "Unauthorized: a bearer token is required" },
        id: 1,
      });
    });

    it("runs initialize, the GET stream, tools/list and DELETE with a token", async () => {
      const from = consoleMessages.length;
      const log = await runSession(url(), credentials);

      expect(log, consoleSince(from)).toEqual(SESSION_LOG);
    });
  },
);

describe("a page on another origin, fork defaults, credentials: include", () => {
  it("cannot read the answer: `*` refuses a cookie-credentialed read", async () => {
    const result = await probe(forkUrl, "include");

    expect(result.error).toMatch(/Failed to fetch/);
    expect(result).not.toHaveProperty("status");
  });
});

describe("the fork's CORS answers on the wire", () => {
  const preflight = (method: string, headers: string) =>
    rawRequest(forkUrl, {
      headers: {
        "Access-Control-Request-Headers": headers,
        "Access-Control-Request-Method": method,
        Origin: pageOrigin,
      },
      method: "OPTIONS",
    });

  it("allows every header and method a session needs", async () => {
    const response = await preflight(
      "DELETE",
      "authorization,mcp-protocol-version,mcp-session-id",
    );
    const allowedHeaders = String(
      response.headers["access-control-allow-headers"],
    ).toLowerCase();

    expect(response.status).toBe(204);
    expect(String(response.headers["access-control-allow-methods"])).toMatch(
      /\bDELETE\b/,
    );
    for (const header of [
      "authorization",
      "content-type",
      "last-event-id",
      "mcp-protocol-version",
      "mcp-session-id",
    ]) {
      expect(allowedHeaders).toContain(header);
    }
  });

  it("answers `*` by default: it never echoes an origin with credentials", async () => {
    for (const response of [
      await preflight("POST", "authorization,content-type"),
      await rawRequest(forkUrl, {
        body: "{}",
        headers: { "Content-Type": "application/json", Origin: pageOrigin },
        method: "POST",
      }),
    ]) {
      expect(response.headers["access-control-allow-origin"]).toBe("*");
      expect(response.headers.vary).toBeUndefined();
    }
  });

  it("exposes WWW-Authenticate and Mcp-Session-Id on the 401", async () => {
    const response = await rawRequest(forkUrl, {
      body: "{}",
      headers: { "Content-Type": "application/json", Origin: pageOrigin },
      method: "POST",
    });
    const exposed = String(response.headers["access-control-expose-headers"])
      .toLowerCase()
      .split(/\s*,\s*/);

    expect(response.status).toBe(401);
    expect(exposed).toEqual(
      expect.arrayContaining(["mcp-session-id", "www-authenticate"]),
    );
  });
});

describe("the same page against upstream 5.10.0", () => {
  it("cannot read the challenge, though the 401 carries it", async () => {
    const onTheWire = await rawRequest(upstreamUrl, {
      body: "{}",
      headers: { "Content-Type": "application/json", Origin: pageOrigin },
      method: "POST",
    });

    expect(onTheWire.status).toBe(401);
    expect(fieldValues(onTheWire, "WWW-Authenticate")).toEqual([
      upstreamChallenge,
    ]);

    const result = await probe(upstreamUrl, "omit");

    expect(result.status).toBe(401);
    expect(result.wwwAuthenticate).toBeNull();
  });
});

describe("afterwards", () => {
  it("leaves no browser, server or port behind", async () => {
    const browserProcess = browser.isConnected();
    await closeAll();

    expect(browserProcess).toBe(true);
    expect(browser.isConnected()).toBe(false);
    for (const port of ports) {
      expect(await waitForPortClosed(port)).toBe(true);
    }
  });
});
