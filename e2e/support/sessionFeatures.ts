// What a FastMCP 3.x app gets from its sessions, checked through the fixture
// app's `session` and `count` tools: the tool context's sessionId, the
// client capabilities FastMCP learns when a session starts, the roots it
// lists, per-session state, and no session start that waits for
// capabilities that never come.
//
// FastMCP's session asks the MCP server for the client's capabilities inside
// `connect`, retrying ten times 100 ms apart, and logs "could not infer client
// capabilities" when they never came. They come with the initialize request,
// so mcp-proxy must start `connect` without waiting for it before it hands the
// request to the transport, as upstream 5.10.0 does.
//
// FastMCP learns capabilities a little after the initialize answer, so the
// checks wait (at most a few seconds) for the state they expect. Roots are
// asked for after the client's standalone SSE stream is open: a server
// request sent before that has no stream to go on and is lost (the SDK's
// transport drops it), so `connect`'s own roots/list may never be answered.
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";

import { describe, expect, it, vi } from "vitest";

import {
  type FastMCPApp,
  GOOD_TOKEN,
  jsonRpcMessage,
  loadProjectSdkClient,
  rawRequest,
} from "./fastmcpApp.js";

export const CAPABILITIES_WARNING = "could not infer client capabilities";

export const ROOTS = [{ name: "e2e", uri: "file:///e2e/project" }];

type SessionView = {
  clientCapabilities: null | Record<string, unknown>;
  known: boolean;
  roots: null | unknown[];
  sessionId: null | string;
};

/** How long a check waits for FastMCP to reach the state it expects. */
const SETTLE = { interval: 50, timeout: 5_000 };

/**
 * An SDK client of the app's own SDK, declaring roots (with listChanged, as
 * clients that have roots do), with a good token. `streamOpen` settles once
 * the client's standalone GET stream is open.
 */
export const connectClient = async (directory: string, url: string) => {
  const { Client, ListRootsRequestSchema, StreamableHTTPClientTransport } =
    await loadProjectSdkClient(directory);
  let markStreamOpen = () => {};
  const streamOpen = new Promise<void>((resolve) => {
    markStreamOpen = resolve;
  });
  const watchingFetch: FetchLike = async (input, init) => {
    const response = await fetch(input, init);

    if (
      init?.method === "GET" &&
      response.ok &&
      response.headers.get("content-type")?.startsWith("text/event-stream")
    ) {
      markStreamOpen();
    }

    return response;
  };
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: watchingFetch,
    requestInit: { headers: { Authorization: `Bearer ${GOOD_TOKEN}` } },
  });
  const client = new Client(
    { name: "e2e-roots-client", version: "1.0.0" },
    { capabilities: { roots: { listChanged: true } } },
  );

  client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: ROOTS }));
  await client.connect(transport);

  const callText = async (name: string) => {
    const result = (await client.callTool({ arguments: {}, name })) as {
      content: { text: string; type: string }[];
    };
    return result.content[0].text;
  };

  return {
    callText,
    client,
    close: () => client.close(),
    session: async () => JSON.parse(await callText("session")) as SessionView,
    streamOpen,
    transport,
  };
};

type Connected = Awaited<ReturnType<typeof connectClient>>;

/** Waits until FastMCP knows the session's client capabilities. */
const capabilitiesKnown = (connected: Connected) =>
  vi.waitFor(async () => {
    expect((await connected.session()).clientCapabilities).not.toBeNull();
  }, SETTLE);

/**
 * The session checks for one installed FastMCP app. `start` starts the
 * fixture app (stateful or stateless) and registers it for cleanup.
 */
