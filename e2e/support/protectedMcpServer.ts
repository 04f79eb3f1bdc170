import type { IncomingMessage } from "node:http";

// An MCP server built on the fork's `startHTTPServer` and protected the way
// the MCP authorization spec asks: it serves its RFC 9728 metadata, verifies
// JWT access tokens against the authorization server's JWKS (issuer,
// audience, expiry, type), and answers failures with challenges:
// - no token: 401 `Bearer resource_metadata="…", scope="…"` (no error code,
//   RFC 6750 §3.1);
// - a token that fails: 401 with `error="invalid_token"` and a description;
// - a token without the scope the server requires: 403
//   `error="insufficient_scope"` with `scope` (MCP step-up authorization).
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { createRemoteJWKSet, errors, jwtVerify } from "jose";

import { startHTTPServer } from "../../src/index.js";

export type ProtectedMcpServer = {
  close: () => Promise<void>;
  metadataUrl: string;
  port: number;
  /** The scopes every request's token must carry, from now on. */
  requireScopes: (scopes: string[]) => void;
  resource: string;
};

/** Why a token was refused, in words RFC 6750 allows (no `"` or `\`). */
const describeTokenError = (error: unknown) => {
  if (error instanceof errors.JWTExpired) {
    return "The access token expired";
  }

  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return "The access token signature is invalid";
  }

  if (error instanceof errors.JWTClaimValidationFailed) {
    return `The access token ${error.claim} claim is not accepted here`;
  }

  return "The access token is invalid";
};

export const startProtectedMcpServer = async ({
  issuer,
  port,
  requiredScopes: initialScopes,
}: {
  issuer: string;
  port: number;
  requiredScopes: string[];
}): Promise<ProtectedMcpServer> => {
  const origin = `http://127.0.0.1:${port}`;
  const resource = `${origin}/mcp`;
  // RFC 9728 §3.1: the well-known segment goes between host and path.
  const metadataUrl = `${origin}/.well-known/oauth-protected-resource/mcp`;
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));

  let requiredScopes = initialScopes;

  const unauthorized = (error: string, parameters: string) => ({
    authenticated: false,
    error,
    statusCode: 401,
    wwwAuthenticate: `Bearer resource_metadata="${metadataUrl}", ${parameters}`,
  });

  const authenticate = async (request: IncomingMessage) => {
    const header = request.headers.authorization;

    if (!header) {
      return unauthorized(
        "Unauthorized: a bearer token is required",
        `scope="${requiredScopes.join(" ")}"`,
      );
    }

    const token = /^Bearer ([\w.~+/-]+=*)$/i.exec(header)?.[1];

    try {
      if (!token) {
        throw new Error("not a bearer token");
      }

      const { payload } = await jwtVerify(token, jwks, {
        algorithms: ["RS256"],
        audience: resource,
        issuer,
        typ: "at+jwt",
      });
      const granted = String(payload.scope ?? "").split(" ");
      const missing = requiredScopes.filter(
        (scope) => !granted.includes(scope),
      );

      if (missing.length > 0) {
        return {
          authenticated: false,
          error: `Forbidden: the token lacks ${missing.join(" ")}`,
          statusCode: 403,
          wwwAuthenticate: `Bearer error="insufficient_scope", scope="${requiredScopes.join(" ")}", resource_metadata="${metadataUrl}", error_description="This request needs ${missing.join(" ")}"`,
        };
      }

      return { clientId: payload.client_id, scopes: granted, sub: payload.sub };
    } catch (error) {
      const description = describeTokenError(error);

      return unauthorized(
        `Unauthorized: ${description}`,
        `error="invalid_token", error_description="${description}"`,
      );
    }
  };

  const createServer = async () => {
    const server = new Server(
      { name: "e2e-protected-mcp", version: "1.0.0" },
      { capabilities: { tools: {} } },
    );

    server.setRequestHandler(ListToolsRequestSchema, async () => ({
      tools: [
        {
          description: "Echoes its text",
          inputSchema: {
            properties: { text: { type: "string" } },
            type: "object",
          },
          name: "echo",
        },
      ],
    }));

    server.setRequestHandler(CallToolRequestSchema, async (request) => ({
      content: [
        { text: String(request.params.arguments?.text ?? ""), type: "text" },
      ],
    }));

    return server;
  };

  const httpServer = await startHTTPServer({
    authenticate,
    createServer,
    host: "127.0.0.1",
    onUnhandledRequest: async (request, response) => {
      if (
        request.method === "GET" &&
        request.url === "/.well-known/oauth-protected-resource/mcp"
      ) {
        response.writeHead(200, { "Content-Type": "application/json" }).end(
          JSON.stringify({
            authorization_servers: [issuer],
            bearer_methods_supported: ["header"],
            resource,
            resource_name: "e2e protected MCP server",
            scopes_supported: ["mcp:tools", "mcp:admin"],
          }),
        );
        return;
      }

      response.writeHead(404).end();
    },
    port,
  });

  return {
    close: () => httpServer.close(),
    metadataUrl,
    port,
    requireScopes: (scopes) => {
      requiredScopes = scopes;
    },
    resource,
  };
};
