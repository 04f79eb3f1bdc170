import type { EventStore } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

export type InMemoryEventStoreOptions = {
  /**
   * How many events the store keeps; the oldest are dropped beyond that.
   * A client resuming from a dropped event gets no replay.
   * Defaults to 10,000; `Infinity` keeps everything.
   */
  maxEvents?: number;
};

type StoredEvent = { message: JSONRPCMessage; streamId: string };

/**
 * In-memory EventStore for resumable streamable HTTP sessions.
 *
 * Events live in one Map whose insertion order is the order they were stored
 * in, so replay never depends on how event ids sort, and the stream an event
 * belongs to is looked up rather than parsed back out of its id.
 */
export class InMemoryEventStore implements EventStore {
  readonly #events = new Map<string, StoredEvent>();
  readonly #maxEvents: number;
  #sequence = 0;

  constructor({ maxEvents = 10_000 }: InMemoryEventStoreOptions = {}) {
    this.#maxEvents = maxEvents;
  }

  async replayEventsAfter(
    lastEventId: string,
    {
      send,
    }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> },
  ): Promise<string> {
    const last = this.#events.get(lastEventId);

    if (!last) {
      return "";
    }

    let found = false;

    // A Map iterator also visits entries added while `send` is awaited, so
    // events stored during the replay are not lost either.
    for (const [eventId, { message, streamId }] of this.#events) {
      if (!found) {
        found = eventId === lastEventId;
      } else if (streamId === last.streamId) {
        await send(eventId, message);
      }
    }

    return last.streamId;
  }

  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    // Same shape as upstream's `<stream>_<ms>_<8 chars>`, but the suffix is a
    // counter: ids stay unique and sort in storage order within a store.
    this.#sequence += 1;
    const eventId = `${streamId}_${Date.now()}_${this.#sequence.toString(36).padStart(8, "0")}`;

    this.#events.set(eventId, { message, streamId });

    for (const oldest of this.#events.keys()) {
      if (this.#events.size <= this.#maxEvents) {
        break;
      }
      this.#events.delete(oldest);
    }

    return eventId;
  }
}
