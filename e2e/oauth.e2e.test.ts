// The whole MCP OAuth flow with a real authorization server (oidc-provider)
// in front of an MCP server built on the fork, driven by the MCP SDK's own
// StreamableHTTPClientTransport and an OAuthClientProvider; the user's part
// (sign-in, consent) is done over HTTP the way a browser does it.
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from "@modelcontextprotocol/sdk/shared/auth.js";

import {
  auth,
  discoverAuthorizationServerMetadata,
  exchangeAuthorization,
  type OAuthClientProvider,
  startAuthorization,
  UnauthorizedError,
} from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  decodeJwt,
  decodeProtectedHeader,
  generateKeyPair,
  SignJWT,
} from "jose";
import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import {
  type AuthorizationServer,
  startAuthorizationServer,
} from "./support/authorizationServer.js";
import { fieldValues, rawRequest } from "./support/fastmcpApp.js";
import { getFreePort, waitForPortClosed } from "./support/processes.js";
import { cacheRoot, SDK_VERSION } from "./support/projects.js";
import {
  type ProtectedMcpServer,
  startProtectedMcpServer,
} from "./support/protectedMcpServer.js";
import { parseForm, Transcript, UserAgent } from "./support/userAgent.js";

/**
 * What an MCP client app keeps: its registration, tokens and PKCE verifier,
 * in memory. Sending the user to the authorization page is recorded; the
 * test plays the user.
 */
class InMemoryOAuthClientProvider implements OAuthClientProvider {
  readonly authorizationUrls: URL[] = [];
  readonly states: string[] = [];
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: "e2e MCP client",
      grant_types: ["authorization_code"],
      redirect_uris: [this.redirectUrl],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  private information?: OAuthClientInformationMixed;
  private savedTokens?: OAuthTokens;

  private verifier?: string;

  constructor(readonly redirectUrl: string) {}

  clientInformation() {
    return this.information;
  }

  codeVerifier() {
    if (!this.verifier) {
      throw new Error("no code verifier saved");
    }

    return this.verifier;
  }

  redirectToAuthorization(authorizationUrl: URL) {
    this.authorizationUrls.push(authorizationUrl);
  }

  saveClientInformation(information: OAuthClientInformationMixed) {
    this.information = information;
  }

  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }

  saveTokens(tokens: OAuthTokens) {
    this.savedTokens = tokens;
  }

  state() {
    const state = randomUUID();
    this.states.push(state);
    return state;
  }

  tokens() {
    return this.savedTokens;
  }
}

const transcript = new Transcript();
const browser = new UserAgent(transcript.fetch("browser"));
const clientFetch = transcript.fetch("client");

let authorizationServer: AuthorizationServer;
let mcpServer: ProtectedMcpServer;
let redirectUrl: string;
let otherResource: string;
const ports: number[] = [];

beforeAll(async () => {
  const [asPort, mcpPort, callbackPort] = await Promise.all([
    getFreePort(),
    getFreePort(),
    getFreePort(),
  ]);
  ports.push(asPort, mcpPort);

  // Nothing listens there: the browser stops at the redirect, as an app's
  // callback handler would take it.
  redirectUrl = `http://127.0.0.1:${callbackPort}/callback`;
  otherResource = `http://127.0.0.1:${asPort}/other-api`;

  const resource = `http://127.0.0.1:${mcpPort}/mcp`;

  authorizationServer = await startAuthorizationServer({
    port: asPort,
    resources: {
      [otherResource]: ["other:read"],
      [resource]: ["mcp:tools", "mcp:admin"],
    },
  });
  mcpServer = await startProtectedMcpServer({
    issuer: authorizationServer.issuer,
    port: mcpPort,
    requiredScopes: ["mcp:tools"],
  });
});

const closeAll = async () => {
  await Promise.allSettled([mcpServer?.close(), authorizationServer?.close()]);
};

afterAll(closeAll);

/**
 * The user's part, in the browser: open the authorization URL, sign in if
 * asked, consent, and hand the code from the redirect back to the app.
 */
const authorizeInBrowser = async (authorizationUrl: URL, state?: string) => {
  let page = await browser.navigate(authorizationUrl.href, redirectUrl);

  for (let step = 0; step < 4 && !page.redirectedTo; step++) {
    const form = parseForm(page.html, page.url);

    if (form.fields.prompt === "login") {
      page = await browser.submit(
        form,
        { login: "ada", password: "correct horse battery staple" },
        redirectUrl,
      );
    } else if (form.fields.prompt === "consent") {
      page = await browser.submit(form, {}, redirectUrl);
    } else {
      throw new Error(`unexpected page at ${page.url}:\n${page.html}`);
    }
  }

  const callback = new URL(page.redirectedTo ?? page.url);

  expect(callback.searchParams.get("error")).toBeNull();
  // RFC 9207: the response names the issuer; the state comes back.
  expect(callback.searchParams.get("iss")).toBe(authorizationServer.issuer);
  if (state) {
    expect(callback.searchParams.get("state")).toBe(state);
  }

  return callback.searchParams.get("code") ?? "";
};

