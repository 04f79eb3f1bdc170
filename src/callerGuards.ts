// Who may call, and from where: the `Origin` and `Host` checks that answer
// 403 before authentication and before any session is looked up.
import type http from "node:http";

import { logError } from "./errors.js";
import { createJsonRpcErrorResponse } from "./jsonRpcErrors.js";

/**
 * The `Host` values the server answers to, port included
 * (`localhost:8080`): one, a list, or a test of the lower-cased header.
 */
export type AllowedHosts = ((host: string) => boolean) | string | string[];

/**
 * The browser origins whose pages may call the server: one origin, a list,
 * or a test of the request's normalised origin (`https://app.example`). A
 * request without `Origin` (not a browser) is never refused for it.
 */
export type AllowedOrigins = ((origin: string) => boolean) | string | string[];

/**
 * An origin as a browser serialises it: scheme, host and any non-default
 * port, lower-cased (`HTTPS://App.example:443/x` gives `https://app.example`).
 * The opaque origin `null` stays `null`; what is not a URL gives undefined.
 */
export const normalizeOrigin = (value: string): string | undefined => {
  if (value === "null") {
    return "null";
  }

  try {
    const url = new URL(value);

    // Node calls the origin of a non-special scheme (chrome-extension://id)
    // opaque; its scheme and host still name one origin.
    return url.origin === "null" ? `${url.protocol}//${url.host}` : url.origin;
  } catch {
    return undefined;
  }
};

const normalizeHost = (value: string) =>
  value.trim().toLowerCase() || undefined;

/**
 * Whether an origin is a page on this machine: http or https on
 * `localhost`, `127.0.0.1` or `[::1]`, any port. The CLI's default.
 */
export const isLoopbackOrigin = (origin: string) => {
  try {
    const { hostname, protocol } = new URL(origin);

    return (
      (protocol === "http:" || protocol === "https:") &&
      ["[::1]", "127.0.0.1", "localhost"].includes(hostname)
    );
  } catch {
    return false;
  }
};

/**
 * A test of a normalised value against what the app allowed. A list is
 * normalised once, here, so that a value that can never match fails at
 * startup rather than refusing every request.
 */
const createCheck = ({
  allowed,
  name,
  normalize,
  noun,
}: {
  allowed: ((value: string) => boolean) | string | string[];
  name: string;
  normalize: (value: string) => string | undefined;
  noun: string;
}): ((value: string) => boolean) => {
  if (typeof allowed === "function") {
    return (value) => {
      try {
        return allowed(value) === true;
      } catch (error) {
        // A test that fails allows nothing.
        logError(`[mcp-proxy] ${name} threw`, error);
        return false;
      }
    };
  }

  const listed = new Set(
    [allowed].flat().map((entry: unknown) => {
      const normalized =
        typeof entry === "string" ? normalize(entry) : undefined;

      if (normalized === undefined) {
        throw new TypeError(`${name}: ${JSON.stringify(entry)} is not ${noun}`);
      }

      return normalized;
    }),
  );

  return (value) => listed.has(value);
};

const sendForbidden = ({
  message,
  res,
}: {
  message: string;
  res: http.ServerResponse;
}) => {
  res
    .writeHead(403, { "Content-Type": "application/json" })
    .end(createJsonRpcErrorResponse(-32000, message));
};

/**
 * The checks of `allowedOrigins` and `allowedHosts`; either left unset
 * checks nothing, as in every upstream release.
 */
export const createCallerGuards = ({
  allowedHosts,
  allowedOrigins,
}: {
  allowedHosts?: AllowedHosts;
  allowedOrigins?: AllowedOrigins;
}) => {
  const isHostAllowed =
    allowedHosts === undefined
      ? undefined
      : createCheck({
          allowed: allowedHosts,
          name: "allowedHosts",
          normalize: normalizeHost,
          noun: "a host",
        });

  const isOriginAllowed =
    allowedOrigins === undefined
      ? undefined
      : createCheck({
          allowed: allowedOrigins,
          name: "allowedOrigins",
          normalize: normalizeOrigin,
          noun: "an origin",
        });

  return {
    /**
     * Answers 403 to a request whose `Host` is not allowed, or whose
     * `Origin` is present and not allowed. Returns whether it answered.
     */
    handleForbiddenCaller: ({
      req,
      res,
    }: {
      req: http.IncomingMessage;
      res: http.ServerResponse;
    }) => {
      const { host, origin } = req.headers;

      // DNS rebinding: a page whose name resolves to this server still
      // sends its own name in Host.
      if (isHostAllowed) {
        const normalizedHost = normalizeHost(host ?? "");

        if (normalizedHost === undefined || !isHostAllowed(normalizedHost)) {
          sendForbidden({ message: "Forbidden: host not allowed", res });
          return true;
        }
      }

      // MCP transport spec (Streamable HTTP, "Security Warning"): servers
      // MUST validate Origin, and answer 403 when it is invalid.
      if (isOriginAllowed && origin !== undefined) {
        const normalizedOrigin = normalizeOrigin(origin);

        if (
          normalizedOrigin === undefined ||
          !isOriginAllowed(normalizedOrigin)
        ) {
          sendForbidden({ message: "Forbidden: origin not allowed", res });
          return true;
        }
      }

      return false;
    },
    isOriginAllowed,
  };
};
