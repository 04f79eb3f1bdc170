/**
 * Secrets stay secret: no token, API key, request body or challenge value
 * reaches a log line, and none reaches an answer the proxy writes itself;
 * no answer carries a stack trace. Errors are logged by kind only (their
 * messages can quote what a client sent); `NODE_DEBUG=mcp-proxy` prints
 * them whole for whoever debugs on purpose. Upstream 5.10.0 logs the error
 * `authenticate` threw, message and all.
 */
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";

import { startHTTPServer as upstreamStartHTTPServer } from "mcp-proxy-upstream";
import { randomUUID } from "node:crypto";
import { connect } from "node:net";
import { format } from "node:util";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { startHTTPServer } from "../src/startHTTPServer.js";
import { getFreePort } from "./helpers.js";
import {
  type Answer,
  createEchoServer,
  echoCall,
  initializeMessage,
  send,
  STREAM_HEADERS,
} from "./stress-helpers.js";

const secret = (name: string) => `${name}-SECRET-${randomUUID()}`;

const TOKEN = secret("token");
const API_KEY = secret("apikey");
const WRONG_API_KEY = secret("wrongkey");
const BODY_SECRET = secret("body");
const COOKIE = secret("cookie");
const CHALLENGE = `Bearer error="invalid_token", error_description="${secret("challenge")}"`;
const BAD_CHALLENGE_SECRET = secret("badchallenge");
const ORIGIN_SECRET = secret("origin");
const SECRETS = [
  TOKEN,
  API_KEY,
  WRONG_API_KEY,
  BODY_SECRET,
  COOKIE,
  CHALLENGE,
  BAD_CHALLENGE_SECRET,
  ORIGIN_SECRET,
];

const STACK_TRACE = /\n\s+at \S/;

let logs: string[] = [];

beforeEach(() => {
  logs = [];
  for (const method of [
    "debug",
    "error",
    "info",
    "log",
    "trace",
    "warn",
  ] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      logs.push(format(...args));
    });
  }
});

afterEach(() => {
  vi.restoreAllMocks();
});

const toClose: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) {
    await close();
  }
});

const start = async (
  options: Partial<Parameters<typeof startHTTPServer<Server>>[0]>,
) => {
  const port = await getFreePort();
  const { close } = await startHTTPServer<Server>({
    createServer: createEchoServer,
    host: "127.0.0.1",
    port,
    ...options,
  });
  toClose.push(close);

  return port;
};

/** Every header of an answer but the challenge, and its body, as text. */
const visible = (answer: Answer) =>
  JSON.stringify({
    body: answer.body,
    headers: Object.entries(answer.headers).filter(
      ([name]) => name !== "www-authenticate",
    ),
  });

const expectNoSecrets = (answers: Answer[]) => {
  const everything = [...logs, ...answers.map(visible)].join("\n");

  for (const value of SECRETS) {
    expect(everything).not.toContain(value);
  }

  for (const answer of answers) {
    expect(answer.body).not.toMatch(STACK_TRACE);
  }
};

/** Headers a client carrying secrets sends. */
const secretHeaders = {
  ...STREAM_HEADERS,
  Authorization: `Bearer ${TOKEN}`,
  Cookie: `session=${COOKIE}`,
  "X-API-Key": WRONG_API_KEY,
};