const newTransport = (provider: OAuthClientProvider) =>
  new StreamableHTTPClientTransport(new URL(mcpServer.resource), {
    authProvider: provider,
    fetch: clientFetch,
  });

/** A request an MCP client sends, raw, with this Authorization header. */
const postInitialize = (authorization?: string) =>
  rawRequest(mcpServer.resource, {
    body: '{"jsonrpc":"2.0","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}},"id":7}',
    headers: {
      Accept: "application/json, text/event-stream",
      "Content-Type": "application/json",
      ...(authorization ? { Authorization: authorization } : {}),
    },
    method: "POST",
  });

/** Where each exchange went, as `actor METHOD path status`. */
const steps = () =>
  transcript.entries.map(
    (entry) =>
      `${entry.actor} ${entry.method} ${new URL(entry.url).pathname} ${entry.response.status}`,
  );

/** Whether `expected` appear in `actual` in this order (gaps allowed). */
const inOrder = (actual: string[], expected: (RegExp | string)[]) => {
  let index = 0;

  for (const step of actual) {
    const next = expected[index];

    if (
      next !== undefined &&
      (typeof next === "string" ? step === next : next.test(step))
    ) {
      index++;
    }
  }

  return index === expected.length;
};

let provider: InMemoryOAuthClientProvider;
let client: Client;
let transport: StreamableHTTPClientTransport;

