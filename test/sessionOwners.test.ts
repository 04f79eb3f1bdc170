import type http from "node:http";

/**
 * `getSessionOwner`: a session remembers who created it, and a request for
 * it from anyone else is answered exactly as an unknown session id is, on
 * every endpoint that takes a session id. The owner's session keeps
 * working, through a new token too, and its streams carry nothing of the
 * other user's. Without the option, whoever holds the id may use it, as in
 * upstream 5.10.0.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";

import { startHTTPServer } from "../src/startHTTPServer.js";
import {
  type EventStream,
  openEventStream,
  request,
  snapshot,
} from "./compat-helpers.js";
import { getFreePort, initializeRequest, streamHeaders } from "./helpers.js";

type Options = Partial<Parameters<typeof startHTTPServer<Server>>[0]>;

const toClose: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of toClose.splice(0)) {
    await close();
  }
});

/**
 * An MCP server whose `notify` tool sends a notification tied to no
 * request: on a stream session it goes to the GET stream.
 */
const createNotifyingServer = async () => {
  const server = new Server(
    { name: "owners", version: "1.0.0" },
    { capabilities: { logging: {}, tools: {} } },
  );

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: [{ inputSchema: { type: "object" }, name: "notify" }],
  }));
  server.setRequestHandler(CallToolRequestSchema, async ({ params }) => {
    const who = String(params.arguments?.who);

    await server.notification({
      method: "notifications/message",
      params: { data: `notified ${who}`, level: "info" },
    });

    return { content: [{ text: who, type: "text" }] };
  });

  return server;
};

/** `Bearer <user>-<n>`: user `anon` is nobody in particular. */
const authenticate = async (req: http.IncomingMessage) => {
  const user = /^Bearer ([a-z]+)-\d+$/.exec(
    req.headers.authorization ?? "",
  )?.[1];

  return user === "anon" ? { anonymous: true } : user ? { sub: user } : false;
};

const getSessionOwner = (authResult: unknown) =>
  (authResult as { sub?: string }).sub;

const start = async (options: Options = { getSessionOwner }) => {
  const port = await getFreePort();
  const { close } = await startHTTPServer<Server>({
    authenticate,
    createServer: createNotifyingServer,
    host: "127.0.0.1",
    port,
    ...options,
  });
  toClose.push(close);

  return `http://127.0.0.1:${port}`;
};

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

const notifyCall = (id: number, who: string) => ({
  id,
  jsonrpc: "2.0",
  method: "tools/call",
  params: { arguments: { who }, name: "notify" },
});

/** Initializes a stream session as `token`; resolves with its id. */
const initialize = async (url: string, token: string) => {
  const response = await request(url, {
    body: initializeRequest(),
    headers: { ...streamHeaders, ...bearer(token) },
    method: "POST",
    path: "/mcp",
  });
  await response.text();
  const sessionId = response.headers.get("mcp-session-id")!;

  const initialized = await request(url, {
    body: { jsonrpc: "2.0", method: "notifications/initialized" },
    headers: {
      ...streamHeaders,
      ...bearer(token),
      "Mcp-Session-Id": sessionId,
    },
    method: "POST",
    path: "/mcp",
  });
  await initialized.text();

  return sessionId;
};

/** Reads a stream until it holds `text`; resolves with all it read. */
const readUntil = async (stream: EventStream, text: string) => {
  let count = 1;
  let events = await stream.events(count);

  while (!events.includes(text)) {
    const more = await stream.events(++count);

    if (more === events) {
      throw new Error(`the stream ended without ${text}:\n${events}`);
    }
    events = more;
  }

  return events;
};

/** The three requests of a stream session, each as user `token`. */
const streamRequests = (token: string, sessionId: string) =>
  [
    {
      body: notifyCall(9, "bob"),
      expected: 404,
      headers: {
        ...streamHeaders,
        ...bearer(token),
        "Mcp-Session-Id": sessionId,
      },
      method: "POST",
      path: "/mcp",
    },
    {
      expected: 400,
      headers: {
        ...bearer(token),
        Accept: "text/event-stream",
        "Mcp-Session-Id": sessionId,
      },
      method: "GET",
      path: "/mcp",
    },
    {
      expected: 400,
      headers: { ...bearer(token), "Mcp-Session-Id": sessionId },
      method: "DELETE",
      path: "/mcp",
    },
  ] as const;

