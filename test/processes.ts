// Child processes for the tests: spawned with their output collected, so a
// test can wait for a line, and stopped for sure (SIGTERM, then SIGKILL).
import { type ChildProcess, spawn } from "node:child_process";

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
