import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type {
  JSONRPCMessage,
  MessageExtraInfo,
} from "@modelcontextprotocol/sdk/types.js";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  ListToolsRequestSchema,
  type ListToolsResult,
} from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";

import { tapTransport, type TransportEvent } from "../src/tapTransport.js";

const ping: JSONRPCMessage = { id: 1, jsonrpc: "2.0", method: "ping" };
const extra: MessageExtraInfo = {
  authInfo: { clientId: "c", scopes: [], token: "t" },
};
const failure = new Error("boom");

/** A transport that writes every call it gets into `log`. */
class RecordingTransport implements Transport {
  onclose?: Transport["onclose"];

  onerror?: Transport["onerror"];
  onmessage?: Transport["onmessage"];
  constructor(readonly log: unknown[]) {
    this.onclose = () => log.push("original onclose");
    this.onerror = (error) => log.push(["original onerror", error]);
    this.onmessage = (message, extra) =>
      log.push(["original onmessage", message, extra]);
  }

  async close() {
    this.log.push("original close");
  }

  async send(message: JSONRPCMessage, options?: unknown) {
    this.log.push(["original send", message, options]);
  }

  async start() {
    this.log.push("original start");
  }
}

describe("tapTransport", () => {
  it("returns the same transport object", () => {
    const transport = new RecordingTransport([]);

    expect(tapTransport(transport, () => {})).toBe(transport);
  });

  it.each<{
    call: (transport: Transport) => unknown;
    event: TransportEvent;
    original: unknown;
  }>([
    {
      call: (transport) => transport.close(),
      event: { type: "close" },
      original: "original close",
    },
    {
      call: (transport) => transport.start(),
      event: { type: "start" },
      original: "original start",
    },
    {
      call: (transport) => transport.send(ping, { relatedRequestId: 7 }),
      event: { message: ping, type: "send" },
      original: ["original send", ping, { relatedRequestId: 7 }],
    },
    {
      call: (transport) => transport.onclose?.(),
      event: { type: "onclose" },
      original: "original onclose",
    },
    {
      call: (transport) => transport.onerror?.(failure),
      event: { error: failure, type: "onerror" },
      original: ["original onerror", failure],
    },
    {
      call: (transport) => transport.onmessage?.(ping),
      event: { message: ping, type: "onmessage" },
      original: ["original onmessage", ping, undefined],
    },
    {
      call: (transport) => transport.onmessage?.(ping, extra),
      event: { extra, message: ping, type: "onmessage" },
      original: ["original onmessage", ping, extra],
    },
  ])(
    "reports $event.type, then calls the original with every argument",
    async ({ call, event, original }) => {
      const log: unknown[] = [];
      const transport = tapTransport(new RecordingTransport(log), (event) =>
        log.push(event),
      );

      await call(transport);

      expect(log).toStrictEqual([event, original]);
    },
  );

  it("leaves callbacks that were not set unset in effect", () => {
    const events: TransportEvent[] = [];
    const transport = tapTransport(new InMemoryTransport(), (event) =>
      events.push(event),
    );

    transport.onclose?.();
    transport.onerror?.(failure);
    transport.onmessage?.(ping);

    expect(events.map(({ type }) => type)).toEqual([
      "onclose",
      "onerror",
      "onmessage",
    ]);
  });

  it("taps a real client/server session, passing extra through", async () => {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const clientEvents: TransportEvent[] = [];
    const serverEvents: TransportEvent[] = [];
    const seenExtra: (MessageExtraInfo | undefined)[] = [];
    const server = new Server(
      { name: "server", version: "1.0.0" },
      { capabilities: { tools: {} } },
    );
    server.setRequestHandler(
      ListToolsRequestSchema,
      async (_request, { authInfo }): Promise<ListToolsResult> => {
        seenExtra.push({ authInfo });
        return { tools: [] };
      },
    );
    const client = new Client({ name: "client", version: "1.0.0" });

    await server.connect(tapTransport(serverSide, (e) => serverEvents.push(e)));
    await client.connect(tapTransport(clientSide, (e) => clientEvents.push(e)));

    // The client's requests carry authInfo through InMemoryTransport's send
    // options; the tapped server transport must hand it on to the server.
    const send = clientSide.send;
    clientSide.send = (message, options) =>
      send.call(clientSide, message, { ...options, authInfo: extra.authInfo });

    await client.listTools();
    await client.close();

    expect(seenExtra).toEqual([extra]);
    const types = clientEvents.map(({ type }) => type);
    expect(types.slice(0, 7)).toEqual([
      "start",
      "send", // initialize
      "onmessage", // its result
      "send", // notifications/initialized
      "send", // tools/list
      "onmessage", // its result
      "close",
    ]);
    // InMemoryTransport closes its peer, which closes it back, so how many
    // close/onclose follow depends on the SDK version.
    expect(types.slice(7)).toContain("onclose");
    expect(types.slice(7).filter((type) => !type.endsWith("close"))).toEqual(
      [],
    );
    expect(serverEvents).toContainEqual({
      extra,
      message: expect.objectContaining({ method: "tools/list" }),
      type: "onmessage",
    });
    expect(serverEvents.at(-1)).toEqual({ type: "onclose" });
  });
});
