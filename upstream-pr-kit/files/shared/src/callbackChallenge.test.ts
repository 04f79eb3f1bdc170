import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { getRandomPort } from "get-port-please";
import http from "http";
import { expect, it, vi } from "vitest";

import { startHTTPServer } from "./startHTTPServer.js";

// The challenge an app's `authenticate` computed, as RFC 6750 §3 and RFC 9728
// §5.1 shape it.
const challenge =
  'Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp", error="invalid_token", error_description="The access token expired"';

const initializeRequest = {
  id: 1,
  jsonrpc: "2.0",
  method: "initialize",
  params: {
    capabilities: {},
    clientInfo: { name: "test", version: "1.0.0" },
    protocolVersion: "2025-03-26",
  },
};

const postInitialize = (port: number) =>
  fetch(`http://localhost:${port}/mcp`, {
    body: JSON.stringify(initializeRequest),
    headers: {
      Accept: "application/json, text/event-stream",
      "Content-Type": "application/json",
    },
    method: "POST",
  });

// fetch joins repeated WWW-Authenticate lines with ", "; node:http keeps
// each field line apart in rawHeaders.
const getChallengeLines = (port: number) =>
  new Promise<{ lines: string[]; statusCode?: number }>((resolve, reject) => {
    const request = http.request(
      {
        headers: {
          Accept: "application/json, text/event-stream",
          "Content-Type": "application/json",
        },
        host: "localhost",
        method: "POST",
        path: "/mcp",
        port,
      },
      (response) => {
        const lines: string[] = [];

        for (let i = 0; i < response.rawHeaders.length; i += 2) {
          if (response.rawHeaders[i].toLowerCase() === "www-authenticate") {
            lines.push(response.rawHeaders[i + 1]);
          }
        }

        response.resume();
        response.on("end", () =>
          resolve({ lines, statusCode: response.statusCode }),
        );
      },
    );

    request.on("error", reject);
    request.end(JSON.stringify(initializeRequest));
  });

it("sends the challenge authenticate returns with { authenticated: false }", async () => {
  const port = await getRandomPort();

  const httpServer = await startHTTPServer({
    authenticate: async () => ({
      authenticated: false,
      error: "The access token expired",
      wwwAuthenticate: challenge,
    }),
    createServer: async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
    oauth: {
      protectedResource: { resource: "https://example.com" },
    },
    port,
    stateless: true,
  });

  try {
    const response = await postInitialize(port);

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(challenge);
    expect(await response.json()).toEqual({
      error: { code: -32000, message: "The access token expired" },
      id: 1,
      jsonrpc: "2.0",
    });
  } finally {
    await httpServer.close();
  }
});

it("sends one WWW-Authenticate field line per entry of a wwwAuthenticate array", async () => {
  const port = await getRandomPort();
  const challenges = [challenge, 'DPoP algs="ES256 PS256"'];

  const httpServer = await startHTTPServer({
    authenticate: async () => ({
      authenticated: false,
      wwwAuthenticate: challenges,
    }),
    createServer: async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
    port,
    stateless: true,
  });

  try {
    const response = await getChallengeLines(port);

    expect(response.statusCode).toBe(401);
    expect(response.lines).toEqual(challenges);
  } finally {
    await httpServer.close();
  }
});

it("sends the challenge of an error authenticate throws", async () => {
  const port = await getRandomPort();

  const httpServer = await startHTTPServer({
    authenticate: async () => {
      throw Object.assign(new Error("jwt expired"), {
        wwwAuthenticate: challenge,
      });
    },
    createServer: async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
    port,
    stateless: true,
  });
  const consoleError = vi.spyOn(console, "error").mockImplementation(() => {});

  try {
    const response = await postInitialize(port);

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(challenge);
    expect(
      ((await response.json()) as { error: { message: string } }).error.message,
    ).toBe("jwt expired");
  } finally {
    consoleError.mockRestore();
    await httpServer.close();
  }
});

