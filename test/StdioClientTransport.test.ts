import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";

import {
  StdioClientTransport,
  type StdioServerParameters,
  type StdioTransportEvent,
} from "../src/StdioClientTransport.js";

const fixture = fileURLToPath(
  new URL("fixtures/simple-stdio-server.ts", import.meta.url),
);

const inheritedEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    (entry): entry is [string, string] => entry[1] !== undefined,
  ),
);

/** Parameters that run `code` with this Node binary. */
const nodeScript = (
  code: string,
  params: Partial<StdioServerParameters> = {},
): StdioServerParameters => ({
  args: ["-e", code],
  command: process.execPath,
  env: inheritedEnv,
  ...params,
});

/** A script that echoes each stdin line back, preceded by a log line. */
const noisyEcho = `
  process.stdout.write("booting\\n");
  require("node:readline")
    .createInterface({ input: process.stdin })
    .on("line", (line) => process.stdout.write("log: got a line\\n" + line + "\\n"));
`;

/** Retries `assertion` until it passes; children can be slow on a busy box. */
const eventually = (assertion: () => void) =>
  vi.waitFor(assertion, { interval: 10, timeout: 10_000 });

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A transport whose callbacks record into arrays. */
const recorded = (params: StdioServerParameters) => {
  const events: StdioTransportEvent[] = [];
  const transport = new StdioClientTransport({
    ...params,
    onEvent: (event) => events.push(event),
  });
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => {
      closes += 1;
      resolve();
    };
  });
  const errors: Error[] = [];
  const messages: JSONRPCMessage[] = [];
  let closes = 0;

  transport.onerror = (error) => errors.push(error);
  transport.onmessage = (message) => messages.push(message);

  return {
    closed,
    closes: () => closes,
    errors,
    events,
    messages,
    transport,
  };
};

const transports: StdioClientTransport[] = [];
const track = <T extends { transport: StdioClientTransport }>(value: T) => {
  transports.push(value.transport);
  return value;
};

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(transports.splice(0).map((t) => t.close()));
});

const ping = (id: number): JSONRPCMessage => ({
  id,
  jsonrpc: "2.0",
  method: "ping",
});

