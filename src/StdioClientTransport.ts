import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

import {
  ReadBuffer,
  serializeMessage,
} from "@modelcontextprotocol/sdk/shared/stdio.js";
import { type ChildProcess, type IOType, spawn } from "node:child_process";
import { once } from "node:events";
import { PassThrough, pipeline, type Stream } from "node:stream";

import { JSONFilterTransform } from "./JSONFilterTransform.js";

export type StdioServerParameters = {
  args?: string[];
  command: string;
  /** Defaults to the current working directory. */
  cwd?: string;
  /** The child's whole environment, used as given (nothing is merged in). */
  env: Record<string, string>;
  onEvent?: (event: StdioTransportEvent) => void;
  /** Run `command` through the user's shell. */
  shell?: boolean;
  /**
   * What to do with the child's stderr, as in `child_process.spawn`; defaults
   * to "inherit". With "pipe" or "overlapped", `stderr` is readable before
   * `start()`, so early output is not lost.
   */
  stderr?: IOType | number | Stream;
};

export type StdioTransportEvent =
  | { chunk: string; type: "data" }
  | { error: Error; type: "error" }
  | { message: JSONRPCMessage; type: "message" }
  | { type: "close" };

/** How long `close()` waits after SIGTERM before sending SIGKILL. */
const KILL_GRACE_MS = 2_000;

const toError = (error: unknown) =>
  error instanceof Error ? error : new Error(String(error));

/**
 * Client transport that spawns an MCP server and speaks newline-delimited
 * JSON-RPC over its stdin/stdout. Unlike the SDK's, it drops stdout lines that
 * are not JSON objects, takes `env` verbatim, can use a shell, and reports
 * what happens through `onEvent`.
 */
export class StdioClientTransport implements Transport {
  onclose?: Transport["onclose"];
  onerror?: Transport["onerror"];
  onmessage?: Transport["onmessage"];

  /** The child's pid while it runs, else null. */
  get pid(): null | number {
    return this.#process?.pid ?? null;
  }

  get stderr(): null | Stream {
    return this.#stderr ?? this.#process?.stderr ?? null;
  }

  /** Settles once the running child has exited and its output is read. */
  #closed: Promise<void> = Promise.resolve();
  readonly #params: StdioServerParameters;
  #process?: ChildProcess;
  readonly #stderr?: PassThrough;

  constructor(params: StdioServerParameters) {
    this.#params = params;

    if (params.stderr === "pipe" || params.stderr === "overlapped") {
      this.#stderr = new PassThrough();
    }
  }

  /** Stops the child (SIGTERM, then SIGKILL) and waits until it is gone. */
  async close(): Promise<void> {
    const child = this.#process;
    const closed = this.#closed;

    if (!child) {
      return closed;
    }

    this.#process = undefined;
    child.kill("SIGTERM");

    const escalate = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);

    try {
      await closed;
    } finally {
      clearTimeout(escalate);
    }
  }

  async send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.#process?.stdin;

    if (!stdin) {
      throw new Error("Not connected");
    }

    if (!stdin.write(serializeMessage(message))) {
      await once(stdin, "drain");
    }
  }

  async start(): Promise<void> {
    if (this.#process) {
      throw new Error(
        "StdioClientTransport already started! If using Client class, note that connect() calls start() automatically.",
      );
    }

    const {
      args = [],
      command,
      cwd,
      env,
      shell = false,
      stderr = "inherit",
    } = this.#params;
    const child = spawn(command, args, {
      cwd,
      env,
      shell,
      stdio: ["pipe", "pipe", stderr],
    });
    const readBuffer = new ReadBuffer();
    const output = new JSONFilterTransform();

    this.#process = child;

    // onclose waits for both the exit and the last stdout line, so a reply
    // written just before exiting still reaches onmessage. Each child closes
    // the transport once, however it ends (exit, close(), failed spawn).
    this.#closed = Promise.all([
      new Promise((resolve) => child.once("close", resolve)),
      new Promise((resolve) => output.once("close", resolve)),
    ]).then(() => {
      if (this.#process === child) {
        this.#process = undefined;
      }
      this.#emit({ type: "close" });
      this.onclose?.();
    });

    child.on("error", (error) => this.#fail(error));
    child.stdin?.on("error", (error) => this.#fail(error));
    // stdio[1] is "pipe", so stdout exists.
    pipeline(child.stdout!, output, (error) => {
      if (error) {
        this.#fail(error);
      }
    });
    output.on("data", (chunk: Buffer) => {
      this.#emit({ chunk: chunk.toString(), type: "data" });
      try {
        readBuffer.append(chunk);
      } catch (error) {
        // Newer SDKs cap the buffer; the oversized line is dropped.
        this.#fail(toError(error));
      }
      this.#readMessages(readBuffer);
    });

    if (this.#stderr) {
      child.stderr?.pipe(this.#stderr);
    }

    // Rejects if the spawn fails (e.g. ENOENT); onerror has been told too.
    await once(child, "spawn");
  }

  #emit(event: StdioTransportEvent) {
    this.#params.onEvent?.(event);
  }

  #fail(error: Error) {
    this.#emit({ error, type: "error" });
    this.onerror?.(error);
  }

  #readMessages(readBuffer: ReadBuffer) {
    for (;;) {
      try {
        const message = readBuffer.readMessage();

        if (message === null) {
          return;
        }

        this.#emit({ message, type: "message" });
        this.onmessage?.(message);
      } catch (error) {
        // A bad line is consumed before readMessage throws, so go on.
        this.#fail(toError(error));
      }
    }
  }
}
