import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import {
  EventStore,
  StreamableHTTPServerTransport,
} from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import http from "http";
import { randomUUID } from "node:crypto";

import { AuthConfig, AuthenticationMiddleware } from "./authentication.js";
import {
  type AllowedHosts,
  type AllowedOrigins,
  createCallerGuards,
} from "./callerGuards.js";
import {
  BARE_CHALLENGE,
  getDynamicChallenge,
  getStaticChallenge,
} from "./challenge.js";
import { applyCorsHeaders, type CorsOptions, getCorsOptions } from "./cors.js";
import {
  getErrorText,
  isAuthenticationError,
  isAuthenticationFailure,
  isResponseLike,
  logError,
} from "./errors.js";
import { InMemoryEventStore } from "./InMemoryEventStore.js";
import {
  createJsonRpcErrorResponse,
  getRequestId,
  sendInternalServerError,
} from "./jsonRpcErrors.js";
import {
  DEFAULT_MAX_BODY_SIZE,
  exceedsMaxBodySize,
  getBody,
  getUnauthenticatedBody,
  PayloadTooLargeError,
  sendPayloadTooLarge,
} from "./requestBody.js";
import { createSessionEventStore } from "./sessionEventStore.js";
import {
  createOwnedSessions,
  type GetOwnedSessions,
  type GetSessionOwner,
  type OwnedSessions,
} from "./sessionOwners.js";
import {
  closeSessions,
  createCleanup,
  createIdleTimer,
  type ServerLike,
  type StreamSession,
} from "./sessions.js";
import { createHTTPServer, type TLSOptions } from "./tls.js";

export type { CorsOptions } from "./cors.js";

export type SSEServer = {
  close: () => Promise<void>;
};

/**
 * The `WWW-Authenticate` value of a failed authentication; the first rule
 * that applies wins:
 *
 * 1. `authResult.wwwAuthenticate`, the challenge `authenticate` returned (or
 *    an error thrown by `authenticate` or `createServer` carries): a string,
 *    or an array sent as one field line each. It is ignored, with a warning,
 *    unless every value is non-empty printable ASCII of at most 8 KiB.
 * 2. `Bearer resource_metadata="…"`, the RFC 9728 §3.1 metadata URL of
 *    `oauth.protectedResource.resource` (any absolute URL with a host), with
 *    the `realm`, `error`, `error_description`, `error_uri` and `scope` that
 *    `oauth` configures, if any, each quoted.
 * 3. `Bearer realm="mcp-proxy"`.
 *
 * It never throws, whatever the arguments hold.
 *
 * @example
 * getWWWAuthenticateHeader(undefined, {
 *   protectedResource: { resource: "https://example.com/mcp" },
 * });
 * // 'Bearer resource_metadata="https://example.com/.well-known/oauth-protected-resource/mcp"'
 */
export const getWWWAuthenticateHeader = (
  authResult: unknown,
  oauth?: AuthConfig["oauth"],
): string | string[] =>
  // RFC 6750 §3: only the app knows whether a token came, and why it failed.
  getDynamicChallenge(authResult) ?? getFallbackChallenge(oauth);

/**
 * Rules 2 and 3: the challenge of a failure that brings none of its own.
 * The server works it out once, when it starts, as it reads its options.
 */
const getFallbackChallenge = (oauth?: AuthConfig["oauth"]) =>
  // RFC 9728 §5.1: point the client at the protected-resource metadata.
  getStaticChallenge({ oauth }) ??
  // RFC 9110 §15.5.2: a 401 MUST carry a challenge.
  BARE_CHALLENGE;

const getAuthErrorMessage = (authResult: unknown, fallback: string) => {
  try {
    const message =
      authResult instanceof Error
        ? authResult.message
        : (authResult as { error?: unknown } | null | undefined)?.error;

    return typeof message === "string" ? message : fallback;
  } catch {
    return fallback;
  }
};

