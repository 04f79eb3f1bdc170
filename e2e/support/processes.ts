// Child processes and ports for the end-to-end tests: everything runs on
// loopback, and every process a test starts is stopped by the test.
import { type ChildProcess, spawn } from "node:child_process";
import { connect } from "node:net";
import { setTimeout as delay } from "node:timers/promises";

export { getFreePort } from "../../test/helpers.js";

export type Exit = { code: null | number; signal: NodeJS.Signals | null };

export type RunningProcess = {
  child: ChildProcess;
  exited: Promise<Exit>;
  name: string;
  output: () => string;
  stop: () => Promise<Exit>;
  waitFor: (pattern: RegExp | string, timeoutMs?: number) => Promise<string>;
};

/** The environment of this process, without variables that change npm. */
export const cleanEnvironment = (
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv => {
  const environment: NodeJS.ProcessEnv = {};

  for (const [name, value] of Object.entries(process.env)) {
    // `npm run test:e2e` sets npm_config_* for its own project; a child npm
    // in another directory must not inherit them.
    if (!/^npm_/i.test(name) && !name.startsWith("MCP_PROXY_")) {
      environment[name] = value;
    }
  }

  return { ...environment, ...extra };
};

/**
 * Spawns a long-running process and collects its output. `stop()` sends
 * SIGTERM, then SIGKILL after five seconds, and resolves once it is gone.
 */
export const startProcess = ({
  args,
  command,
  cwd,
  env,
  name,
}: {
  args: string[];
  command: string;
  cwd: string;
  env?: NodeJS.ProcessEnv;
  name: string;
}): RunningProcess => {
  const child = spawn(command, args, {
    cwd,
    env: env ?? cleanEnvironment(),
    stdio: ["ignore", "pipe", "pipe"],
  });

  let output = "";
  const watchers = new Set<() => void>();

  const collect = (chunk: Buffer) => {
    output += chunk.toString();

    for (const watcher of watchers) {
      watcher();
    }
  };

  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);

  // "close" rather than "exit": by then every byte of output has arrived.
  const exited = new Promise<Exit>((resolve) => {
    child.once("close", (code, signal) => resolve({ code, signal }));
    child.once("error", (error) => {
      output += `\n[spawn error] ${error.message}`;
      resolve({ code: null, signal: null });
    });
  });

  const waitFor = (pattern: RegExp | string, timeoutMs = 60_000) =>
    new Promise<string>((resolve, reject) => {
      const finish = (error?: Error, match?: string) => {
        watchers.delete(check);
        clearTimeout(timer);

        if (error) {
          reject(error);
        } else {
          resolve(match ?? "");
        }
      };

      const check = () => {
        const match =
          typeof pattern === "string"
            ? output.includes(pattern)
              ? pattern
              : undefined
            : pattern.exec(output)?.[0];

        if (match !== undefined) {
          finish(undefined, match);
        }
      };

      const timer = setTimeout(() => {
        finish(
          new Error(
            `${name} did not print ${String(pattern)} within ${timeoutMs} ms:\n${output}`,
          ),
        );
      }, timeoutMs);

      watchers.add(check);
      check();

      void exited.then(({ code, signal }) => {
        if (watchers.has(check)) {
          finish(
            new Error(
              `${name} exited (${code ?? signal}) before printing ${String(pattern)}:\n${output}`,
            ),
          );
        }
      });
    });

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");

      const killer = setTimeout(() => {
        child.kill("SIGKILL");
      }, 5_000);

      const exit = await exited;
      clearTimeout(killer);
      return exit;
    }

    return exited;
  };

  return { child, exited, name, output: () => output, stop, waitFor };
};

/**
 * Runs a command to completion; rejects with its output when it fails or
 * runs longer than `timeoutMs`.
 */
export const run = async (
  command: string,
  args: string[],
  {
    cwd,
    env,
    timeoutMs = 600_000,
  }: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<string> => {
  const started = startProcess({
    args,
    command,
    cwd,
    env,
    name: [command, ...args].join(" "),
  });

  const timer = setTimeout(() => {
    void started.stop();
  }, timeoutMs);

  const { code, signal } = await started.exited;
  clearTimeout(timer);

  if (code !== 0) {
    throw new Error(
      `\`${started.name}\` in ${cwd} failed (${code ?? signal}):\n${started.output()}`,
    );
  }

  return started.output();
};

/** Whether something accepts TCP connections on host:port. */
export const isPortOpen = (port: number, host = "127.0.0.1") =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host, port });

    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => {
      socket.destroy();
      resolve(false);
    });
  });

/** Waits until nothing listens on host:port any more (at most `timeoutMs`). */
export const waitForPortClosed = async (
  port: number,
  host = "127.0.0.1",
  timeoutMs = 10_000,
) => {
  const deadline = Date.now() + timeoutMs;

  while (await isPortOpen(port, host)) {
    if (Date.now() > deadline) {
      return false;
    }

    await delay(100);
  }

  return true;
};

/** Waits until host:port accepts connections (at most `timeoutMs`). */
export const waitForPortOpen = async (
  port: number,
  host = "127.0.0.1",
  timeoutMs = 60_000,
) => {
  const deadline = Date.now() + timeoutMs;

  while (!(await isPortOpen(port, host))) {
    if (Date.now() > deadline) {
      throw new Error(
        `nothing listens on ${host}:${port} after ${timeoutMs} ms`,
      );
    }

    await delay(100);
  }
};