it("sends the challenge of an auth error createServer throws", async () => {
  const port = await getRandomPort();

  const httpServer = await startHTTPServer({
    createServer: async () => {
      throw Object.assign(new Error("Unauthorized: token revoked"), {
        wwwAuthenticate: challenge,
      });
    },
    port,
    stateless: true,
  });

  try {
    const response = await postInitialize(port);

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(challenge);
  } finally {
    await httpServer.close();
  }
});

it("sends the callback's challenge on a GET and DELETE of a live session", async () => {
  const port = await getRandomPort();
  let valid = true;

  const httpServer = await startHTTPServer({
    authenticate: async () =>
      valid
        ? { authenticated: true }
        : { authenticated: false, wwwAuthenticate: challenge },
    createServer: async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
    port,
  });

  try {
    const initialized = await postInitialize(port);
    const sessionId = initialized.headers.get("mcp-session-id");
    await initialized.body?.cancel();

    expect(sessionId).toBeTruthy();

    valid = false;

    for (const method of ["GET", "DELETE"]) {
      const response = await fetch(`http://localhost:${port}/mcp`, {
        headers: {
          Accept: "text/event-stream",
          "Mcp-Session-Id": sessionId!,
        },
        method,
      });

      expect(response.status).toBe(401);
      expect(response.headers.get("WWW-Authenticate")).toBe(challenge);
      await response.body?.cancel();
    }
  } finally {
    await httpServer.close();
  }
});

it("accepts a wwwAuthenticate of exactly 8 KiB", async () => {
  const port = await getRandomPort();
  const long = `Bearer realm="${"r".repeat(8192 - 'Bearer realm=""'.length)}"`;

  const httpServer = await startHTTPServer({
    authenticate: async () => ({ authenticated: false, wwwAuthenticate: long }),
    createServer: async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
    port,
    stateless: true,
  });

  try {
    const response = await postInitialize(port);

    expect(long.length).toBe(8192);
    expect(response.headers.get("WWW-Authenticate")).toBe(long);
  } finally {
    await httpServer.close();
  }
});

// Hostile or broken values never reach setHeader: the usual challenge goes
// out instead, and the warning never repeats the value (it may hold a token).
it.each([
  { name: "CR LF (header injection)", value: "Bearer\r\nSet-Cookie: a=b" },
  { name: "NUL", value: "Bearer\u0000" },
  { name: "DEL", value: "Bearer realm=\u007f" },
  { name: "non-ASCII", value: 'Bearer realm="café"' },
  { name: "an empty string", value: "" },
  { name: "only whitespace", value: "   " },
  { name: "more than 8 KiB", value: `Bearer realm="${"x".repeat(8192)}"` },
  { name: "an empty array", value: [] },
  { name: "an array with a number", value: [challenge, 42] },
  { name: "an object", value: { scheme: "Bearer" } },
])(
  "ignores a wwwAuthenticate that is $name, with a warning",
  async ({ value }) => {
    const port = await getRandomPort();
    const consoleWarn = vi.spyOn(console, "warn").mockImplementation(() => {});

    const httpServer = await startHTTPServer({
      authenticate: async () => ({
        authenticated: false,
        wwwAuthenticate: value,
      }),
      createServer: async () =>
        new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
      port,
      stateless: true,
    });

    try {
      const response = await postInitialize(port);

      expect(response.status).toBe(401);
      expect(response.headers.get("WWW-Authenticate")).toBe(
        'Bearer error="invalid_token", error_description="Unauthorized: Authentication failed"',
      );
      expect(consoleWarn).toHaveBeenCalledOnce();
      expect(consoleWarn.mock.calls[0][0]).toMatch(
        /^\[mcp-proxy\] ignoring wwwAuthenticate: /,
      );

      if (typeof value === "string" && value.trim() !== "") {
        expect(String(consoleWarn.mock.calls)).not.toContain(value);
      }
    } finally {
      consoleWarn.mockRestore();
      await httpServer.close();
    }
  },
);