describe("StdioClientTransport", () => {
  it("lets an SDK client use a stdio MCP server", async () => {
    const { closes, transport } = track(
      recorded({
        args: ["--import", "tsx", fixture],
        command: process.execPath,
        env: inheritedEnv,
      }),
    );
    const client = new Client({ name: "test", version: "1.0.0" });

    await client.connect(transport);
    const pid = transport.pid;

    expect(pid).toEqual(expect.any(Number));
    expect((await client.listTools()).tools.map(({ name }) => name)).toEqual([
      "add",
    ]);
    expect(
      await client.callTool({ arguments: { a: 2, b: 3 }, name: "add" }),
    ).toMatchObject({ content: [{ text: "5", type: "text" }] });

    await client.close();

    expect(closes()).toBe(1);
    expect(transport.pid).toBeNull();
    expect(isAlive(pid!)).toBe(false);
  });

  it("drops non-JSON stdout lines and reports data and messages", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const { errors, events, messages, transport } = track(
      recorded(nodeScript(noisyEcho)),
    );

    await transport.start();
    await transport.send(ping(1));
    await eventually(() => expect(messages).toEqual([ping(1)]));

    expect(errors).toEqual([]);
    expect(events).toContainEqual({
      chunk: JSON.stringify(ping(1)) + "\n",
      type: "data",
    });
    expect(events).toContainEqual({ message: ping(1), type: "message" });
    // How the lines are split into chunks (and so warnings) varies.
    expect(warn.mock.calls.flatMap(([, lines]) => lines)).toEqual([
      "booting",
      "log: got a line",
    ]);
  });

  it("reports a bad JSON line and goes on reading", async () => {
    const { errors, messages, transport } = track(
      recorded(
        nodeScript(`
          process.stdout.write("{not json\\n" + ${JSON.stringify(JSON.stringify(ping(2)))} + "\\n");
          setInterval(() => {}, 1000);
        `),
      ),
    );

    await transport.start();
    await eventually(() => expect(messages).toEqual([ping(2)]));

    expect(errors).toHaveLength(1);
  });

  it("delivers a child's last message, then closes exactly once when it exits", async () => {
    const { closed, closes, events, messages, transport } = track(
      recorded(
        nodeScript(
          `process.stdout.write(${JSON.stringify(JSON.stringify(ping(3)))} + "\\n")`,
        ),
      ),
    );

    await transport.start();
    await closed;
    await transport.close();
    await new Promise((resolve) => setImmediate(resolve));

    expect(messages).toEqual([ping(3)]);
    expect(closes()).toBe(1);
    expect(events.filter(({ type }) => type === "close")).toHaveLength(1);
    expect(transport.pid).toBeNull();
    await expect(transport.send(ping(4))).rejects.toThrow("Not connected");
  });

  it.each([
    {
      name: "SIGTERM",
      script: "setInterval(() => {}, 1000)",
    },
    {
      // close() must not hang on a child that ignores SIGTERM.
      name: "SIGKILL after SIGTERM is ignored",
      script: `
        process.on("SIGTERM", () => {});
        process.stdout.write('{"jsonrpc":"2.0","method":"ready"}\\n');
        setInterval(() => {}, 1000);
      `,
    },
  ])(
    "close() ends a running child ($name) and fires onclose once",
    async ({ script }) => {
      const { closes, messages, transport } = track(
        recorded(nodeScript(script)),
      );

      await transport.start();
      // Wait until the child is running its script (and has set up handlers).
      if (script.includes("ready")) {
        await eventually(() => expect(messages).toHaveLength(1));
      }
      const pid = transport.pid!;

      await transport.close();

      expect(closes()).toBe(1);
      expect(isAlive(pid)).toBe(false);
      await expect(transport.send(ping(5))).rejects.toThrow("Not connected");
    },
  );

  it("rejects start() and reports onerror when the command does not exist", async () => {
    const { closed, closes, errors, events, transport } = track(
      recorded({ command: "mcp-proxy-no-such-command", env: inheritedEnv }),
    );

    const error = await transport.start().catch((error: unknown) => error);

    expect(error).toMatchObject({ code: "ENOENT" });
    expect(errors).toEqual([error]);
    expect(events).toContainEqual({ error, type: "error" });
    await closed;
    expect(closes()).toBe(1);
  });

  it("rejects send() before start()", async () => {
    const transport = new StdioClientTransport(nodeScript(""));

    await expect(transport.send(ping(6))).rejects.toThrow("Not connected");
    expect(transport.pid).toBeNull();
  });

  it("throws when started twice", async () => {
    const { transport } = track(recorded(nodeScript(noisyEcho)));

    await transport.start();

    await expect(transport.start()).rejects.toThrow("already started");
  });

  it("uses env verbatim and honours cwd", async () => {
    const cwd = fileURLToPath(new URL("fixtures", import.meta.url));
    const { messages, transport } = track(
      recorded(
        nodeScript(
          `process.stdout.write(JSON.stringify({ jsonrpc: "2.0", method: "env",
            params: { cwd: process.cwd(), env: process.env } }) + "\\n")`,
          { cwd, env: { ONLY_THIS: "yes" } },
        ),
      ),
    );

    await transport.start();
    await eventually(() => expect(messages).toHaveLength(1));

    expect(messages[0]).toMatchObject({ params: { cwd } });
    // Node may add a few variables of its own, but nothing is inherited.
    expect(messages[0]).toMatchObject({
      params: { env: { ONLY_THIS: "yes" } },
    });
    expect(messages[0]).not.toHaveProperty("params.env.PATH");
  });

  it("runs the command through a shell when asked", async () => {
    const { messages, transport } = track(
      recorded({
        command: `echo '{"jsonrpc":"2.0","method":"from-shell"}'`,
        env: inheritedEnv,
        shell: true,
      }),
    );

    await transport.start();
    await eventually(() =>
      expect(messages).toEqual([{ jsonrpc: "2.0", method: "from-shell" }]),
    );
  });

  it('exposes stderr before start() when it is "pipe"', async () => {
    const { transport } = track(
      recorded(
        nodeScript(`process.stderr.write("early words")`, { stderr: "pipe" }),
      ),
    );
    const stderr = transport.stderr!;
    const chunks: Buffer[] = [];
    stderr.on("data", (chunk: Buffer) => chunks.push(chunk));

    await transport.start();
    await once(stderr, "end");

    expect(Buffer.concat(chunks).toString()).toBe("early words");
  });
});