export const describeSessionFeatures = ({
  directory,
  label,
  start,
}: {
  directory: string;
  label: string;
  start: (stateless: boolean, name: string) => Promise<FastMCPApp>;
}) => {
  describe(`${label}, stateful: what FastMCP's sessions see`, () => {
    let app: FastMCPApp;
    let first: Connected;
    let second: Connected;

    it("starts, and two clients that declare roots connect", async () => {
      app = await start(false, `${label} sessions stateful`);
      first = await connectClient(directory, app.url);
      second = await connectClient(directory, app.url);
    });

    it("a tool's context carries its own session's id, and FastMCP knows that session", async () => {
      for (const connected of [first, second]) {
        const view = await connected.session();

        expect(view.sessionId).toBe(connected.transport.sessionId);
        expect(view.known).toBe(true);
      }
    });

    it("FastMCP learns the client's capabilities when the session starts", async () => {
      for (const connected of [first, second]) {
        await vi.waitFor(async () => {
          expect((await connected.session()).clientCapabilities).toEqual({
            roots: { listChanged: true },
          });
        }, SETTLE);
      }
    });

    it("FastMCP lists the client's roots (roots/list over the client's stream)", async () => {
      for (const connected of [first, second]) {
        await connected.streamOpen;
        await connected.client.sendRootsListChanged();

        await vi.waitFor(async () => {
          expect((await connected.session()).roots).toEqual(ROOTS);
        }, SETTLE);
      }
    });

    it("keeps per-session state apart (a counter keyed by sessionId)", async () => {
      const counts = [];

      for (const connected of [first, second, first, first, second]) {
        counts.push(await connected.callText("count"));
      }

      expect(counts).toEqual(["1", "1", "2", "3", "2"]);
    });

    it(`no session start waited for capabilities ("${CAPABILITIES_WARNING}" never logged)`, async () => {
      // Once FastMCP knows the capabilities, its retries are over, and a
      // session that waited for them in vain would have logged the warning
      // after a second. Wait for that point, whatever the outcome.
      for (const connected of [first, second]) {
        await capabilitiesKnown(connected).catch(() => undefined);
      }

      expect(app.output()).not.toContain(CAPABILITIES_WARNING);
    });

    it("the sessions end", async () => {
      for (const connected of [first, second]) {
        await connected.transport.terminateSession();
        await connected.close();
      }
    });
  });

  describe(`${label}, stateless: what FastMCP's per-request sessions see`, () => {
    let app: FastMCPApp;

    it("starts", async () => {
      app = await start(true, `${label} sessions stateless`);
    });

    it("runs a tool call while FastMCP still waits for that request's client capabilities", async () => {
      // A stateless request other than initialize brings no capabilities:
      // FastMCP's connect gives up on them after its retries and logs the
      // warning. The request must not wait for that.
      const response = await rawRequest(app.url, {
        body: JSON.stringify({
          id: 1,
          jsonrpc: "2.0",
          method: "tools/call",
          params: { arguments: {}, name: "session" },
        }),
        headers: {
          Accept: "application/json, text/event-stream",
          Authorization: `Bearer ${GOOD_TOKEN}`,
          "Content-Type": "application/json",
        },
        method: "POST",
      });

      expect(response.status).toBe(200);
      expect(
        JSON.parse(
          (
            jsonRpcMessage(response.body) as {
              result?: { content: { text: string }[] };
            }
          ).result?.content[0].text ?? "",
        ),
      ).toMatchObject({ sessionId: null });

      await app.waitFor(CAPABILITIES_WARNING, 20_000);
      const output = app.output();

      expect(output.indexOf("E2E_TOOL_CALL session")).toBeGreaterThan(-1);
      expect(output.indexOf("E2E_TOOL_CALL session")).toBeLessThan(
        output.indexOf(CAPABILITIES_WARNING),
      );
    });

    it("a tool's context has no session id: stateless mode has no session", async () => {
      const connected = await connectClient(directory, app.url);

      try {
        expect(connected.transport.sessionId).toBeUndefined();
        expect(await connected.session()).toEqual({
          clientCapabilities: null,
          known: false,
          roots: null,
          sessionId: null,
        });
      } finally {
        await connected.close();
      }
    });
  });
};
