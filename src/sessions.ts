// The bookkeeping of sessions: which are open, when an idle one closes, and
// the cleanup that runs once when one ends.
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import type { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type http from "node:http";

import { logError } from "./errors.js";

export type ServerLike = {
  close: Server["close"];
  connect: Server["connect"];
};

export type StreamSession<T extends ServerLike> = {
  idleTimer?: IdleTimer;
  server: T;
  transport: StreamableHTTPServerTransport;
};

// Node's timers take at most 2^31 - 1 ms; a longer delay fires at once.
const MAX_TIMER_DELAY = 2 ** 31 - 1;

export type IdleTimer = ReturnType<typeof createIdleTimer>;

/**
 * Calls `onIdle` once no request has been in flight for `timeout` ms. An
 * open event stream counts as a request in flight. The timer never keeps the
 * process alive.
 */
export const createIdleTimer = (timeout: number, onIdle: () => void) => {
  let inFlight = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const stop = () => {
    stopped = true;
    clearTimeout(timer);
  };

  return {
    stop,
    /** Counts `res` as in flight until it closes. */
    track: (res: http.ServerResponse) => {
      if (stopped || res.closed) {
        return;
      }

      inFlight += 1;
      clearTimeout(timer);

      res.once("close", () => {
        inFlight -= 1;

        if (!stopped && inFlight === 0) {
          timer = setTimeout(
            () => {
              stop();
              onIdle();
            },
            Math.min(timeout, MAX_TIMER_DELAY),
          ).unref();
        }
      });
    },
  };
};

/**
 * Returns a function that runs `onClose` and closes the server, once: the
 * transport's close, a DELETE and the end of a stateless request may all ask.
 */
export const createCleanup = <T extends ServerLike>(
  server: T,
  onClose?: (server: T) => Promise<void>,
) => {
  let cleanup: Promise<void> | undefined;

  return () => {
    cleanup ??= (async () => {
      try {
        await onClose?.(server);
      } catch (error) {
        logError("[mcp-proxy] error in onClose", error);
      }

      try {
        await server.close();
      } catch (error) {
        logError("[mcp-proxy] error closing server", error);
      }
    })();

    return cleanup;
  };
};

/** Closes every session still open, SSE and stream alike. */
export const closeSessions = async <T extends ServerLike>({
  sseTransports,
  streamSessions,
}: {
  sseTransports: Map<string, SSEServerTransport>;
  streamSessions: Map<string, StreamSession<T>>;
}) => {
  // Copies: each close takes its session out of the map.
  for (const transport of [...sseTransports.values()]) {
    await transport.close();
  }

  for (const { transport } of [...streamSessions.values()]) {
    await transport.close();
  }
};
