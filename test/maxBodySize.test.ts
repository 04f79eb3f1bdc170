/**
 * `maxBodySize` (and `--maxBodySize`): a stream POST whose Content-Length is
 * over the limit gets a 413 before `authenticate` or `createServer` run; a
 * chunked body is counted as it arrives, and the server stops reading it. A
 * request that fails authentication makes the server read at most 64 KiB.
 * Upstream 5.10.0 has no limit: it reads every byte into memory.
 */
import { startHTTPServer as upstreamStartHTTPServer } from "mcp-proxy-upstream";
import { connect, type Socket } from "node:net";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { startHTTPServer } from "../src/startHTTPServer.js";
import { createTestServer, rawStatus, sendRaw } from "./compat-helpers.js";
import {
  dechunk,
  getFreePort,
  initializeRequest,
  tooLarge,
} from "./helpers.js";

const MiB = 1024 * 1024;

const toClose: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) {
    await close();
  }
  vi.restoreAllMocks();
});

beforeEach(() => {
  for (const method of ["error", "log", "warn"] as const) {
    vi.spyOn(console, method).mockImplementation(() => {});
  }
});

type Options = Partial<Parameters<typeof startHTTPServer>[0]>;

/** Starts a server whose callbacks count their calls. */
const start = async (
  options: Options = {},
  starter: typeof startHTTPServer = startHTTPServer,
) => {
  const authenticate = vi.fn(async () => true);
  const createServer = vi.fn(createTestServer);
  const port = await getFreePort();
  const { close } = await starter({
    authenticate,
    createServer,
    host: "127.0.0.1",
    port,
    ...options,
  });
  toClose.push(close);

  return { authenticate, createServer, port };
};

/** An initialize request padded with whitespace to exactly `size` bytes. */
const paddedInitialize = (size: number) => {
  const json = JSON.stringify(initializeRequest());
  return json + " ".repeat(size - Buffer.byteLength(json));
};

const head = (path: string, headers: string[]) =>
  [
    `POST ${path} HTTP/1.1`,
    "Host: localhost",
    "Content-Type: application/json",
    "Accept: application/json, text/event-stream",
    ...headers,
    "",
    "",
  ].join("\r\n");

/** The body of a raw answer, de-chunked. */
const rawBody = (answer: string) => {
  const body = answer.slice(answer.indexOf("\r\n\r\n") + 4);

  return /transfer-encoding: chunked/i.test(answer) ? dechunk(body) : body;
};

/** Whether a raw answer has arrived whole. */
const isComplete = (answer: string) => {
  const end = answer.indexOf("\r\n\r\n");

  if (end === -1) {
    return false;
  }

  const length = /^content-length: (\d+)$/im.exec(answer.slice(0, end));

  return length
    ? answer.length >= end + 4 + Number(length[1])
    : answer.endsWith("0\r\n\r\n");
};

/**
 * Writes `data` and waits for the server's whole answer and for it to close
 * the connection; resolves with the answer.
 */
const exchange = (port: number, data: string) =>
  new Promise<{ answer: string; closedByServer: boolean }>(
    (resolve, reject) => {
      const socket = connect(port, "127.0.0.1");
      let answer = "";
      let closedByServer = false;

      socket.setEncoding("utf8");
      socket.on("data", (chunk: string) => (answer += chunk));
      socket.on("end", () => (closedByServer = true));
      socket.on("error", reject);
      socket.on("close", () => resolve({ answer, closedByServer }));
      socket.write(data);
    },
  );

/**
 * Streams `total` bytes of chunked body as fast as the server takes them,
 * never ending the body; resolves with how many bytes the kernel accepted
 * before the server closed the connection, and the answer.
 */