describe("secrets in logs and answers", () => {
  it("failed authentication: API key, token, challenge, cookies", async () => {
    const port = await start({
      apiKey: API_KEY,
      authenticate: async (req) =>
        req.headers.authorization === "Bearer good"
          ? true
          : {
              authenticated: false,
              error: "Unauthorized: invalid token",
              wwwAuthenticate: CHALLENGE,
            },
    });

    const answers = [
      // Wrong API key.
      await send(port, { body: initializeMessage(1), headers: secretHeaders }),
      // Right API key, token refused: the challenge goes out in its header.
      await send(port, {
        body: initializeMessage(1),
        headers: { ...secretHeaders, "X-API-Key": API_KEY },
      }),
      await send(port, {
        headers: { ...secretHeaders, "X-API-Key": API_KEY },
        method: "GET",
        path: "/sse",
      }),
    ];

    expect(answers.map(({ status }) => status)).toEqual([401, 401, 401]);
    expect(answers[1].headers["www-authenticate"]).toBe(CHALLENGE);
    expectNoSecrets(answers);
  });

  it("a challenge that cannot go on the wire is refused without being quoted", async () => {
    const port = await start({
      authenticate: async () => ({
        authenticated: false,
        wwwAuthenticate: [
          `Bearer error_description="${BAD_CHALLENGE_SECRET}"\r\nSet-Cookie: x=1`,
        ],
      }),
    });

    const answer = await send(port, {
      body: initializeMessage(1),
      headers: secretHeaders,
    });

    expect(answer.status).toBe(401);
    expect(logs.join("\n")).toContain("ignoring wwwAuthenticate");
    expectNoSecrets([answer]);
  });

  it("errors thrown by authenticate, createServer, onConnect, onClose are logged by kind, never by message", async () => {
    const leaky = (where: string) =>
      Object.assign(new TypeError(`${where} failed for ${TOKEN}`), {
        config: { apiKey: API_KEY },
      });
    let authenticateThrows = true;

    const port = await start({
      authenticate: async () => {
        if (authenticateThrows) {
          throw leaky("authenticate");
        }
        return true;
      },
      createServer: async (req) => {
        if (req.headers["x-fail"] === "createServer") {
          throw leaky("createServer");
        }
        return createEchoServer();
      },
      onClose: async () => {
        throw leaky("onClose");
      },
      onConnect: async () => {
        throw leaky("onConnect");
      },
    });

    // authenticate throws: a 401 whose message is the error's own (the
    // contract: apps choose what it says); the log names only its kind.
    const thrown = await send(port, {
      body: initializeMessage(1),
      headers: secretHeaders,
    });
    expect(thrown.status).toBe(401);
    expect(logs.join("\n")).toContain(
      "[mcp-proxy] authentication error TypeError",
    );
    for (const value of SECRETS) {
      expect(logs.join("\n")).not.toContain(value);
    }

    authenticateThrows = false;
    const answers = [
      // createServer throws a non-auth error: 500, fixed text.
      await send(port, {
        body: initializeMessage(1),
        headers: { ...secretHeaders, "X-Fail": "createServer" },
      }),
      // onConnect throws on the stream endpoint: 500, fixed JSON.
      await send(port, { body: initializeMessage(2), headers: secretHeaders }),
      // onConnect throws on GET /sse: the stream ends.
      await send(port, { headers: secretHeaders, method: "GET", path: "/sse" }),
    ];

    expect(answers.map(({ status }) => status)).toEqual([500, 500, 200]);
    await vi.waitFor(() =>
      expect(logs.join("\n")).toContain(
        "[mcp-proxy] error in onClose TypeError",
      ),
    );
    expect(logs.join("\n")).toContain(
      "[mcp-proxy] error handling request TypeError",
    );
    expectNoSecrets(answers);
  });

  it("bodies that are not JSON, and origins that are not URLs, are not quoted", async () => {
    const port = await start({ enableJsonResponse: true, stateless: true });

    const answers = [
      // V8's JSON.parse error quotes the text it choked on.
      await send(port, {
        body: `{"token": "${BODY_SECRET}", oops`,
        headers: secretHeaders,
      }),
      await send(port, {
        body: echoCall(1, "x"),
        headers: { ...secretHeaders, Origin: `http://[${ORIGIN_SECRET}` },
      }),
    ];

    expect(logs.join("\n")).toContain(
      "[mcp-proxy] error parsing body SyntaxError",
    );
    expect(logs.join("\n")).toContain(
      "[mcp-proxy] error parsing origin TypeError",
    );
    expectNoSecrets(answers);
  });

  it("a request target or body the proxy refuses is not echoed", async () => {
    const port = await start({ maxBodySize: 100 });

    const raw = await new Promise<string>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      let text = "";
      socket.setEncoding("utf8");
      socket.on("data", (chunk: string) => (text += chunk));
      socket.on("error", () => {});
      socket.on("close", () => resolve(text));
      socket.write(
        `POST http://[${TOKEN} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
      );
    });
    const tooLarge = await send(port, {
      body: JSON.stringify({ padding: "x".repeat(200), secret: BODY_SECRET }),
      headers: secretHeaders,
    });

    expect(raw).toMatch(/^HTTP\/1\.1 400/);
    expect(tooLarge.status).toBe(413);
    expect(raw).not.toContain(TOKEN);
    expectNoSecrets([tooLarge]);
  });
});

describe("upstream 5.10.0", () => {
  it("logs the error authenticate threw, message and all", async () => {
    const port = await getFreePort();
    const upstream = await upstreamStartHTTPServer<Server>({
      authenticate: async () => {
        throw new Error(`token ${TOKEN} expired`);
      },
      createServer: createEchoServer,
      host: "127.0.0.1",
      port,
      stateless: true,
    });

    try {
      const answer = await send(port, {
        body: initializeMessage(1),
        headers: secretHeaders,
      });
      expect(answer.status).toBe(401);
    } finally {
      await upstream.close();
    }

    expect(logs.join("\n")).toContain(TOKEN);
  });
});
