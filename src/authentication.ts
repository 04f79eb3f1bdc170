import type { IncomingMessage } from "http";

import { createHash, timingSafeEqual } from "node:crypto";

// startHTTPServer.ts imports this module too; the cycle is harmless, as
// neither module uses the other's exports before a request comes.
import { getStaticChallenge } from "./startHTTPServer.js";

export interface AuthConfig {
  apiKey?: string;
  oauth?: {
    protectedResource?: {
      resource?: string;
    };
  };
}

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
   * The body and headers of the API-key 401, as 5.10.0 gives them: the
   * headers carry `WWW-Authenticate` when `oauth` gives a static challenge,
   * the one `startHTTPServer` sends (`getWWWAuthenticateHeader`'s rule 2).
   */
  getUnauthorizedResponse(): { body: string; headers: Record<string, string> } {
    const challenge = getStaticChallenge(this.oauth);

    return {
      body: JSON.stringify({
        error: {
          code: 401,
          message: "Unauthorized: Invalid or missing API key",
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
