// CORS: which browser pages may read the server's answers, and which of
// their headers and methods a preflight allows.
import type http from "node:http";

import { logError } from "./errors.js";

export interface CorsOptions {
  allowedHeaders?: string | string[];
  credentials?: boolean;
  exposedHeaders?: string[];
  maxAge?: number;
  methods?: string[];
  origin?: ((origin: string) => boolean) | string | string[];
}

const defaultCorsOptions: CorsOptions = {
  // The SDK's client sends Mcp-Protocol-Version on every request after
  // initialize, and DELETE to end its session.
  allowedHeaders:
    "Content-Type, Authorization, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-Id",
  credentials: true,
  // Browser clients can read the challenge only if it is exposed.
  exposedHeaders: ["Mcp-Session-Id", "WWW-Authenticate"],
  methods: ["GET", "POST", "DELETE", "OPTIONS"],
  origin: "*",
};

/**
 * The CORS options in force. `isOriginAllowed` is the `allowedOrigins`
 * check: unless `cors.origin` says otherwise, the origins it lets through
 * are the ones echoed (with `Vary: Origin`), and no other.
 */
export const getCorsOptions = (
  cors?: boolean | CorsOptions,
  isOriginAllowed?: (origin: string) => boolean,
) => {
  if (cors === false) {
    return undefined;
  }

  const defaults = isOriginAllowed
    ? { ...defaultCorsOptions, origin: isOriginAllowed }
    : defaultCorsOptions;

  if (cors === true || cors === undefined) {
    return defaults;
  }

  return { ...defaults, ...cors };
};

const getAllowedOrigin = (
  origin: string,
  allowed: CorsOptions["origin"],
): string | undefined => {
  if (!allowed) {
    return "*";
  }

  if (typeof allowed === "string") {
    return allowed;
  }

  const isAllowed = Array.isArray(allowed)
    ? allowed.includes(origin)
    : allowed(origin);

  return isAllowed ? origin : undefined;
};

export const applyCorsHeaders = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  corsOptions?: CorsOptions,
) => {
  if (!req.headers.origin || !corsOptions) {
    return;
  }

  let allowedOrigin: string | undefined;
  let origin: string;

  try {
    origin = new URL(req.headers.origin).origin;
    allowedOrigin = getAllowedOrigin(origin, corsOptions.origin);
  } catch (error) {
    logError("[mcp-proxy] error parsing origin", error);
    return;
  }

  // Only an origin the app listed (or its function allowed) is echoed. The
  // default `*` stays `*`: beside Allow-Credentials, browsers then refuse a
  // cookie-credentialed read (Fetch §3.2.5), while a client that sends its
  // token in Authorization, as the SDK's does, still works.
  if (allowedOrigin) {
    res.setHeader("Access-Control-Allow-Origin", allowedOrigin);
  }

  // RFC 9110 §12.5.5: an answer that depends on the Origin tells caches so.
  if (
    typeof corsOptions.origin === "function" ||
    Array.isArray(corsOptions.origin)
  ) {
    res.setHeader("Vary", "Origin");
  }

  if (corsOptions.credentials !== undefined) {
    res.setHeader(
      "Access-Control-Allow-Credentials",
      String(corsOptions.credentials),
    );
  }

  if (corsOptions.methods) {
    res.setHeader(
      "Access-Control-Allow-Methods",
      corsOptions.methods.join(", "),
    );
  }

  if (corsOptions.allowedHeaders) {
    res.setHeader(
      "Access-Control-Allow-Headers",
      [corsOptions.allowedHeaders].flat().join(", "),
    );
  }

  if (corsOptions.exposedHeaders) {
    res.setHeader(
      "Access-Control-Expose-Headers",
      corsOptions.exposedHeaders.join(", "),
    );
  }

  if (corsOptions.maxAge !== undefined) {
    res.setHeader("Access-Control-Max-Age", String(corsOptions.maxAge));
  }
};