/**
 * The JSON-RPC error body of a failed authentication, answering the request's
 * id: the result's `error`, or the thrown Error's message, or `fallback`.
 */
const createUnauthorizedBody = ({
  authResult,
  fallbackMessage,
  requestBody,
}: {
  authResult: unknown;
  fallbackMessage: string;
  requestBody: unknown;
}) =>
  createJsonRpcErrorResponse(
    -32000,
    getAuthErrorMessage(authResult, fallbackMessage),
    getRequestId(requestBody),
  );

// RFC 6750 §3.1: a token without the scope needed (step-up) is a 403; every
// other failure is a 401.
const getAuthFailureStatus = (authResult: unknown) => {
  // The common case (no result, or the API-key check): no throw and catch.
  if (authResult === null || authResult === undefined) {
    return 401;
  }

  try {
    const { status, statusCode } = authResult as {
      status?: unknown;
      statusCode?: unknown;
    };

    return (statusCode ?? status) === 403 ? 403 : 401;
  } catch {
    return 401;
  }
};

/**
 * The one answer to a failed authentication: 401 (403 when the result says
 * so), the challenge, and the JSON-RPC error `body`. A thrown `Response` goes
 * out through here too, with its own status; its headers, like the CORS
 * headers, are already on `res` and are kept.
 */
const sendUnauthorizedResponse = ({
  authResult,
  body,
  fallbackChallenge,
  res,
  status = getAuthFailureStatus(authResult),
  statusMessage,
}: {
  authResult: unknown;
  body: string;
  fallbackChallenge: string;
  res: http.ServerResponse;
  status?: number;
  statusMessage?: string;
}) => {
  // Passed to writeHead rather than set one by one: the common 401 then
  // takes Node's fast path.
  const headers: http.OutgoingHttpHeaders = {};

  if (!res.hasHeader("Content-Type")) {
    headers["Content-Type"] = "application/json";
  }

  // RFC 9110 §15.5.2: a 401 MUST carry a challenge (RFC 6750 §3.1 gives the
  // 403 of insufficient_scope one too).
  if (
    (status === 401 || status === 403) &&
    !res.hasHeader("WWW-Authenticate")
  ) {
    headers["WWW-Authenticate"] =
      getDynamicChallenge(authResult) ?? fallbackChallenge;
  }

  res.writeHead(status, statusMessage, headers).end(body);
};

