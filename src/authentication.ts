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

  constructor(private config: AuthConfig = {}) {
    if (config.apiKey) {
      this.apiKeyDigest = digest(config.apiKey);
    }
  }

  getUnauthorizedResponse(): { body: string; headers: Record<string, string> } {
    const headers: Record<string, string> = {
      "Content-Type": "application/json",
    };

    if (this.config.oauth?.protectedResource?.resource) {
      headers["WWW-Authenticate"] =
        `Bearer resource_metadata="${this.config.oauth.protectedResource.resource}/.well-known/oauth-protected-resource"`;
    }

    return {
      body: JSON.stringify({
        error: {
          code: 401,
          message: "Unauthorized: Invalid or missing API key",
        },
        id: null,
        jsonrpc: "2.0",
      }),
      headers,
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
