// A real OAuth 2.1 authorization server on loopback: oidc-provider with
// dynamic client registration, authorization code + PKCE, and resource
// indicators (RFC 8707) that issue JWT access tokens (RFC 9068) whose
// audience is the resource asked for. Login and consent are oidc-provider's
// own HTML pages, which the tests fill in like a browser.
import { exportJWK, generateKeyPair } from "jose";
import { createServer, type Server } from "node:http";
import Provider, { errors } from "oidc-provider";

export type AuthorizationServer = {
  close: () => Promise<void>;
  issuer: string;
  port: number;
  /** Lifetime in seconds of the access tokens issued from now on. */
  setAccessTokenTTL: (seconds: number) => void;
};

export const startAuthorizationServer = async ({
  port,
  resources,
}: {
  port: number;
  /** Resource indicators it issues tokens for, with their scopes. */
  resources: Record<string, string[]>;
}): Promise<AuthorizationServer> => {
  const issuer = `http://127.0.0.1:${port}`;
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const signingKey = {
    ...(await exportJWK(privateKey)),
    alg: "RS256",
    kid: "e2e-signing-key",
    use: "sig",
  };

  let accessTokenTTL = 600;
  const allScopes = [...new Set(Object.values(resources).flat())];

  const provider = new Provider(issuer, {
    clientDefaults: {
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    },
    cookies: { keys: ["e2e-cookie-signing-key"] },
    // RFC 7591 §3.2.1 lets a server replace the metadata a client registers
    // with. This one lets every client ask for any scope it serves (the user
    // still consents to each): the MCP SDK registers with the scope of the
    // first challenge, and a client held to that could never step up.
    // oidc-provider calls this validator on every registration.
    extraClientMetadata: {
      properties: ["e2e_scope_policy"],
      validator: (_context, _key, _value, metadata) => {
        metadata.scope = allScopes.join(" ");
      },
    },
    features: {
      // oidc-provider's built-in login and consent pages.
      devInteractions: { enabled: true },
      // Open registration (RFC 7591), as MCP clients expect.
      registration: { enabled: true },
      resourceIndicators: {
        defaultResource: () => undefined,
        enabled: true,
        getResourceServerInfo: (_context, resourceIndicator) => {
          const scopes = resources[resourceIndicator];

          if (!scopes) {
            throw new errors.InvalidTarget();
          }

          return {
            accessTokenFormat: "jwt",
            accessTokenTTL,
            audience: resourceIndicator,
            jwt: { sign: { alg: "RS256" } },
            scope: scopes.join(" "),
          };
        },
        useGrantedResource: () => true,
      },
    },
    // The tests' own account store: whoever signs in exists.
    async findAccount(_context, accountId) {
      return {
        accountId,
        async claims() {
          return { sub: accountId };
        },
      };
    },
    jwks: { keys: [signingKey] },
    // PKCE with S256, for every client.
    pkce: { required: () => true },
    scopes: ["openid", ...allScopes],
  });

  // Quiet: oidc-provider reports errors it answers with on this emitter.
  provider.on("server_error", (_context, error) => {
    console.error("[authorization server]", error);
  });

  const server: Server = createServer(provider.callback());

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });

  return {
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
    issuer,
    port,
    setAccessTokenTTL: (seconds) => {
      accessTokenTTL = seconds;
    },
  };
};