describe("the MCP SDK client against the fork and oidc-provider", () => {
  it("goes from the first 401 to an authorized tools/list", async () => {
    provider = new InMemoryOAuthClientProvider(redirectUrl);
    transport = newTransport(provider);
    client = new Client({ name: "e2e-oauth-client", version: "1.0.0" });

    // 401 → discovery → registration → authorization URL: the SDK sends the
    // user to the authorization server and stops.
    await expect(client.connect(transport)).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
    expect(provider.authorizationUrls).toHaveLength(1);

    const authorizationUrl = provider.authorizationUrls[0];
    expect(Object.fromEntries(authorizationUrl.searchParams)).toMatchObject({
      code_challenge_method: "S256",
      redirect_uri: redirectUrl,
      resource: mcpServer.resource,
      response_type: "code",
      // The scope the 401 challenge asked for, not all scopes_supported.
      scope: "mcp:tools",
    });

    const code = await authorizeInBrowser(authorizationUrl, provider.states[0]);
    await transport.finishAuth(code);

    const accessToken = provider.tokens()?.access_token ?? "";
    expect(decodeProtectedHeader(accessToken).typ).toBe("at+jwt");
    expect(decodeJwt(accessToken)).toMatchObject({
      aud: mcpServer.resource,
      client_id: provider.clientInformation()?.client_id,
      iss: authorizationServer.issuer,
      scope: "mcp:tools",
      sub: "ada",
    });

    // The app reconnects with the token.
    transport = newTransport(provider);
    client = new Client({ name: "e2e-oauth-client", version: "1.0.0" });
    await client.connect(transport);

    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(["echo"]);
    expect(
      await client.callTool({ arguments: { text: "hello" }, name: "echo" }),
    ).toMatchObject({ content: [{ text: "hello", type: "text" }] });

    const first = transcript.entries[0];
    expect(first).toMatchObject({
      actor: "client",
      method: "POST",
      response: { status: 401 },
      url: mcpServer.resource,
    });
    // No token was sent: the challenge names the metadata and the scope,
    // and no error code (RFC 6750 §3.1).
    expect(first.response.headers["www-authenticate"]).toBe(
      `Bearer resource_metadata="${mcpServer.metadataUrl}", scope="mcp:tools"`,
    );

    const metadataPath = new URL(mcpServer.metadataUrl).pathname;
    expect(
      inOrder(steps(), [
        "client POST /mcp 401",
        `client GET ${metadataPath} 200`,
        /^client GET \/\.well-known\/(oauth-authorization-server|openid-configuration) 200$/,
        "client POST /reg 201",
        /^browser GET \/auth 30[23]$/,
        /^browser GET \/interaction\/[\w-]+ 200$/,
        /^browser POST \/interaction\/[\w-]+ 30[23]$/,
        /^browser GET \/auth\/[\w-]+ 30[23]$/,
        "client POST /token 200",
        "client POST /mcp 200",
      ]),
      steps().join("\n"),
    ).toBe(true);

    const authorized = transcript.entries.find(
      (entry) =>
        entry.actor === "client" &&
        entry.url === mcpServer.resource &&
        entry.response.status === 200,
    );
    expect(authorized?.request.headers.authorization).toBe(
      `Bearer ${accessToken}`,
    );
  });

  it("answers a forged token with 401 invalid_token", async () => {
    const genuine = provider.tokens()?.access_token ?? "";
    const { privateKey } = await generateKeyPair("RS256");
    // The same header (kid included) and claims, signed with another key.
    const forged = await new SignJWT(decodeJwt(genuine))
      .setProtectedHeader(decodeProtectedHeader(genuine) as { alg: string })
      .sign(privateKey);

    const response = await postInitialize(`Bearer ${forged}`);

    expect(response.status).toBe(401);
    expect(fieldValues(response, "WWW-Authenticate")).toEqual([
      `Bearer resource_metadata="${mcpServer.metadataUrl}", error="invalid_token", error_description="The access token signature is invalid"`,
    ]);
    expect(JSON.parse(response.body)).toEqual({
      error: {
        code: -32000,
        message: "Unauthorized: The access token signature is invalid",
      },
      id: 7,
      jsonrpc: "2.0",
    });
  });

  /** A token from the authorization server, outside the SDK transport. */
  const issueToken = async (resource: string, scope: string) => {
    const issuer = authorizationServer.issuer;
    const metadata = await discoverAuthorizationServerMetadata(issuer);
    const clientInformation = provider.clientInformation()!;
    const state = randomUUID();
    const { authorizationUrl, codeVerifier } = await startAuthorization(
      issuer,
      { clientInformation, metadata, redirectUrl, resource, scope, state },
    );
    const code = await authorizeInBrowser(authorizationUrl, state);
    const tokens = await exchangeAuthorization(issuer, {
      authorizationCode: code,
      clientInformation,
      codeVerifier,
      metadata,
      redirectUri: redirectUrl,
      resource,
    });

    return tokens.access_token;
  };

  it("answers an expired token with 401 invalid_token", async () => {
    authorizationServer.setAccessTokenTTL(1);

    try {
      const token = await issueToken(mcpServer.resource, "mcp:tools");
      const { exp } = decodeJwt(token);

      await delay(Math.max(0, (exp ?? 0) * 1000 - Date.now()) + 1_100);

      const response = await postInitialize(`Bearer ${token}`);

      expect(response.status).toBe(401);
      expect(fieldValues(response, "WWW-Authenticate")).toEqual([
        `Bearer resource_metadata="${mcpServer.metadataUrl}", error="invalid_token", error_description="The access token expired"`,
      ]);
    } finally {
      authorizationServer.setAccessTokenTTL(600);
    }
  });

  it("answers a token for another resource with 401 invalid_token", async () => {
    const token = await issueToken(otherResource, "other:read");

    expect(decodeJwt(token).aud).toBe(otherResource);

    const response = await postInitialize(`Bearer ${token}`);

    expect(response.status).toBe(401);
    expect(fieldValues(response, "WWW-Authenticate")).toEqual([
      `Bearer resource_metadata="${mcpServer.metadataUrl}", error="invalid_token", error_description="The access token aud claim is not accepted here"`,
    ]);
  });

  it("answers a token without the required scope with 403 insufficient_scope, and the SDK's step-up completes", async () => {
    const narrowToken = provider.tokens()?.access_token ?? "";

    // The resource server now requires mcp:admin as well (the fork's
    // authenticate sees the request, not its JSON-RPC body, so the
    // requirement is the endpoint's).
    mcpServer.requireScopes(["mcp:tools", "mcp:admin"]);

    try {
      const raw = await postInitialize(`Bearer ${narrowToken}`);
      const challenge = `Bearer error="insufficient_scope", scope="mcp:tools mcp:admin", resource_metadata="${mcpServer.metadataUrl}", error_description="This request needs mcp:admin"`;

      expect(raw.status).toBe(403);
      expect(raw.headers["content-type"]).toMatch(/^application\/json/);
      expect(fieldValues(raw, "WWW-Authenticate")).toEqual([challenge]);

      // The SDK reads the 403, asks for the larger scope, and sends the
      // user to the authorization server again.
      await expect(
        client.callTool({ arguments: { text: "step-up" }, name: "echo" }),
      ).rejects.toBeInstanceOf(UnauthorizedError);
      expect(provider.authorizationUrls).toHaveLength(2);

      const stepUpUrl = provider.authorizationUrls[1];
      expect(stepUpUrl.searchParams.get("scope")).toBe("mcp:tools mcp:admin");

      // Signed in already: the user only consents to mcp:admin.
      const code = await authorizeInBrowser(stepUpUrl, provider.states.at(-1));
      await transport.finishAuth(code);

      expect(decodeJwt(provider.tokens()?.access_token ?? "").scope).toBe(
        "mcp:tools mcp:admin",
      );

      // Same transport, same session: the retried call goes through.
      expect(
        await client.callTool({ arguments: { text: "step-up" }, name: "echo" }),
      ).toMatchObject({ content: [{ text: "step-up", type: "text" }] });

      const forbidden = transcript.entries.find(
        (entry) => entry.actor === "client" && entry.response.status === 403,
      );
      expect(forbidden?.response.headers["www-authenticate"]).toBe(challenge);
    } finally {
      mcpServer.requireScopes(["mcp:tools"]);
    }
  });

  it("writes the transcript of the flow", () => {
    const text = transcript.format({
      AS: authorizationServer.issuer,
      CALLBACK: new URL(redirectUrl).origin,
      MCP: new URL(mcpServer.resource).origin,
    });
    const directory = join(cacheRoot, "transcripts");

    mkdirSync(directory, { recursive: true });
    writeFileSync(join(directory, "oauth-flow.txt"), `${text}\n`);

    expect(text).toContain("client ← 401");
  });
});

