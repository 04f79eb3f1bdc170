/**
 * Nothing crosses sessions through an event store they share (the CLI's
 * setup, or one an app passes): a Last-Event-ID replays only that session's
 * own events, and another session's event id replays nothing.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { afterEach, describe, expect, it } from "vitest";

import { InMemoryEventStore } from "../src/InMemoryEventStore.js";
import {
  type EventStream,
  initializeSession,
  openSessionStream,
  startServer,
} from "./compat-helpers.js";

const toClose: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) {
    await close();
  }
});

/** A server on one shared store; `servers` in the order sessions opened. */
const startSharedStoreServer = async () => {
  const servers: Server[] = [];
  const running = await startServer("ours", {
    createServer: async () => {
      const server = new Server(
        { name: "shared-store", version: "1.0.0" },
        { capabilities: { logging: {} } },
      );
      servers.push(server);
      return server;
    },
    eventStore: new InMemoryEventStore(),
  });
  toClose.push(running.close);

  return { servers, url: running.url };
};

const openStream = async (
  url: string,
  sessionId: string,
  lastEventId?: string,
) => {
  const stream = await openSessionStream(url, sessionId, lastEventId);
  toClose.push(stream.close);
  return stream;
};

/** The id and logged data of each of the first `count` events. */
const readEvents = async (stream: EventStream, count: number) =>
  (await stream.events(count))
    .split("\n\n")
    .filter((event) => event.includes("data:"))
    .map((event) => ({
      data: (
        JSON.parse(/^data: (.*)$/m.exec(event)![1]) as {
          params: { data: string };
        }
      ).params.data,
      id: /^id: (.*)$/m.exec(event)?.[1],
    }));

const log = (server: Server, data: string) =>
  server.sendLoggingMessage({ data, level: "info" });

describe("two sessions on one shared event store", () => {
  it("a session resuming its GET stream gets its own events only", async () => {
    const { servers, url } = await startSharedStoreServer();
    const a = await initializeSession(url);
    await initializeSession(url);
    const [serverA, serverB] = servers;

    const first = await openStream(url, a);
    await log(serverA, "a-1");
    const [seen] = await readEvents(first, 1);
    expect(seen.data).toBe("a-1");
    first.close();

    // Both stored while A is away: B's first, then A's.
    await log(serverB, "b-1");
    await log(serverA, "a-2");

    const resumed = await openStream(url, a, seen.id);

    expect((await readEvents(resumed, 1)).map(({ data }) => data)).toEqual([
      "a-2",
    ]);
  });

  it("another session's event id replays nothing of that session", async () => {
    const { servers, url } = await startSharedStoreServer();
    const a = await initializeSession(url);
    const b = await initializeSession(url);
    const [serverA, serverB] = servers;

    const streamB = await openStream(url, b);
    await log(serverB, "b-1");
    const [eventB] = await readEvents(streamB, 1);
    streamB.close();
    await log(serverB, "b-2");

    // A presents B's id, then A's server logs: only A's own event may come.
    const stolen = await openStream(url, a, eventB.id);
    const aStream = await openStream(url, a);
    await log(serverA, "a-1");

    expect((await readEvents(aStream, 1)).map(({ data }) => data)).toEqual([
      "a-1",
    ]);
    stolen.close();
    expect(await stolen.events(1)).not.toContain("b-2");
  });

  it("event ids carry a tag of the session's own, not a counter", async () => {
    const { servers, url } = await startSharedStoreServer();
    const a = await initializeSession(url);
    const b = await initializeSession(url);

    const streams = [await openStream(url, a), await openStream(url, b)];
    await log(servers[0], "a-1");
    await log(servers[1], "b-1");
    const [[eventA], [eventB]] = await Promise.all(
      streams.map((stream) => readEvents(stream, 1)),
    );

    const tag = (id = "") => id.slice(0, id.indexOf("."));

    expect(tag(eventA.id)).toMatch(/^[\w-]{22}$/);
    expect(tag(eventB.id)).toMatch(/^[\w-]{22}$/);
    expect(tag(eventA.id)).not.toBe(tag(eventB.id));
  });
});
