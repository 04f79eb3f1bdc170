// proxyServer wired with in-memory transports:
// test client -> proxy server -(proxyServer)-> proxy client -> upstream server
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  LoggingMessageNotificationSchema,
  McpError,
  ReadResourceRequestSchema,
  ResourceUpdatedNotificationSchema,
  type ServerCapabilities,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it, vi } from "vitest";

import { proxyServer } from "../src/proxyServer.js";

type Received = { method: string; params?: unknown };

const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

const uri = "file:///example.txt";

const addTool = {
  description: "Adds two numbers",
  inputSchema: {
    properties: { a: { type: "number" }, b: { type: "number" } },
    required: ["a", "b"],
    type: "object" as const,
  },
  name: "add",
};

/**
 * An upstream server that declares `capabilities` and answers every method
 * they allow. It records the requests it gets; while `hang` is set it
 * answers none of them, until the caller cancels.
 */
const createUpstream = (capabilities: ServerCapabilities) => {
  const received: Received[] = [];
  const state = { hang: false };
  const server = new Server(
    { name: "upstream", version: "2.0.0" },
    { capabilities },
  );
  const record = async (request: Received, signal: AbortSignal) => {
    received.push(request);
    if (state.hang) {
      await new Promise((resolve) => signal.addEventListener("abort", resolve));
    }
  };
  // Whatever reaches the upstream without a handler is recorded as well.
  server.fallbackRequestHandler = async (request) => {
    received.push(request);
    throw new McpError(ErrorCode.MethodNotFound, "Method not found");
  };

  if (capabilities.completions) {
    server.setRequestHandler(CompleteRequestSchema, async (request, extra) => {
      await record(request, extra.signal);
      return { completion: { values: ["world"] } };
    });
  }
  if (capabilities.logging) {
    server.setRequestHandler(SetLevelRequestSchema, async (request, extra) => {
      await record(request, extra.signal);
      return {};
    });
  }
  if (capabilities.prompts) {
    server.setRequestHandler(GetPromptRequestSchema, async (request, extra) => {
      await record(request, extra.signal);
      const text = `Hello, ${request.params.arguments?.name}`;
      return { messages: [{ content: { text, type: "text" }, role: "user" }] };
    });
    server.setRequestHandler(
      ListPromptsRequestSchema,
      async (request, extra) => {
        await record(request, extra.signal);
        return { prompts: [{ name: "hello" }] };
      },
    );
  }
  if (capabilities.resources) {
    server.setRequestHandler(
      ListResourcesRequestSchema,
      async (request, extra) => {
        await record(request, extra.signal);
        return { resources: [{ name: "Example", uri }] };
      },
    );
    server.setRequestHandler(
      ListResourceTemplatesRequestSchema,
      async (request, extra) => {
        await record(request, extra.signal);
        return {
          resourceTemplates: [{ name: "Files", uriTemplate: "file:///{name}" }],
        };
      },
    );
    server.setRequestHandler(
      ReadResourceRequestSchema,
      async (request, extra) => {
        await record(request, extra.signal);
        return { contents: [{ text: "example", uri: request.params.uri }] };
      },
    );
    server.setRequestHandler(SubscribeRequestSchema, async (request, extra) => {
      await record(request, extra.signal);
      return {};
    });
    server.setRequestHandler(
      UnsubscribeRequestSchema,
      async (request, extra) => {
        await record(request, extra.signal);
        return {};
      },
    );
  }
  if (capabilities.tools) {
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      await record(request, extra.signal);
      const { a, b } = request.params.arguments as { a: number; b: number };
      return { content: [{ text: String(a + b), type: "text" }] };
    });
    server.setRequestHandler(ListToolsRequestSchema, async (request, extra) => {
      await record(request, extra.signal);
      return { tools: [addTool] };
    });
  }

  return { received, server, state };
};

const everything: ServerCapabilities = {
  completions: {},
  logging: {},
  prompts: {},
  resources: { subscribe: true },
  tools: {},
};

/** Connects a client, named `name`, to `server` over an in-memory pair. */
const connectClient = async (server: Server, name: string) => {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name, version: "1.0.0" }, { capabilities: {} });
  await server.connect(serverSide);
  await client.connect(clientSide);
  closers.push(
    () => client.close(),
    () => server.close(),
  );
  return client;
};

/** Puts a proxy in front of `upstream`, and returns a client of the proxy. */
const startProxy = async (upstream: Server, requestTimeout?: number) => {
  const proxyClient = await connectClient(upstream, "mcp-proxy");
  const serverCapabilities = proxyClient.getServerCapabilities() ?? {};
  const proxy = new Server(
    { name: "proxy", version: "1.0.0" },
    { capabilities: serverCapabilities },
  );
  await proxyServer({
    client: proxyClient,
    requestTimeout,
    server: proxy,
    serverCapabilities,
  });
  const client = await connectClient(proxy, "test-client");
  return { client, proxyClient };
};