describe(`the MCP SDK ${SDK_VERSION} client (what FastMCP 3.22.0 apps hold)`, () => {
  it("follows the same chain; its step-up is the app's own call to auth()", async () => {
    const sdk = join(
      inject("e2e").forkApp,
      "node_modules",
      "@modelcontextprotocol",
      "sdk",
      "dist",
      "esm",
      "client",
    );
    const load = async <T>(file: string) =>
      (await import(pathToFileURL(join(sdk, file)).href)) as T;
    const [
      { Client: OldClient },
      { StreamableHTTPClientTransport: OldTransport },
      oldAuth,
    ] = await Promise.all([
      load<{ Client: typeof Client }>("index.js"),
      load<{
        StreamableHTTPClientTransport: typeof StreamableHTTPClientTransport;
      }>("streamableHttp.js"),
      load<{
        auth: typeof auth;
        UnauthorizedError: typeof UnauthorizedError;
      }>("auth.js"),
    ]);
    const oldProvider = new InMemoryOAuthClientProvider(redirectUrl);
    const connect = async () => {
      const oldTransport = new OldTransport(new URL(mcpServer.resource), {
        authProvider: oldProvider,
      });
      const oldClient = new OldClient({
        name: "e2e-old-sdk",
        version: "1.0.0",
      });
      await oldClient.connect(oldTransport);
      return { oldClient, oldTransport };
    };

    // 401 → discovery → registration → authorization, as with the newest SDK.
    const first = new OldTransport(new URL(mcpServer.resource), {
      authProvider: oldProvider,
    });
    await expect(
      new OldClient({ name: "e2e-old-sdk", version: "1.0.0" }).connect(first),
    ).rejects.toBeInstanceOf(oldAuth.UnauthorizedError);
    expect(oldProvider.authorizationUrls[0].searchParams.get("scope")).toBe(
      "mcp:tools",
    );
    await first.finishAuth(
      await authorizeInBrowser(
        oldProvider.authorizationUrls[0],
        oldProvider.states[0],
      ),
    );

    const { oldClient, oldTransport } = await connect();

    try {
      expect((await oldClient.listTools()).tools).toHaveLength(1);

      mcpServer.requireScopes(["mcp:tools", "mcp:admin"]);

      // This version does not read a 403: the call fails, nothing more.
      await expect(
        oldClient.callTool({ arguments: { text: "old" }, name: "echo" }),
      ).rejects.toThrow(/403/);
      expect(oldProvider.authorizationUrls).toHaveLength(1);

      // The app steps up itself, with the scope from the 403's challenge.
      expect(
        await oldAuth.auth(oldProvider, {
          scope: "mcp:tools mcp:admin",
          serverUrl: mcpServer.resource,
        }),
      ).toBe("REDIRECT");
      const stepUpUrl = oldProvider.authorizationUrls[1];
      expect(stepUpUrl.searchParams.get("scope")).toBe("mcp:tools mcp:admin");
      await oldTransport.finishAuth(
        await authorizeInBrowser(stepUpUrl, oldProvider.states.at(-1)),
      );

      expect(
        await oldClient.callTool({ arguments: { text: "old" }, name: "echo" }),
      ).toMatchObject({ content: [{ text: "old", type: "text" }] });
    } finally {
      mcpServer.requireScopes(["mcp:tools"]);
      await oldClient.close();
    }
  });
});

describe("afterwards", () => {
  it("leaves no server and no port behind", async () => {
    await client?.close();
    await closeAll();

    for (const port of ports) {
      expect(await waitForPortClosed(port)).toBe(true);
    }
  });
});