// RFC 9110 §7.6.1 and §8.6-8.8: headers about one message's framing and
// connection, which a Response passed on must not carry over.
const HOP_BY_HOP_HEADERS = new Set([
  "connection",
  "content-encoding",
  "content-length",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * Sends a `Response` thrown by `authenticate` or `createServer` as it is:
 * its status, every header and its body. Only gaps are filled: a 401 or 403
 * without a challenge gets one, and an empty body the JSON-RPC error body.
 * Returns whether `error` was a Response.
 */
const handleResponseError = async ({
  error,
  fallbackChallenge,
  requestBody,
  res,
}: {
  error: unknown;
  fallbackChallenge: string;
  requestBody?: unknown;
  res: http.ServerResponse;
}): Promise<boolean> => {
  if (!isResponseLike(error)) {
    return false;
  }

  // Read once: a look-alike's getters may answer differently each time.
  let status = 401;
  let statusText: unknown;

  try {
    ({ status, statusText } = error);
  } catch {
    // isResponseLike read the status a moment ago; a getter may still throw.
  }

  if (!Number.isInteger(status) || status < 200 || status > 599) {
    status = 401;
  }

  let body = "";

  try {
    const text: unknown = await error.text();
    body = typeof text === "string" ? text : "";
  } catch {
    // A body already read, or one that fails, counts as none.
  }

  const headers = new Map<string, string[]>();

  try {
    // Repeated names (Set-Cookie) stay separate field lines.
    error.headers.forEach((value, name) => {
      // Node frames the body it sends (length, chunks), and sends it as
      // text (`text()` decoded it): the Response's own framing, encoding and
      // connection headers would describe another message.
      if (
        typeof name === "string" &&
        typeof value === "string" &&
        !HOP_BY_HOP_HEADERS.has(name.toLowerCase())
      ) {
        headers.set(name, [...(headers.get(name) ?? []), value]);
      }
    });
  } catch {
    console.warn("[mcp-proxy] could not read the headers of a thrown Response");
  }

  for (const [name, values] of headers) {
    try {
      res.setHeader(name, values.length === 1 ? values[0] : values);
    } catch {
      // A look-alike's header Node would reject; the others still go out.
      console.warn(
        "[mcp-proxy] dropping an invalid header of a thrown Response",
      );
    }
  }

  const isAuthStatus = status === 401 || status === 403;
  const reason = typeof statusText === "string" ? statusText : "";

  if (!body) {
    res.setHeader("Content-Type", "application/json");
    body = createJsonRpcErrorResponse(
      -32000,
      reason ||
        (isAuthStatus
          ? "Unauthorized: Authentication error"
          : (http.STATUS_CODES[status] ?? "Error")),
      getRequestId(requestBody),
    );
  }

  sendUnauthorizedResponse({
    authResult: error,
    body,
    fallbackChallenge,
    res,
    status,
    statusMessage: /^[\t\x20-\x7e\x80-\xff]*$/.test(reason)
      ? reason
      : undefined,
  });

  return true;
};

/**
 * Answers a failed `createServer` call: a thrown `Response` as it is, an
 * authentication error as a 401, anything else as a 500.
 */
const handleCreateServerError = async ({
  error,
  fallbackChallenge,
  requestBody,
  res,
}: {
  error: unknown;
  fallbackChallenge: string;
  requestBody?: unknown;
  res: http.ServerResponse;
}) => {
  if (
    await handleResponseError({ error, fallbackChallenge, requestBody, res })
  ) {
    return;
  }

  if (isAuthenticationError(error)) {
    sendUnauthorizedResponse({
      authResult: error,
      body: createUnauthorizedBody({
        authResult: error,
        fallbackMessage: getErrorText(error),
        requestBody,
      }),
      fallbackChallenge,
      res,
    });
    return;
  }

  res.writeHead(500).end("Error creating server");
};

/**
 * Runs `authenticate` and answers the request when it fails or throws.
 * Returns whether it answered, and otherwise what `authenticate` returned.
 * `getRequestBody` gives the JSON-RPC request whose id the error answers; it
 * is only called on failure, so a body the SDK reads itself (`POST
 * /messages`) is read here only when it never will.
 */
const handleAuthentication = async ({
  authenticate,
  fallbackChallenge,
  getRequestBody,
  req,
  res,
}: {
  authenticate?: (request: http.IncomingMessage) => Promise<unknown>;
  fallbackChallenge: string;
  getRequestBody?: () => Promise<unknown>;
  req: http.IncomingMessage;
  res: http.ServerResponse;
}): Promise<{ answered: false; authResult: unknown } | { answered: true }> => {
  if (!authenticate) {
    return { answered: false, authResult: undefined };
  }

  let authResult: unknown;
  let threw = false;

  try {
    authResult = await authenticate(req);

    if (!isAuthenticationFailure(authResult)) {
      return { answered: false, authResult };
    }
  } catch (error) {
    logError("[mcp-proxy] authentication error", error);

    authResult = error;
    threw = true;
  }

  const requestBody = await getRequestBody?.();

  if (
    threw &&
    (await handleResponseError({
      error: authResult,
      fallbackChallenge,
      requestBody,
      res,
    }))
  ) {
    return { answered: true };
  }

  sendUnauthorizedResponse({
    authResult,
    body: createUnauthorizedBody({
      authResult,
      fallbackMessage: threw
        ? "Unauthorized: Authentication error"
        : "Unauthorized: Authentication failed",
      requestBody,
    }),
    fallbackChallenge,
    res,
  });

  return { answered: true };
};

/**
 * The request target's path, or `undefined` when it cannot be parsed (`//`,
 * `http://[`): upstream 5.10.0 crashed on those.
 */
const getPathname = (url = "/") => {
  try {
    return new URL(url, "http://localhost").pathname;
  } catch {
    return undefined;
  }
};

/**
 * Hands what `authenticate` returned for a request in a stateful session to
 * the session's server, when it has an `updateAuth(authResult)` method (a
 * FastMCP 3.30+ session): the server then serves the request with the
 * credentials it came with, not those of the session's initialize. As in
 * upstream 6.4+, only a truthy result is passed on (no `authenticate`, no
 * call). An `updateAuth` that throws fails the request with a 500 rather than
 * let it run on stale credentials.
 */
const updateSessionAuth = async (server: ServerLike, authResult: unknown) => {
  if (!authResult) {
    return;
  }

  const { updateAuth } = server as { updateAuth?: unknown };

  if (typeof updateAuth === "function") {
    await updateAuth.call(server, authResult);
  }
};

/**
 * Opens a session (stateful), or serves one request (stateless): creates
 * the server, its transport and, for a session, its idle timer, and hands
 * the request to the transport.
 */
const handleNewStreamSession = async <T extends ServerLike>({
  activeTransports,
  body,
  createServer,
  enableJsonResponse,
  eventStore,
  fallbackChallenge,
  onClose,
  onConnect,
  owned,
  req,
  res,
  sessionIdleTimeout,
  stateless,
}: {
  activeTransports: Map<string, StreamSession<T>>;
  body: unknown;
  createServer: (request: http.IncomingMessage) => Promise<T>;
  enableJsonResponse?: boolean;
  eventStore?: EventStore;
  fallbackChallenge: string;
  onClose?: (server: T) => Promise<void>;
  onConnect?: (server: T) => Promise<void>;
  owned: OwnedSessions;
  req: http.IncomingMessage;
  res: http.ServerResponse;
  sessionIdleTimeout: number;
  stateless?: boolean;
}) => {
  let server: T;

  try {
    server = await createServer(req);
  } catch (error) {
    await handleCreateServerError({
      error,
      fallbackChallenge,
      requestBody: body,
      res,
    });
    return;
  }

  const cleanup = createCleanup(server, onClose);

  // A session no request has used for `sessionIdleTimeout` ms is closed,
  // as a DELETE would: clients that vanish leave nothing behind.
  const idleTimer =
    !stateless && sessionIdleTimeout > 0 && sessionIdleTimeout < Infinity
      ? createIdleTimer(sessionIdleTimeout, () => {
          console.log(
            `[mcp-proxy] closing a session idle for ${sessionIdleTimeout} ms`,
          );
          transport.close().catch((error: unknown) => {
            logError("[mcp-proxy] error closing an idle session", error);
          });
        })
      : undefined;

  idleTimer?.track(res);

  const transport = new StreamableHTTPServerTransport({
    enableJsonResponse,
    // A store the app passes is shared by every session: each gets its
    // own view of it. Without one, each transport gets a store of its own.
    eventStore: eventStore
      ? createSessionEventStore(eventStore)
      : new InMemoryEventStore(),
    onsessioninitialized: (newSessionId) => {
      activeTransports.set(
        newSessionId,
        owned.claim({ idleTimer, server, transport }),
      );
    },
    sessionIdGenerator: stateless ? undefined : randomUUID,
  });

  transport.onclose = () => {
    idleTimer?.stop();

    if (transport.sessionId) {
      activeTransports.delete(transport.sessionId);
    }

    void cleanup();
  };

  if (stateless) {
    // A stateless server lives for one request.
    res.on("close", () => {
      transport.close().catch((error: unknown) => {
        logError("[mcp-proxy] error closing a stateless transport", error);
      });
    });
  }

  try {
    // Started, not awaited, as 5.10.0 does: a server may wait inside
    // connect for the client's capabilities (FastMCP's sessions do), and
    // they arrive with the initialize request that handleRequest delivers.
    server.connect(transport).catch((error: unknown) => {
      logError("[mcp-proxy] error connecting to server", error);
    });

    if (onConnect) {
      await onConnect(server);
    }

    await transport.handleRequest(req, res, body);
  } finally {
    // An initialize that failed (onConnect threw, the SDK answered 406…)
    // opened no session: nothing else would ever close this server.
    if (!stateless && !transport.sessionId) {
      await transport.close();
    }
  }
};

const handleStreamRequest = async <T extends ServerLike>({
  activeTransports,
  authenticate,
  createServer,
  enableJsonResponse,
  eventStore,
  fallbackChallenge,
  getOwnedSessions,
  maxBodySize,
  onClose,
  onConnect,
  req,
  res,
  sessionIdleTimeout,
  stateless,
}: {
  activeTransports: Map<string, StreamSession<T>>;
  authenticate?: (request: http.IncomingMessage) => Promise<unknown>;
  createServer: (request: http.IncomingMessage) => Promise<T>;
  enableJsonResponse?: boolean;
  eventStore?: EventStore;
  fallbackChallenge: string;
  getOwnedSessions: GetOwnedSessions;
  maxBodySize: number;
  onClose?: (server: T) => Promise<void>;
  onConnect?: (server: T) => Promise<void>;
  req: http.IncomingMessage;
  res: http.ServerResponse;
  sessionIdleTimeout: number;
  stateless?: boolean;
}) => {
  const sessionId = [req.headers["mcp-session-id"]].flat()[0];

  // The size is checked before anything else runs: no callback sees an
  // over-size request.
  if (req.method === "POST" && exceedsMaxBodySize(req, maxBodySize)) {
    sendPayloadTooLarge(res, maxBodySize);
    return;
  }

  // MCP authorization §2.6: credentials come with every request, and are
  // checked before the session is looked up, so a live session id with a
  // revoked token gets a 401, never the session. They are checked on the
  // headers, before the body is read: a caller who fails makes the server
  // hold no more of the body than the 401's id needs.
  const authentication = await handleAuthentication({
    authenticate,
    fallbackChallenge,
    getRequestBody:
      req.method === "POST"
        ? () => getUnauthenticatedBody({ maxBodySize, req, res })
        : undefined,
    req,
    res,
  });

  if (authentication.answered) {
    return;
  }

  const owned = getOwnedSessions({ ...authentication, req });

  if (req.method === "POST") {
    let body: unknown;

    try {
      body = await getBody(req, maxBodySize);
    } catch (error) {
      if (error instanceof PayloadTooLargeError) {
        sendPayloadTooLarge(res, maxBodySize);
        return;
      }

      throw error;
    }

    if (sessionId) {
      const session = owned.find(activeTransports.get(sessionId));

      if (!session) {
        res.setHeader("Content-Type", "application/json");
        res
          .writeHead(404)
          .end(createJsonRpcErrorResponse(-32001, "Session not found"));
        return;
      }

      session.idleTimer?.track(res);
      await updateSessionAuth(session.server, authentication.authResult);
      await session.transport.handleRequest(req, res, body);
      return;
    }

    const isInitialize = isInitializeRequest(body);

    if (!stateless && !isInitialize) {
      res.setHeader("Content-Type", "application/json");
      res
        .writeHead(400)
        .end(
          createJsonRpcErrorResponse(
            -32000,
            "Bad Request: No valid session ID provided",
          ),
        );
      return;
    }

    await handleNewStreamSession({
      activeTransports,
      body,
      createServer,
      enableJsonResponse,
      eventStore,
      fallbackChallenge,
      onClose,
      onConnect,
      owned,
      req,
      res,
      sessionIdleTimeout,
      stateless,
    });
    return;
  }

  if (req.method === "GET") {
    if (!sessionId) {
      res.writeHead(400).end("No sessionId");
      return;
    }

    const session = owned.find(activeTransports.get(sessionId));

    if (!session) {
      res.writeHead(400).end("No active transport");
      return;
    }

    session.idleTimer?.track(res);

    const lastEventId = req.headers["last-event-id"];

    if (lastEventId) {
      console.log(
        `[mcp-proxy] client reconnecting with Last-Event-ID ${lastEventId} for session ID ${sessionId}`,
      );
    } else {
      console.log(
        `[mcp-proxy] establishing new SSE stream for session ID ${sessionId}`,
      );
    }

    await session.transport.handleRequest(req, res);
    return;
  }

  if (req.method === "DELETE") {
    console.log("[mcp-proxy] received delete request");

    if (!sessionId) {
      res.writeHead(400).end("Invalid or missing sessionId");
      return;
    }

    console.log("[mcp-proxy] received delete request for session", sessionId);

    const session = owned.find(activeTransports.get(sessionId));

    if (!session) {
      res.writeHead(400).end("No active transport");
      return;
    }

    session.idleTimer?.track(res);

    try {
      await session.transport.handleRequest(req, res);
      await session.transport.close();
    } catch (error) {
      logError("[mcp-proxy] error handling delete request", error);

      if (!res.headersSent) {
        res.writeHead(500).end("Error handling delete request");
      }
    }
  }
};

const handleSSERequest = async <T extends ServerLike>({
  activeTransports,
  authenticate,
  createServer,
  fallbackChallenge,
  getOwnedSessions,
  onClose,
  onConnect,
  req,
  res,
}: {
  activeTransports: Map<string, SSEServerTransport>;
  authenticate?: (request: http.IncomingMessage) => Promise<unknown>;
  createServer: (request: http.IncomingMessage) => Promise<T>;
  fallbackChallenge: string;
  getOwnedSessions: GetOwnedSessions;
  onClose?: (server: T) => Promise<void>;
  onConnect?: (server: T) => Promise<void>;
  req: http.IncomingMessage;
  res: http.ServerResponse;
}) => {
  const authentication = await handleAuthentication({
    authenticate,
    fallbackChallenge,
    req,
    res,
  });

  if (authentication.answered) {
    return;
  }

  const owned = getOwnedSessions({ ...authentication, req });

  let closed = false;

  res.once("close", () => {
    closed = true;
  });

  let server: T;

  try {
    server = await createServer(req);
  } catch (error) {
    await handleCreateServerError({ error, fallbackChallenge, res });
    return;
  }

  const cleanup = createCleanup(server, onClose);

  // The client may have gone while the server was being created.
  if (closed) {
    await cleanup();
    return;
  }

  const transport = new SSEServerTransport("/messages", res);

  activeTransports.set(transport.sessionId, owned.claim(transport));

  res.on("close", () => {
    activeTransports.delete(transport.sessionId);
    void cleanup();
  });

  try {
    await server.connect(transport);

    await transport.send({
      jsonrpc: "2.0",
      method: "sse/connection",
      params: { message: "SSE Connection established" },
    });

    if (onConnect) {
      await onConnect(server);
    }
  } catch (error) {
    logError("[mcp-proxy] error connecting to server", error);

    // Once the event stream has started, ending it is the only answer left.
    if (res.headersSent) {
      res.end();
    } else {
      res.writeHead(500).end("Error connecting to server");
    }
  }
};

const handleSSEMessage = async ({
  activeTransports,
  authenticate,
  fallbackChallenge,
  getOwnedSessions,
  maxBodySize,
  req,
  res,
}: {
  activeTransports: Map<string, SSEServerTransport>;
  authenticate?: (request: http.IncomingMessage) => Promise<unknown>;
  fallbackChallenge: string;
  getOwnedSessions: GetOwnedSessions;
  maxBodySize: number;
  req: http.IncomingMessage;
  res: http.ServerResponse;
}) => {
  // The SDK reads this body itself (and refuses more than 4 MB with a 400):
  // only a size given up front can be checked here.
  if (exceedsMaxBodySize(req, maxBodySize)) {
    sendPayloadTooLarge(res, maxBodySize);
    return;
  }

  const authentication = await handleAuthentication({
    authenticate,
    fallbackChallenge,
    getRequestBody: () => getUnauthenticatedBody({ maxBodySize, req, res }),
    req,
    res,
  });

  if (authentication.answered) {
    return;
  }

  const sessionId = new URL(req.url!, "http://localhost").searchParams.get(
    "sessionId",
  );

  if (!sessionId) {
    res.writeHead(400).end("No sessionId");
    return;
  }

  const transport = getOwnedSessions({ ...authentication, req }).find(
    activeTransports.get(sessionId),
  );

  if (!transport) {
    res.writeHead(400).end("No active transport");
    return;
  }

  try {
    await transport.handlePostMessage(req, res);
  } catch (error) {
    // The SDK (1.2x) throws on a Host header it cannot put in a URL, before
    // answering; the stream endpoint answers the same request 400.
    logError("[mcp-proxy] error handling message", error);

    if (!res.headersSent) {
      res.writeHead(400).end("Bad Request");
    }
  }
};

export const startHTTPServer = async <T extends ServerLike>({
  allowedHosts,
  allowedOrigins,
  apiKey,
  authenticate,
  cors,
  createServer,
  enableJsonResponse,
  eventStore,
  getSessionOwner,
  host = "::",
  maxBodySize = DEFAULT_MAX_BODY_SIZE,
  oauth,
  onClose,
  onConnect,
  onUnhandledRequest,
  port,
  sessionIdleTimeout = 0,
  sseEndpoint = "/sse",
  sslCa,
  sslCert,
  sslKey,
  stateless,
  streamEndpoint = "/mcp",
}: {
  /** `Host` values to answer; any other gets 403. Default: any. */
  allowedHosts?: AllowedHosts;
  /** Browser origins that may call; another `Origin` gets 403. Default: any. */
  allowedOrigins?: AllowedOrigins;
  apiKey?: string;
  authenticate?: (request: http.IncomingMessage) => Promise<unknown>;
  cors?: boolean | CorsOptions;
  createServer: (request: http.IncomingMessage) => Promise<T>;
  enableJsonResponse?: boolean;
  eventStore?: EventStore;
  /** Who a request is; a session then serves only whoever created it. */
  getSessionOwner?: GetSessionOwner;
  host?: string;
  /**
   * The largest request body, in bytes, a stream POST may carry (and a
   * `POST /messages` may announce in `Content-Length`); a larger one gets
   * 413. Defaults to 10 MiB; 0 (or `Infinity`) means no limit.
   */
  maxBodySize?: number;
  oauth?: AuthConfig["oauth"];
  onClose?: (server: T) => Promise<void>;
  onConnect?: (server: T) => Promise<void>;
  onUnhandledRequest?: (
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ) => Promise<void>;
  port: number;
  /**
   * Closes a stateful stream session (its transport, then `onClose`) after
   * this many milliseconds without a request in flight (at most 2^31 - 1,
   * about 24.8 days). Defaults to 0: never, as in 5.10.0; `Infinity` is
   * never too.
   */
  sessionIdleTimeout?: number;
  sseEndpoint?: null | string;
  /**
   * With `sslCert` and `sslKey` (PEM file paths), the server speaks HTTPS;
   * `sslCa` replaces the CA certificates it trusts. The promise rejects when
   * only one of the pair is set or a file cannot be read.
   */
  sslCa?: TLSOptions["sslCa"];
  sslCert?: TLSOptions["sslCert"];
  sslKey?: TLSOptions["sslKey"];
  stateless?: boolean;
  streamEndpoint?: null | string;
}): Promise<SSEServer> => {
  for (const [name, value] of Object.entries({
    maxBodySize,
    sessionIdleTimeout,
  })) {
    if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
      throw new RangeError(`${name} must be a number, 0 or more`);
    }
  }

  // Maps, not objects: a session id such as `__proto__` is just an unknown id.
  const activeSSETransports = new Map<string, SSEServerTransport>();

  const activeStreamTransports = new Map<string, StreamSession<T>>();

  const authMiddleware = new AuthenticationMiddleware({ apiKey, oauth });

  // Built once: the door computes each 401's challenge itself, so asking
  // the middleware per request would build it twice.
  const apiKeyUnauthorizedBody = authMiddleware.getUnauthorizedResponse().body;

  const fallbackChallenge = getFallbackChallenge(oauth);

  const callerGuards = createCallerGuards({ allowedHosts, allowedOrigins });

  const corsOptions = getCorsOptions(cors, callerGuards.isOriginAllowed);

  const getOwnedSessions = createOwnedSessions(getSessionOwner);

  const handleRequest = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ) => {
    applyCorsHeaders(req, res, corsOptions);

    if (callerGuards.handleForbiddenCaller({ req, res })) {
      return;
    }

    if (req.method === "OPTIONS") {
      res.writeHead(204).end();
      return;
    }

    if (req.method === "GET" && req.url === "/ping") {
      res.writeHead(200).end("pong");
      return;
    }

    if (!authMiddleware.validateRequest(req)) {
      sendUnauthorizedResponse({
        authResult: undefined,
        body: apiKeyUnauthorizedBody,
        fallbackChallenge,
        res,
      });
      return;
    }

    const pathname = getPathname(req.url);

    if (pathname === undefined) {
      res.writeHead(400).end("Bad Request");
      return;
    }

    if (sseEndpoint && req.method === "GET" && pathname === sseEndpoint) {
      await handleSSERequest({
        activeTransports: activeSSETransports,
        authenticate,
        createServer,
        fallbackChallenge,
        getOwnedSessions,
        onClose,
        onConnect,
        req,
        res,
      });
      return;
    }

    if (
      sseEndpoint &&
      req.method === "POST" &&
      req.url?.startsWith("/messages")
    ) {
      await handleSSEMessage({
        activeTransports: activeSSETransports,
        authenticate,
        fallbackChallenge,
        getOwnedSessions,
        maxBodySize,
        req,
        res,
      });
      return;
    }

    if (
      streamEndpoint &&
      pathname === streamEndpoint &&
      (req.method === "DELETE" || req.method === "GET" || req.method === "POST")
    ) {
      await handleStreamRequest({
        activeTransports: activeStreamTransports,
        authenticate,
        createServer,
        enableJsonResponse,
        eventStore,
        fallbackChallenge,
        getOwnedSessions,
        maxBodySize,
        onClose,
        onConnect,
        req,
        res,
        sessionIdleTimeout,
        stateless,
      });
      return;
    }

    if (onUnhandledRequest) {
      await onUnhandledRequest(req, res);
    } else {
      res.writeHead(404).end();
    }
  };

  const listener: http.RequestListener = async (req, res) => {
    try {
      await handleRequest(req, res);
    } catch (error) {
      logError("[mcp-proxy] error handling request", error);
      sendInternalServerError({ res });
    }
  };

  const httpServer = await createHTTPServer({
    listener,
    sslCa,
    sslCert,
    sslKey,
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(port, host, () => {
      httpServer.off("error", reject);
      resolve();
    });
  });

  return {
    close: async () => {
      await closeSessions({
        sseTransports: activeSSETransports,
        streamSessions: activeStreamTransports,
      });

      await new Promise<void>((resolve, reject) => {
        httpServer.close((error) => (error ? reject(error) : resolve()));
        // Every session is closed: what is left are keep-alive connections
        // a client may hold open for seconds.
        httpServer.closeAllConnections();
      });
    },
  };
};