describe("a stateful stream session", () => {
  it("answers another user's POST, GET and DELETE as an unknown id; the owner's session and stream go on", async () => {
    const url = await start();
    const sessionId = await initialize(url, "alice-1");
    const stream = await openEventStream(url, {
      headers: {
        ...bearer("alice-1"),
        Accept: "text/event-stream",
        "Mcp-Session-Id": sessionId,
      },
      path: "/mcp",
    });
    toClose.unshift(async () => stream.close());

    expect(stream.response.statusCode).toBe(200);

    const unknownId = randomUUID();

    for (const [index, { expected, ...spec }] of streamRequests(
      "bob-1",
      sessionId,
    ).entries()) {
      const asOther = await snapshot(url, spec);
      const asUnknown = await snapshot(url, {
        ...streamRequests("bob-1", unknownId)[index],
      });

      expect(asOther, spec.method).toEqual(asUnknown);
      expect(asOther.status, spec.method).toBe(expected);
    }

    // A new token of the same user keeps the session.
    const own = await request(url, {
      body: notifyCall(2, "alice"),
      headers: {
        ...streamHeaders,
        ...bearer("alice-2"),
        "Mcp-Session-Id": sessionId,
      },
      method: "POST",
      path: "/mcp",
    });

    expect(own.status).toBe(200);
    expect(await own.text()).toContain('"text":"alice"');

    const events = await readUntil(stream, "notified alice");

    expect(events).not.toContain("bob");
  });

  it("lets anyone use it without getSessionOwner, as 5.10.0 does", async () => {
    const url = await start({});
    const sessionId = await initialize(url, "alice-1");

    const other = await request(url, {
      body: notifyCall(2, "bob"),
      headers: {
        ...streamHeaders,
        ...bearer("bob-1"),
        "Mcp-Session-Id": sessionId,
      },
      method: "POST",
      path: "/mcp",
    });

    expect(other.status).toBe(200);
    expect(await other.text()).toContain('"text":"bob"');
  });

  it("serves a session created by nobody in particular to such callers only", async () => {
    const url = await start();
    const anonymous = await initialize(url, "anon-1");
    const alices = await initialize(url, "alice-1");

    const statusOf = async (token: string, sessionId: string) => {
      const response = await request(url, {
        body: notifyCall(2, "x"),
        headers: {
          ...streamHeaders,
          ...bearer(token),
          "Mcp-Session-Id": sessionId,
        },
        method: "POST",
        path: "/mcp",
      });
      await response.text();
      return response.status;
    };

    expect({
      aliceOnAnonymous: await statusOf("alice-1", anonymous),
      anonymousOnAlices: await statusOf("anon-2", alices),
      anonymousOnAnonymous: await statusOf("anon-2", anonymous),
    }).toEqual({
      aliceOnAnonymous: 404,
      anonymousOnAlices: 404,
      anonymousOnAnonymous: 200,
    });
  });

  it("passes getSessionOwner what authenticate returned, and the request", async () => {
    const calls: [unknown, string | undefined][] = [];
    const url = await start({
      getSessionOwner: (authResult, req) => {
        calls.push([authResult, req.headers.authorization]);
        return "someone";
      },
    });

    await initialize(url, "alice-1");

    expect(calls[0]).toEqual([{ sub: "alice" }, "Bearer alice-1"]);
  });

  it("answers 500 when getSessionOwner does not return a string", async () => {
    const url = await start({
      getSessionOwner: () => 42 as unknown as string,
    });

    const response = await request(url, {
      body: initializeRequest(),
      headers: { ...streamHeaders, ...bearer("alice-1") },
      method: "POST",
      path: "/mcp",
    });

    expect(response.status).toBe(500);
    expect(response.headers.get("mcp-session-id")).toBeNull();
  });
});

describe("an SSE session", () => {
  it("answers another user's POST /messages as an unknown id; the owner's stream gets nothing of it", async () => {
    const url = await start();
    const stream = await openEventStream(url, {
      headers: bearer("alice-1"),
      path: "/sse",
    });
    toClose.unshift(async () => stream.close());

    const endpoint = /data: (\/messages\?sessionId=\S+)/.exec(
      await readUntil(stream, "sessionId="),
    )![1];

    const message = (token: string, path: string, body: unknown) => ({
      body,
      headers: { ...bearer(token), "Content-Type": "application/json" },
      method: "POST",
      path,
    });

    const asOther = await snapshot(
      url,
      message("bob-1", endpoint, notifyCall(99, "bob")),
    );
    const asUnknown = await snapshot(
      url,
      message(
        "bob-1",
        `/messages?sessionId=${randomUUID()}`,
        notifyCall(99, "bob"),
      ),
    );

    expect(asOther).toEqual(asUnknown);
    expect([asOther.status, asOther.body]).toEqual([
      400,
      "No active transport",
    ]);

    // A new token of the same user keeps the session.
    const own = await request(
      url,
      message("alice-2", endpoint, notifyCall(2, "alice")),
    );

    expect(own.status).toBe(202);

    const events = await readUntil(stream, '"id":2');

    expect(events).toContain("notified alice");
    expect(events).not.toContain("bob");
  });
});
