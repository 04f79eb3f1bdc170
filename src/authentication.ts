import type { IncomingMessage } from "http";

import { createHash, timingSafeEqual } from "node:crypto";

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

  constructor(config: AuthConfig = {}) {
    if (config.apiKey) {
      this.apiKeyDigest = digest(config.apiKey);
    }
  }

  /**
   * The body and headers of the API-key 401. The challenge is not among the
   * headers: `startHTTPServer` adds it to every 401 (`getWWWAuthenticateHeader`).
   */
  getUnauthorizedResponse(): { body: string; headers: Record<string, string> } {
    return {
      body: JSON.stringify({
        error: {
          code: 401,
          message: "Unauthorized: Invalid or missing API key",
        },
        id: null,
        jsonrpc: "2.0",
      }),
      headers: { "Content-Type": "application/json" },
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
