import type http from "node:http";

/**
 * A stateful session's server learns each request's credentials: when
 * `authenticate` passes a request for a known session, the server's
 * `updateAuth(authResult)` (FastMCP 3.30+ sessions have one) is called before
 * the request is handled, as upstream 6.4+ does.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";

import { startHTTPServer } from "../src/startHTTPServer.js";
import { getFreePort } from "./helpers.js";

type Auth = { user: string };

/** A server that answers `whoami` with the auth it holds, FastMCP-style. */
class AuthAwareServer extends Server {
  auth: Auth | undefined;
  readonly updates: unknown[] = [];

  constructor(auth: Auth | undefined) {
    super(
      { name: "auth-aware", version: "1.0.0" },
      { capabilities: { tools: {} } },
    );
    this.auth = auth;

    this.setRequestHandler(ListToolsRequestSchema, async () => ({
      tools: [{ inputSchema: { type: "object" }, name: "whoami" }],
    }));

    this.setRequestHandler(CallToolRequestSchema, async () => ({
      content: [{ text: this.auth?.user ?? "nobody", type: "text" }],
    }));
  }

  updateAuth(auth: Auth) {
    this.updates.push(auth);
    this.auth = auth;
  }
}

/** Who the token in `Authorization: Bearer <user>` says the caller is. */
const authenticate = async (req: http.IncomingMessage) => {
  const user = /^Bearer (\w+)$/.exec(req.headers.authorization ?? "")?.[1];

  return user ? { user } : undefined;
};

const toClose: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) {
    await close();
  }
});

const start = async (
  options: {
    authenticate?: (req: http.IncomingMessage) => Promise<unknown>;
    stateless?: boolean;
  } = {},
) => {
  const servers: AuthAwareServer[] = [];
  const port = await getFreePort();

  const { close } = await startHTTPServer({
    ...options,
    createServer: async (req) => {
      const server = new AuthAwareServer(
        options.authenticate
          ? ((await options.authenticate(req)) as Auth | undefined)
          : undefined,
      );
      servers.push(server);
      return server;
    },
    host: "127.0.0.1",
    port,
  });

  toClose.push(close);

  return { servers, url: new URL(`http://127.0.0.1:${port}/mcp`) };
};

/** A client whose every request carries `Bearer <token.current>`. */
const connectClient = async (url: URL, token: { current: string }) => {
  const transport = new StreamableHTTPClientTransport(url, {
    fetch: (input, init) => {
      const headers = new Headers(init?.headers);
      headers.set("Authorization", `Bearer ${token.current}`);
      return fetch(input, { ...init, headers });
    },
  });
  const client = new Client({ name: "test-client", version: "1.0.0" });

  await client.connect(transport);
  toClose.push(() => client.close());

  return client;
};

const whoami = async (client: Client) => {
  const result = await client.callTool({ arguments: {}, name: "whoami" });

  return (result.content as { text: string }[])[0]?.text;
};

describe("updateAuth on a stateful session", () => {
  it("serves each request with the auth its own credentials gave", async () => {
    const { servers, url } = await start({ authenticate });
    const token = { current: "alice" };
    const client = await connectClient(url, token);

    expect(await whoami(client)).toBe("alice");

    token.current = "bob";

    expect(await whoami(client)).toBe("bob");
    expect(servers).toHaveLength(1);
    expect(servers[0].updates.at(-1)).toEqual({ user: "bob" });
  });

  it("passes the very object authenticate returned", async () => {
    const results: unknown[] = [];
    const { servers, url } = await start({
      authenticate: async (req) => {
        const result = await authenticate(req);
        results.push(result);
        return result;
      },
    });
    const client = await connectClient(url, { current: "carol" });

    await whoami(client);

    expect(servers[0].updates.at(-1)).toBe(results.at(-1));
  });

  it("is not called without authenticate", async () => {
    const { servers, url } = await start();
    const client = await connectClient(url, { current: "dave" });

    expect(await whoami(client)).toBe("nobody");
    expect(servers[0].updates).toEqual([]);
  });

  it("a server without updateAuth is served as before", async () => {
    const port = await getFreePort();
    const { close } = await startHTTPServer({
      authenticate,
      createServer: async () => {
        const server = new Server(
          { name: "plain", version: "1.0.0" },
          { capabilities: { tools: {} } },
        );
        server.setRequestHandler(ListToolsRequestSchema, async () => ({
          tools: [{ inputSchema: { type: "object" }, name: "ping" }],
        }));
        return server;
      },
      host: "127.0.0.1",
      port,
    });
    toClose.push(close);

    const client = await connectClient(
      new URL(`http://127.0.0.1:${port}/mcp`),
      { current: "erin" },
    );

    expect((await client.listTools()).tools.map(({ name }) => name)).toEqual([
      "ping",
    ]);
  });

  it("an updateAuth that throws fails the request with 500, never running it on stale auth", async () => {
    const { servers, url } = await start({ authenticate });
    const token = { current: "frank" };
    const client = await connectClient(url, token);

    servers[0].updateAuth = () => {
      throw new Error("cannot update");
    };
    token.current = "grace";

    await expect(whoami(client)).rejects.toThrow(/Internal Server Error/);
    expect(servers[0].auth).toEqual({ user: "frank" });
  });
});
