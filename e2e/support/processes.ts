// Child processes and ports for the end-to-end tests: everything runs on
// loopback, and every process a test starts is stopped by the test.
import { connect } from "node:net";
import { setTimeout as delay } from "node:timers/promises";

import { startProcess } from "../../test/processes.js";

export { getFreePort } from "../../test/helpers.js";
export {
  cleanEnvironment,
  type Exit,
  type RunningProcess,
  startProcess,
} from "../../test/processes.js";

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
