import type { Browser, Page } from "playwright-core";

// The CLI's default Origin check, in a real browser: a web page the user
// happens to visit must not call the tools of a command the user runs with
// `mcp-proxy`, while a page on the user's own machine may.
//
// Headless Chromium (Debian's, driven by playwright-core) maps the name
// `attacker.test` to 127.0.0.1 (`--host-resolver-rules`), so a page served
// here has a foreign origin, `http://attacker.test:<port>`, which Chromium
// itself puts in `Origin`. The same page on `http://localhost:<port>` is a
// loopback page. Each calls the `add` tool of the built CLI, run with its
// default flags; a second CLI, run with `--allowedOrigins *`, shows that
// only the Origin check stops the foreign page.
import { createServer } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { launchChromium } from "./support/chromium.js";
import { rawRequest } from "./support/fastmcpApp.js";
import {
  cleanEnvironment,
  getFreePort,
  type RunningProcess,
  startProcess,
  waitForPortClosed,
} from "./support/processes.js";
import { repoRoot } from "./support/projects.js";

type CallResult = {
  body?: string;
  error?: string;
  status?: number;
  step?: string;
};

const closers: (() => Promise<unknown>)[] = [];
const ports: number[] = [];

let browser: Browser;
let foreignPage: Page;
let loopbackPage: Page;
let defaultCli: string;
let openCli: string;
let foreignOrigin: string;

/** Starts the built CLI in front of the fixture stdio server. */
const startCli = async (args: string[]) => {
  const port = await getFreePort();
  const cli: RunningProcess = startProcess({
    args: [
      join(repoRoot, "dist", "bin", "mcp-proxy.js"),
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      ...args,
      "--",
      process.execPath,
      "--import",
      "tsx",
      join(repoRoot, "test", "fixtures", "simple-stdio-server.ts"),
    ],
    command: process.execPath,
    cwd: repoRoot,
    env: cleanEnvironment(),
    name: "mcp-proxy",
  });
  closers.push(() => cli.stop());
  ports.push(port);

  await cli.waitFor("starting server on port");

  return `http://127.0.0.1:${port}/mcp`;
};

beforeAll(async () => {
  expect(inject("e2e").chromium).toBeTruthy();

  const pagePort = await getFreePort();
  ports.push(pagePort);

  const pageServer = createServer((_request, response) => {
    response
      .writeHead(200, { "Content-Type": "text/html" })
      .end("<!doctype html><title>a page</title>");
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

  [defaultCli, openCli] = await Promise.all([
    startCli([]),
    startCli(["--allowedOrigins", "*"]),
  ]);

  browser = await launchChromium([
    // A name that is not a loopback name, served from this machine.
    "--host-resolver-rules=MAP attacker.test 127.0.0.1",
  ]);
  closers.unshift(() => browser.close());

  foreignOrigin = `http://attacker.test:${pagePort}`;
  foreignPage = await browser.newPage();
  await foreignPage.goto(`${foreignOrigin}/`);

  loopbackPage = await browser.newPage();
  await loopbackPage.goto(`http://localhost:${pagePort}/`);
});

const closeAll = async () => {
  await Promise.allSettled(closers.splice(0).map((close) => close()));
};

afterAll(closeAll);

/**
 * What a page's script gets when it tries to call `add` at `url`, as the
 * SDK's client would: initialize, notifications/initialized, tools/call.
 */
const callAdd = async (page: Page, url: string): Promise<CallResult> =>
  page.evaluate(async (target) => {
    const post = async (message: unknown, sessionId?: null | string) => {
      const response = await fetch(target, {
        body: JSON.stringify(message),
        headers: {
          Accept: "application/json, text/event-stream",
          "Content-Type": "application/json",
          ...(sessionId ? { "Mcp-Session-Id": sessionId } : {}),
        },
        method: "POST",
      });

      return {
        body: await response.text(),
        sessionId: response.headers.get("Mcp-Session-Id"),
        status: response.status,
      };
    };

    try {
      const initialize = await post({
        id: 1,
        jsonrpc: "2.0",
        method: "initialize",
        params: {
          capabilities: {},
          clientInfo: { name: "a page", version: "1.0" },
          protocolVersion: "2025-06-18",
        },
      });

      if (initialize.status !== 200) {
        return { ...initialize, step: "initialize" };
      }

      await post(
        { jsonrpc: "2.0", method: "notifications/initialized" },
        initialize.sessionId,
      );

      const call = await post(
        {
          id: 2,
          jsonrpc: "2.0",
          method: "tools/call",
          params: { arguments: { a: 2, b: 3 }, name: "add" },
        },
        initialize.sessionId,
      );

      return { body: call.body, status: call.status, step: "tools/call" };
    } catch (error) {
      return { error: String(error) };
    }
  }, url);

describe("the CLI with its default flags", () => {
  it("cannot be called by a page on a foreign origin", async () => {
    const result = await callAdd(foreignPage, defaultCli);

    // The preflight got 403, so the browser never sent the request.
    expect(result).toEqual({ error: "TypeError: Failed to fetch" });

    const preflight = await rawRequest(defaultCli, {
      headers: {
        "Access-Control-Request-Headers": "content-type",
        "Access-Control-Request-Method": "POST",
        Origin: foreignOrigin,
      },
      method: "OPTIONS",
    });

    expect(preflight.status).toBe(403);
    expect(preflight.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("can be called by a page on a loopback origin", async () => {
    const result = await callAdd(loopbackPage, defaultCli);

    expect(result).toMatchObject({ status: 200, step: "tools/call" });
    expect(result.body).toContain('"content":[{"type":"text","text":"5"}]');
  });
});

describe("the CLI with --allowedOrigins *", () => {
  it("can be called by the same foreign page: the Origin check is what stops it", async () => {
    const result = await callAdd(foreignPage, openCli);

    expect(result).toMatchObject({ status: 200, step: "tools/call" });
    expect(result.body).toContain('"content":[{"type":"text","text":"5"}]');
  });
});

describe("afterwards", () => {
  it("leaves no browser, CLI or port behind", async () => {
    await closeAll();

    expect(browser.isConnected()).toBe(false);
    for (const port of ports) {
      expect(await waitForPortClosed(port)).toBe(true);
    }
  });
});