const forwarded: {
  call: (client: Client, params: never) => Promise<unknown>;
  expected: unknown;
  method: string;
  params: object;
}[] = [
  {
    call: (client, params) => client.complete(params),
    expected: { completion: { values: ["world"] } },
    method: "completion/complete",
    params: {
      argument: { name: "name", value: "wo" },
      ref: { name: "hello", type: "ref/prompt" },
    },
  },
  {
    call: (client, params) => client.getPrompt(params),
    expected: {
      messages: [
        { content: { text: "Hello, world", type: "text" }, role: "user" },
      ],
    },
    method: "prompts/get",
    params: { arguments: { name: "world" }, name: "hello" },
  },
  {
    call: (client, params) => client.listPrompts(params),
    expected: { prompts: [{ name: "hello" }] },
    method: "prompts/list",
    params: { cursor: "c1" },
  },
  {
    call: (client, params) => client.listResources(params),
    expected: { resources: [{ name: "Example", uri }] },
    method: "resources/list",
    params: { cursor: "c2" },
  },
  {
    call: (client, params) => client.readResource(params),
    expected: { contents: [{ text: "example", uri }] },
    method: "resources/read",
    params: { uri },
  },
  {
    call: (client, params) => client.subscribeResource(params),
    expected: {},
    method: "resources/subscribe",
    params: { uri },
  },
  {
    call: (client, params) => client.listResourceTemplates(params),
    expected: {
      resourceTemplates: [{ name: "Files", uriTemplate: "file:///{name}" }],
    },
    method: "resources/templates/list",
    params: { cursor: "c3" },
  },
  {
    call: (client, params) => client.unsubscribeResource(params),
    expected: {},
    method: "resources/unsubscribe",
    params: { uri },
  },
  {
    call: (client, params) => client.callTool(params),
    expected: { content: [{ text: "5", type: "text" }] },
    method: "tools/call",
    params: { arguments: { a: 2, b: 3 }, name: "add" },
  },
  {
    call: (client, params) => client.listTools(params),
    expected: { tools: [addTool] },
    method: "tools/list",
    params: { cursor: "c4" },
  },
];

describe("proxyServer", () => {
  it.each(forwarded)(
    "forwards $method and its params",
    async ({ call, expected, method, params }) => {
      const upstream = createUpstream(everything);
      const { client } = await startProxy(upstream.server);

      await expect(call(client, params as never)).resolves.toEqual(expected);
      expect(upstream.received).toEqual([{ method, params }]);
    },
  );

  it.each(forwarded)(
    "gives up on $method after requestTimeout",
    async ({ call, method, params }) => {
      const upstream = createUpstream(everything);
      upstream.state.hang = true;
      const { client } = await startProxy(upstream.server, 50);

      const error = await call(client, params as never).catch((e) => e);
      expect(error).toBeInstanceOf(McpError);
      expect(error).toMatchObject({ code: ErrorCode.RequestTimeout });
      expect(upstream.received).toMatchObject([{ method }]);
    },
  );

  it.each([
    { expected: undefined, requestTimeout: undefined },
    { expected: undefined, requestTimeout: 0 },
    { expected: { timeout: 5000 }, requestTimeout: 5000 },
  ])(
    "passes $expected as request options when requestTimeout is $requestTimeout",
    async ({ expected, requestTimeout }) => {
      const upstream = createUpstream(everything);
      const { client, proxyClient } = await startProxy(
        upstream.server,
        requestTimeout,
      );
      const request = vi.spyOn(proxyClient, "request");

      for (const { call, params } of forwarded) {
        await call(client, params as never);
      }

      expect(request).toHaveBeenCalledTimes(forwarded.length);
      for (const [, , options] of request.mock.calls) {
        expect(options).toEqual(expected);
      }
    },
  );

  it("forwards upstream log messages to the client", async () => {
    const upstream = createUpstream(everything);
    const { client } = await startProxy(upstream.server);
    const message = new Promise((resolve) =>
      client.setNotificationHandler(LoggingMessageNotificationSchema, resolve),
    );

    await upstream.server.sendLoggingMessage({ data: "hi", level: "info" });

    await expect(message).resolves.toEqual({
      method: "notifications/message",
      params: { data: "hi", level: "info" },
    });
  });

  it("forwards client log messages to the upstream", async () => {
    const upstream = createUpstream(everything);
    const { client } = await startProxy(upstream.server);
    const message = new Promise((resolve) =>
      upstream.server.setNotificationHandler(
        LoggingMessageNotificationSchema,
        resolve,
      ),
    );

    await client.notification({
      method: "notifications/message",
      params: { data: "hello", level: "warning" },
    });

    await expect(message).resolves.toEqual({
      method: "notifications/message",
      params: { data: "hello", level: "warning" },
    });
  });

  it("forwards resource updates to the client", async () => {
    const upstream = createUpstream(everything);
    const { client } = await startProxy(upstream.server);
    const update = new Promise((resolve) =>
      client.setNotificationHandler(ResourceUpdatedNotificationSchema, resolve),
    );

    await client.subscribeResource({ uri });
    await upstream.server.sendResourceUpdated({ uri });

    await expect(update).resolves.toEqual({
      method: "notifications/resources/updated",
      params: { uri },
    });
  });

  it("answers logging/setLevel itself, as 5.10.0 does", async () => {
    const upstream = createUpstream(everything);
    const { client } = await startProxy(upstream.server);

    await expect(client.setLoggingLevel("error")).resolves.toEqual({});
    expect(upstream.received).toEqual([]);
  });

  it.each([
    {
      capabilities: { tools: {} },
      methods: [
        "prompts/get",
        "prompts/list",
        "resources/list",
        "resources/read",
        "resources/subscribe",
        "resources/templates/list",
        "resources/unsubscribe",
      ],
    },
    {
      capabilities: { prompts: {}, resources: {} },
      methods: [
        "resources/subscribe",
        "resources/unsubscribe",
        "tools/call",
        "tools/list",
      ],
    },
  ])(
    "leaves methods outside $capabilities unhandled",
    async ({ capabilities, methods }) => {
      const upstream = createUpstream(capabilities);
      const { client } = await startProxy(upstream.server);

      for (const method of methods) {
        const { call, params } = forwarded.find(
          (row) => row.method === method,
        )!;
        await expect(call(client, params as never)).rejects.toMatchObject({
          code: ErrorCode.MethodNotFound,
        });
      }
      expect(upstream.received).toEqual([]);
    },
  );

  it("does not throw when the server does not declare completions", async () => {
    // SDK 1.22+ refuses a completion/complete handler on such a server.
    const upstream = createUpstream({ tools: {} });
    const proxyClient = await connectClient(upstream.server, "mcp-proxy");
    const proxy = new Server(
      { name: "proxy", version: "1.0.0" },
      { capabilities: { tools: {} } },
    );

    await expect(
      proxyServer({
        client: proxyClient,
        server: proxy,
        serverCapabilities: { completions: {}, tools: {} },
      }),
    ).resolves.toBeUndefined();

    const client = await connectClient(proxy, "test-client");
    await expect(
      client.callTool({ arguments: { a: 2, b: 2 }, name: "add" }),
    ).resolves.toEqual({ content: [{ text: "4", type: "text" }] });
    const { call, params } = forwarded[0];
    await expect(call(client, params as never)).rejects.toMatchObject({
      code: ErrorCode.MethodNotFound,
    });
  });
});