const streamUpload = (port: number, total: number) =>
  new Promise<{ answer: string; written: number }>((resolve) => {
    const socket: Socket = connect(port, "127.0.0.1");
    const chunk = Buffer.alloc(64 * 1024, "a");
    const chunkHead = `${chunk.length.toString(16)}\r\n`;
    let answer = "";
    let sent = 0;
    let closed = false;

    socket.setEncoding("utf8");
    socket.on("data", (data: string) => {
      answer += data;

      // A server that keeps the connection open after answering.
      if (isComplete(answer)) {
        socket.destroy();
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      closed = true;
      resolve({ answer, written: socket.bytesWritten });
    });

    const pump = () => {
      while (!closed && sent < total) {
        sent += chunk.length;
        socket.write(chunkHead);
        socket.write(chunk);

        if (!socket.write("\r\n")) {
          socket.once("drain", pump);
          return;
        }
      }

      // Everything written and the server still reads: finish the body.
      if (!closed && sent >= total) {
        socket.write("0\r\n\r\n");
      }
    };

    socket.write(head("/mcp", ["Transfer-Encoding: chunked"]));
    pump();
  });

describe("maxBodySize", () => {
  it.each([
    ["stateless", true],
    ["stateful", false],
  ])(
    "%s: Content-Length over the limit → 413, Connection: close, no callback runs",
    async (_, stateless) => {
      const server = await start({ maxBodySize: 1000, stateless });

      const { answer, closedByServer } = await exchange(
        server.port,
        head("/mcp", ["Content-Length: 1001", "Origin: https://app.example"]),
      );

      expect(rawStatus(answer)).toBe(413);
      expect(answer).toMatch(/^Connection: close$/im);
      expect(answer).toMatch(/^Content-Type: application\/json$/im);
      // The CORS headers every answer gets.
      expect(answer).toMatch(/^Access-Control-Allow-Origin: /im);
      expect(answer).not.toMatch(/^WWW-Authenticate:/im);
      expect(rawBody(answer)).toBe(tooLarge(1000));
      expect(closedByServer).toBe(true);
      expect(server.authenticate).not.toHaveBeenCalled();
      expect(server.createServer).not.toHaveBeenCalled();

      // The server goes on serving.
      const next = await sendRaw(
        server.port,
        head("/mcp", [`Content-Length: ${paddedInitialize(1000).length}`]) +
          paddedInitialize(1000),
      );
      expect(rawStatus(next)).toBe(200);
    },
  );

  it("a chunked body is counted as it arrives: 413 once past the limit, without waiting for its end", async () => {
    const server = await start({ maxBodySize: 1000 });

    // 1500 bytes in one chunk, and the body never ends.
    const { answer, closedByServer } = await exchange(
      server.port,
      head("/mcp", ["Transfer-Encoding: chunked"]) +
        `${(1500).toString(16)}\r\n${"a".repeat(1500)}\r\n`,
    );

    expect(rawStatus(answer)).toBe(413);
    expect(rawBody(answer)).toBe(tooLarge(1000));
    expect(closedByServer).toBe(true);
    // Its size unknown up front, it was authenticated on its headers.
    expect(server.authenticate).toHaveBeenCalledTimes(1);
    expect(server.createServer).not.toHaveBeenCalled();
  });

  it("a body of exactly maxBodySize bytes is accepted, one byte more is not", async () => {
    const body = paddedInitialize(2000);
    const server = await start({ maxBodySize: 2000 });

    const exact = await sendRaw(
      server.port,
      head("/mcp", [`Content-Length: 2000`]) + body,
    );
    expect(rawStatus(exact)).toBe(200);

    const chunked = await sendRaw(
      server.port,
      head("/mcp", ["Transfer-Encoding: chunked"]) +
        `3e8\r\n${body.slice(0, 1000)}\r\n3e8\r\n${body.slice(1000)}\r\n0\r\n\r\n`,
    );
    expect(rawStatus(chunked)).toBe(200);

    const over = await exchange(
      server.port,
      head("/mcp", [`Content-Length: 2001`]) + body + " ",
    );
    expect(rawStatus(over.answer)).toBe(413);
    expect(server.createServer).toHaveBeenCalledTimes(2);
  });

  it("defaults to 10 MiB", async () => {
    const server = await start();

    const over = await exchange(
      server.port,
      head("/mcp", [`Content-Length: ${10 * MiB + 1}`]),
    );
    expect(rawStatus(over.answer)).toBe(413);
    expect(rawBody(over.answer)).toBe(tooLarge(10 * MiB));

    const body = paddedInitialize(10 * MiB);
    const exact = await sendRaw(
      server.port,
      head("/mcp", [`Content-Length: ${body.length}`]) + body,
    );
    expect(rawStatus(exact)).toBe(200);
  });

  it("0 turns the limit off", async () => {
    const server = await start({ maxBodySize: 0 });
    const body = paddedInitialize(11 * MiB);

    const answer = await sendRaw(
      server.port,
      head("/mcp", [`Content-Length: ${body.length}`]) + body,
    );
    expect(rawStatus(answer)).toBe(200);
  });

  it("stops reading an endless upload at the limit (upstream reads all of it)", async () => {
    const limit = MiB;
    const total = 64 * MiB;

    const ours = await start({ maxBodySize: limit });
    const cut = await streamUpload(ours.port, total);
    expect(rawStatus(cut.answer)).toBe(413);
    // What the kernel took before the server closed: the limit plus socket
    // buffers, far from the whole upload.
    expect(cut.written).toBeLessThan(limit + 24 * MiB);
    expect(ours.createServer).not.toHaveBeenCalled();

    // Upstream buffers the whole upload, then answers the (bad) JSON.
    const upstream = await start(
      {},
      upstreamStartHTTPServer as unknown as typeof startHTTPServer,
    );
    const whole = await streamUpload(upstream.port, total);
    expect(whole.written).toBeGreaterThan(total);
    expect(rawStatus(whole.answer)).not.toBe(413);
  });

  it("POST /messages: a Content-Length over the limit → 413 before authenticate", async () => {
    const server = await start({ maxBodySize: 1000 });

    const { answer } = await exchange(
      server.port,
      head("/messages?sessionId=x", ["Content-Length: 1001"]),
    );

    expect(rawStatus(answer)).toBe(413);
    expect(rawBody(answer)).toBe(tooLarge(1000));
    expect(server.authenticate).not.toHaveBeenCalled();
  });

  it("POST /messages: a chunked body over the limit, when authentication fails, gets its 401 and the connection closes", async () => {
    const server = await start({
      authenticate: vi.fn(async () => false),
      maxBodySize: 1000,
    });

    const { answer, closedByServer } = await exchange(
      server.port,
      head("/messages?sessionId=x", ["Transfer-Encoding: chunked"]) +
        `${(1500).toString(16)}\r\n${"a".repeat(1500)}\r\n`,
    );

    expect(rawStatus(answer)).toBe(401);
    expect(answer).toMatch(/^Connection: close$/im);
    expect(closedByServer).toBe(true);
  });

  describe("a request that fails authentication", () => {
    const failing = () => ({
      authenticate: vi.fn(async () => ({ authenticated: false })),
    });

    it.each(["/mcp", "/messages?sessionId=x"])(
      "%s: is answered 401 on its headers, the server reading at most 64 KiB of a stalled 5 MiB upload",
      async (path) => {
        const server = await start(failing());

        // 200 KiB of a 5 MiB body, then nothing more: 5.10.0 and the
        // fork before waited for the rest, holding all of it.
        const { answer, closedByServer } = await exchange(
          server.port,
          head(path, [`Content-Length: ${5 * MiB}`]) + "a".repeat(200 * 1024),
        );

        expect(rawStatus(answer)).toBe(401);
        expect(JSON.parse(rawBody(answer))).toMatchObject({ id: null });
        expect(answer).toMatch(/^Connection: close$/im);
        expect(closedByServer).toBe(true);
        expect(server.createServer).not.toHaveBeenCalled();
      },
    );

    it("answers with the request's id when the body is under 64 KiB", async () => {
      const server = await start(failing());
      const body = JSON.stringify({
        ...initializeRequest(7),
        pad: "x".repeat(60_000),
      });

      const answer = await sendRaw(
        server.port,
        head("/mcp", [`Content-Length: ${Buffer.byteLength(body)}`]) + body,
      );

      expect(rawStatus(answer)).toBe(401);
      expect(JSON.parse(rawBody(answer))).toMatchObject({ id: 7 });
    });

    it("a Content-Length over maxBodySize still gets 413 first", async () => {
      const options = { ...failing(), maxBodySize: 1000 };
      const server = await start(options);

      const { answer } = await exchange(
        server.port,
        head("/mcp", ["Content-Length: 1001"]) + "a".repeat(1001),
      );

      expect(rawStatus(answer)).toBe(413);
      expect(options.authenticate).not.toHaveBeenCalled();
    });
  });

  it.each([-1, Number.NaN, "10" as unknown as number])(
    "rejects maxBodySize %s",
    async (maxBodySize) => {
      await expect(
        startHTTPServer({
          createServer: createTestServer,
          maxBodySize,
          port: await getFreePort(),
        }),
      ).rejects.toThrow(RangeError);
    },
  );
});
