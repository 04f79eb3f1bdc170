/**
 * Two sessions of one `mcp-proxy` CLI share its stdio command, its client
 * and its event store; nothing of one reaches the other. The fixture server
 * sends a resource's update right after each subscription.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it, vi } from "vitest";

import { initializeSession, openSessionStream } from "./compat-helpers.js";
import { streamHeaders } from "./helpers.js";
import { startCli } from "./stress-helpers.js";

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

const start = async () => {
  const cli = await startCli([]);
  cleanups.push(cli.stop);
  return `http://127.0.0.1:${cli.port}`;
};

const connectClient = async (url: string) => {
  const client = new Client({ name: "cli-session", version: "1.0.0" });
  const updates: string[] = [];

  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    updates.push(n.params.uri);
  });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${url}/mcp`)),
  );
  cleanups.push(() => client.close());

  return { client, updates };
};

/** Subscribes session `sessionId` to `uri` with a plain POST. */
const subscribe = async (url: string, sessionId: string, uri: string) => {
  const response = await fetch(`${url}/mcp`, {
    body: JSON.stringify({
      id: uri,
      jsonrpc: "2.0",
      method: "resources/subscribe",
      params: { uri },
    }),
    headers: { ...streamHeaders, "Mcp-Session-Id": sessionId },
    method: "POST",
  });
  expect(await response.text()).toContain('"result":{}');
};

const openStream = async (
  url: string,
  sessionId: string,
  lastEventId?: string,
) => {
  const stream = await openSessionStream(url, sessionId, lastEventId);
  cleanups.push(stream.close);
  return stream;
};

describe("two sessions of one CLI", () => {
  it("a resource update goes to the session that subscribed, not the newest", async () => {
    const url = await start();
    const a = await connectClient(url);
    const b = await connectClient(url);

    await a.client.subscribeResource({ uri: "file:///a.txt" });
    await vi.waitFor(() => expect(a.updates).toEqual(["file:///a.txt"]));

    await b.client.subscribeResource({ uri: "file:///b.txt" });
    await vi.waitFor(() => expect(b.updates).toEqual(["file:///b.txt"]));
    expect(a.updates).toEqual(["file:///a.txt"]);
  });

  it("a session resuming its GET stream gets its own events, not the other's", async () => {
    const url = await start();
    const a = await initializeSession(url);
    const b = await initializeSession(url);

    const first = await openStream(url, a);
    await subscribe(url, a, "file:///a-1.txt");
    const seen = await first.events(1);
    expect(seen).toContain("file:///a-1.txt");
    first.close();

    // Stored while A is away: B's update first, then A's.
    await subscribe(url, b, "file:///b.txt");
    await subscribe(url, a, "file:///a-2.txt");

    const lastEventId = /^id: (.*)$/m.exec(seen)![1];
    const resumed = await openStream(url, a, lastEventId);
    const replayed = await resumed.events(1);

    expect(replayed).toContain("file:///a-2.txt");
    expect(replayed).not.toContain("file:///b.txt");
  });
});