describe("resource updates with several servers on one client", () => {
  /** Two proxy servers on one proxy client, as the CLI runs its sessions. */
  const startSharedProxies = async () => {
    const upstream = createUpstream(everything);
    const proxyClient = await connectClient(upstream.server, "mcp-proxy");
    const serverCapabilities = proxyClient.getServerCapabilities() ?? {};

    const connectSession = async (name: string) => {
      const proxy = new Server(
        { name: "proxy", version: "1.0.0" },
        { capabilities: serverCapabilities },
      );
      await proxyServer({
        client: proxyClient,
        server: proxy,
        serverCapabilities,
      });
      const client = await connectClient(proxy, name);
      const updates: unknown[] = [];
      client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
        updates.push(n.params.uri);
      });
      return { client, proxy, updates };
    };

    // A opens first; B, opened last, is the one 5.10.0's handler would serve.
    const a = await connectSession("a");
    const b = await connectSession("b");

    return { a, b, upstream };
  };

  it("go only to the session that subscribed", async () => {
    const { a, b, upstream } = await startSharedProxies();

    await a.client.subscribeResource({ uri });
    await upstream.server.sendResourceUpdated({ uri });
    await vi.waitFor(() => expect(a.updates).toEqual([uri]));

    // Sent after A's: had B been sent A's update, it would be here first.
    await b.client.subscribeResource({ uri: "file:///other.txt" });
    await upstream.server.sendResourceUpdated({ uri: "file:///other.txt" });
    await vi.waitFor(() => expect(b.updates).toEqual(["file:///other.txt"]));
    expect(a.updates).toEqual([uri]);
  });

  it("keep coming to one session after another unsubscribes", async () => {
    const { a, b, upstream } = await startSharedProxies();

    await a.client.subscribeResource({ uri });
    await b.client.subscribeResource({ uri });
    await a.client.unsubscribeResource({ uri });

    // The server behind was not told to stop: B still wants the updates.
    expect(upstream.received.map(({ method }) => method)).toEqual([
      "resources/subscribe",
      "resources/subscribe",
    ]);

    await upstream.server.sendResourceUpdated({ uri });
    await vi.waitFor(() => expect(b.updates).toEqual([uri]));

    await b.client.unsubscribeResource({ uri });
    expect(upstream.received.at(-1)?.method).toBe("resources/unsubscribe");
    expect(a.updates).toEqual([]);
  });

  it("stop for a session that closed", async () => {
    const { a, b, upstream } = await startSharedProxies();

    await a.client.subscribeResource({ uri });
    await b.client.subscribeResource({ uri });
    await a.proxy.close();

    await upstream.server.sendResourceUpdated({ uri });
    await vi.waitFor(() => expect(b.updates).toEqual([uri]));
    expect(a.updates).toEqual([]);
  });
});
