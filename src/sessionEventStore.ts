// One session's view of an event store that several sessions share (the
// CLI's, or one an app passes): a Last-Event-ID replays only that session's
// own events, and its event ids tell nothing about another session's.
import type { EventStore } from "@modelcontextprotocol/sdk/server/streamableHttp.js";

import { randomBytes } from "node:crypto";

/**
 * Wraps `store` for one session. A random tag, unknown to every other
 * session, goes in front of each stream id the session stores under (the
 * SDK names every session's standalone GET stream `_GET_stream`, so without
 * it one session's replay would pick up another's events) and in front of
 * each event id the client sees. An event id without this session's tag
 * replays nothing, whatever the store would have found for it.
 */
export const createSessionEventStore = (store: EventStore): EventStore => {
  // 128 bits, base64url: no `_`, so a store that splits ids on it still can.
  const tag = randomBytes(16).toString("base64url").replaceAll("_", "-");
  const prefix = `${tag}.`;

  const toStoreEventId = (eventId: string) =>
    eventId.startsWith(prefix) ? eventId.slice(prefix.length) : undefined;

  const toSessionStreamId = (streamId: string | undefined) =>
    streamId?.startsWith(tag) ? streamId.slice(tag.length) : undefined;

  const sessionStore: EventStore = {
    replayEventsAfter: async (lastEventId, { send }) => {
      const storeEventId = toStoreEventId(lastEventId);

      if (storeEventId === undefined) {
        return "";
      }

      const streamId = await store.replayEventsAfter(storeEventId, {
        send: (eventId, message) => send(prefix + eventId, message),
      });

      return toSessionStreamId(streamId) ?? "";
    },
    storeEvent: async (streamId, message) =>
      prefix + (await store.storeEvent(tag + streamId, message)),
  };

  // SDKs that know this optional method check a resumed stream with it.
  const getStreamIdForEventId = (
    store as {
      getStreamIdForEventId?: (eventId: string) => Promise<string | undefined>;
    }
  ).getStreamIdForEventId?.bind(store);

  if (getStreamIdForEventId) {
    Object.assign(sessionStore, {
      getStreamIdForEventId: async (eventId: string) => {
        const storeEventId = toStoreEventId(eventId);

        return storeEventId === undefined
          ? undefined
          : toSessionStreamId(await getStreamIdForEventId(storeEventId));
      },
    });
  }

  return sessionStore;
};
