import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

import { KitError } from "./source.js";

export interface RunResult {
  code: number;
  ms: number;
  output: string;
}

let logDirectory = "";
let logCount = 0;

export const setLogDirectory = (directory: string): void => {
  logDirectory = directory;
  fs.mkdirSync(directory, { recursive: true });
};

export const say = (line: string): void => {
  process.stdout.write(`[upstream-pr] ${line}\n`);
};

/**
 * Runs a command, keeps its whole output in the log folder and returns it.
 * `command` goes through `sh -c` when given as a string (a step of upstream's
 * own `test` script), else is spawned directly.
 */
export const run = (
  command: string | string[],
  options: {
    allowFailure?: boolean;
    cwd: string;
    env?: Record<string, string>;
    input?: string;
    label: string;
    timeoutMs?: number;
  },
): RunResult => {
  const [file, ...args] =
    typeof command === "string" ? ["sh", "-c", command] : command;
  const started = Date.now();
  const result = spawnSync(file, args, {
    cwd: options.cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      CI: "true",
      FORCE_COLOR: "0",
      NO_COLOR: "1",
      PATH: `${path.join(options.cwd, "node_modules", ".bin")}${path.delimiter}${process.env.PATH ?? ""}`,
      ...options.env,
    },
    input: options.input,
    maxBuffer: 256 * 1024 * 1024,
    timeout: options.timeoutMs ?? 15 * 60_000,
  });
  const ms = Date.now() - started;
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
  const code = result.status ?? 1;

  logCount += 1;
  const log = path.join(
    logDirectory,
    `${String(logCount).padStart(2, "0")}-${options.label.replace(/[^\w.-]+/g, "_")}.log`,
  );
  fs.writeFileSync(
    log,
    `$ ${typeof command === "string" ? command : command.join(" ")}\n# cwd ${options.cwd}, exit ${code}, ${ms} ms${result.error ? `, ${result.error.message}` : ""}\n${output}`,
  );

  if (code !== 0 && !options.allowFailure) {
    throw new KitError(
      `${options.label} failed (exit ${code}); see ${path.relative(process.cwd(), log)}\n${output.split("\n").slice(-40).join("\n")}`,
    );
  }

  return { code, ms, output };
};

export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
