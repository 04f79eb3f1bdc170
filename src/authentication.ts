import type { IncomingMessage } from "http";

import { createHash, timingSafeEqual } from "node:crypto";

import {
  getScopeChallenge,
  getStaticChallenge,
  type OAuthConfig,
  type UnauthorizedResponseOptions,
} from "./challenge.js";

export type { UnauthorizedResponseOptions } from "./challenge.js";

export interface AuthConfig {
  apiKey?: string;
  /**
   * What the static challenge of every 401 says (RFC 6750 §3, RFC 9728
   * §5.1). `error`, `error_description` and `error_uri` go on every such
   * challenge, requests without a token included: leave them unset unless
   * that is what you mean.
   */
  oauth?: OAuthConfig;
}

/**
 * What `authenticate` may return, or throw, to say how a request fared.
 * Anything truthy without `authenticated: false` lets the request through
 * (and reaches `getSessionOwner`); a falsy result, `authenticated: false`,
 * or a throw is a failure, answered with:
 *
 * - `statusCode` (or `status`) 403: a 403, for a token without the scope
 *   needed (RFC 6750 §3.1); any other value gives a 401;
 * - `wwwAuthenticate`: the challenge, one field line per array entry; it
 *   wins over the one built from the `oauth` option;
 * - `error`: the message of the JSON-RPC error body.
 *
 * `startHTTPServer` types `authenticate`'s result as `unknown`, as 5.10.0
 * does; this type names the fields it reads.
 */
export type AuthResult = {
  [key: string]: unknown;
  authenticated?: boolean;
  error?: string;
  status?: number;
  statusCode?: number;
  wwwAuthenticate?: string | string[];
};

const DEFAULT_UNAUTHORIZED_MESSAGE = "Unauthorized: Invalid or missing API key";

// Hashing both sides first gives equal-length buffers, so the comparison
// takes the same time whatever the key's length or first differing byte.
const digest = (value: string) => createHash("sha256").update(value).digest();

export class AuthenticationMiddleware {
  private readonly apiKeyDigest?: Buffer;

  private readonly oauth?: AuthConfig["oauth"];

  constructor(config: AuthConfig = {}) {
    if (config.apiKey) {
      this.apiKeyDigest = digest(config.apiKey);
    }

    this.oauth = config.oauth;
  }

  /**
   * The 403 of a token without the scopes needed (step-up authorization):
   * `Bearer error="insufficient_scope", scope="…", resource_metadata="…"`,
   * and a JSON-RPC error -32001 whose `data` lists the scopes.
   */
  getScopeChallengeResponse(
    requiredScopes: string[],
    errorDescription?: string,
    requestId?: unknown,
  ): { body: string; headers: Record<string, string>; statusCode: number } {
    return {
      body: JSON.stringify({
        error: {
          code: -32001,
          data: {
            error: "insufficient_scope",
            required_scopes: Array.isArray(requiredScopes)
              ? requiredScopes
              : [],
          },
          message: errorDescription || "Insufficient scope",
        },
        // JSON-RPC 2.0 §5: an id is a string, a number or null.
        id:
          typeof requestId === "string" || typeof requestId === "number"
            ? requestId
            : null,
        jsonrpc: "2.0",
      }),
      headers: {
        "Content-Type": "application/json",
        // RFC 6750 §3: a token that does not grant access gets a challenge.
        "WWW-Authenticate": getScopeChallenge({
          errorDescription,
          oauth: this.oauth,
          requiredScopes,
        }),
      },
      statusCode: 403,
    };
  }

  /**
   * The body and headers of the API-key 401. Without `options`, as 5.10.0
   * gives them: the headers carry `WWW-Authenticate` when `oauth` gives a
   * static challenge, the one `startHTTPServer` sends
   * (`getWWWAuthenticateHeader`'s rule 2). `options` add what the caller
   * knows (an `error` code, its description...) to that challenge, and the
   * description becomes the body's message.
   */
  getUnauthorizedResponse(options?: UnauthorizedResponseOptions): {
    body: string;
    headers: Record<string, string>;
  } {
    const challenge = getStaticChallenge({ oauth: this.oauth, options });
    const message = options?.error_description;

    return {
      body: JSON.stringify({
        error: {
          code: 401,
          message:
            typeof message === "string" && message
              ? message
              : DEFAULT_UNAUTHORIZED_MESSAGE,
        },
        id: null,
        jsonrpc: "2.0",
      }),
      headers: challenge
        ? { "Content-Type": "application/json", "WWW-Authenticate": challenge }
        : { "Content-Type": "application/json" },
    };
  }

  validateRequest(req: IncomingMessage): boolean {
    if (!this.apiKeyDigest) {
      return true;
    }

    // Node lower-cases header names; a repeated X-API-Key arrives joined
    // with ", " and so never matches.
    const apiKey = req.headers["x-api-key"];

    if (!apiKey || typeof apiKey !== "string") {
      return false;
    }

    return timingSafeEqual(digest(apiKey), this.apiKeyDigest);
  }
}
