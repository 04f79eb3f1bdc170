// `npm run test:upstream`: mcp-proxy 5.10.0's own tests, run against this
// repository's src/, as a gate.
//
// 1. `npm pack mcp-proxy@5.10.0` fetches the published tarball into
//    `.upstream-tests/` (gitignored), which ships 5.10.0's `src/*.test.ts`
//    and `src/fixtures/`.
// 2. `.upstream-tests/project/` gets the packages in `harness/` (the MCP SDK
//    held at 1.21.x, and vitest, tsx, eventsource and get-port-please, which
//    5.10.0's tests use), installed with `npm ci` from `harness/`'s lockfile
//    and reused while that lockfile is unchanged, and a `src/` made of a copy
//    of this repository's `src/` with 5.10.0's tests and fixtures beside it,
//    so that their `import … from "./startHTTPServer.js"` loads ours.
// 3. vitest runs them there and writes its JSON report; each failing test
//    must be listed in `expected-failures.json`: `{ file, name, reason }`,
//    the test's file and full name as the report gives them, and why the
//    fork means to differ. An entry may add `failure`, a text the failure
//    message must contain (vitest's assertion message, values quoted whole):
//    the entry then excuses only that difference, and the test failing
//    another way (an earlier assertion, another value) still fails the gate.
//
// Exits non-zero when a test fails that the list does not excuse, when a
// listed test passes or did not run (the list is stale), or when no test
// ran.
//
// `npm run test:upstream -- --baseline` runs the same tests against 5.10.0's
// own src/ instead, without the list: a check of the harness. Everything
// passes there but, now and then, "stores events and replays them after a
// specific event ID", which 5.10.0's event ids make flaky (events stored in
// the same millisecond replay out of order).
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const UPSTREAM_SPEC = "mcp-proxy@5.10.0";

/** The whole vitest run, tests and teardown, must end within this. */
const RUN_TIMEOUT_MS = 10 * 60_000;

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const harnessDirectory = fileURLToPath(new URL("harness/", import.meta.url));
const expectedFailuresPath = fileURLToPath(
  new URL("expected-failures.json", import.meta.url),
);
const workDirectory = join(repoRoot, ".upstream-tests");
const projectDirectory = join(workDirectory, "project");
const reportPath = join(workDirectory, "report.json");
const unhandledErrorsPath = join(workDirectory, "unhandled-errors.json");

const baseline = process.argv.includes("--baseline");

type AssertionResult = {
  ancestorTitles: string[];
  failureMessages: null | string[];
  fullName: string;
  status: "disabled" | "failed" | "passed" | "pending" | "skipped" | "todo";
  title: string;
};

type ExpectedFailure = {
  failure?: string;
  file: string;
  name: string;
  reason: string;
};

/** The parts of vitest's JSON report this gate reads. */
type Report = {
  testResults: {
    assertionResults: AssertionResult[];
    message?: string;
    name: string;
    status: string;
  }[];
};

type TestOutcome = {
  file: string;
  message: string;
  name: string;
  status: AssertionResult["status"];
};

type UnhandledError = { message?: string; name?: string; stack?: string };

const log = (message: string) => console.log(`[test:upstream] ${message}`);

const fail = (message: string): never => {
  console.error(`[test:upstream] ${message}`);
  process.exit(1);
};

/** Runs a command to its end; its output is shown only when it fails. */
const run = (command: string, args: string[], cwd: string) => {
  const result = spawnSync(command, args, { cwd, encoding: "utf8" });

  if (result.error || result.status !== 0) {
    console.error(result.stdout, result.stderr);
    fail(
      `\`${command} ${args.join(" ")}\` failed in ${cwd}: ${result.error?.message ?? `exit ${result.status}`}`,
    );
  }

  return result.stdout;
};

const seconds = (since: number) =>
  `${((Date.now() - since) / 1000).toFixed(1)} s`;

const sha256 = (data: Buffer | string) =>
  createHash("sha256").update(data).digest("hex");

/** Fetches and unpacks the published tarball; returns its `package/`. */
const fetchUpstream = () => {
  const packDirectory = join(workDirectory, "pack");
  rmSync(packDirectory, { force: true, recursive: true });
  mkdirSync(packDirectory, { recursive: true });

  const output = run(
    "npm",
    ["pack", UPSTREAM_SPEC, "--json", "--pack-destination", packDirectory],
    workDirectory,
  );
  const [packed] = JSON.parse(output.slice(output.indexOf("["))) as {
    filename: string;
    integrity: string;
  }[];
  run("tar", ["-xzf", packed.filename], packDirectory);

  const upstream = join(packDirectory, "package");
  const { name, version } = JSON.parse(
    readFileSync(join(upstream, "package.json"), "utf8"),
  ) as { name: string; version: string };

  if (`${name}@${version}` !== UPSTREAM_SPEC) {
    fail(`npm pack gave ${name}@${version}, not ${UPSTREAM_SPEC}`);
  }

  log(`fetched ${UPSTREAM_SPEC} (${packed.integrity})`);

  return upstream;
};

/** Installs harness/'s packages, unless its lockfile is already installed. */
const installHarness = () => {
  const lockfile = readFileSync(join(harnessDirectory, "package-lock.json"));
  const stamp = join(projectDirectory, "node_modules", ".harness-lock-sha256");

  for (const file of [
    "package.json",
    "package-lock.json",
    "unhandled-errors-reporter.ts",
    "vitest.config.ts",
  ]) {
    cpSync(join(harnessDirectory, file), join(projectDirectory, file));
  }

  if (existsSync(stamp) && readFileSync(stamp, "utf8") === sha256(lockfile)) {
    log("harness packages already installed");
    return;
  }

  const started = Date.now();
  // No install scripts: esbuild, the only package with one, finds its binary
  // without it.
  run(
    "npm",
    ["ci", "--ignore-scripts", "--no-audit", "--no-fund"],
    projectDirectory,
  );
  writeFileSync(stamp, sha256(lockfile));
  log(`installed harness packages in ${seconds(started)}`);
};

/** Lays out project/src: the code under test, then 5.10.0's tests. */
const assembleSources = (upstream: string) => {
  const sources = join(projectDirectory, "src");
  const upstreamSources = join(upstream, "src");
  rmSync(sources, { force: true, recursive: true });

  if (baseline) {
    cpSync(upstreamSources, sources, { recursive: true });
  } else {
    cpSync(join(repoRoot, "src"), sources, { recursive: true });
    cpSync(join(upstreamSources, "fixtures"), join(sources, "fixtures"), {
      recursive: true,
    });

    for (const file of readdirSync(upstreamSources)) {
      if (file.endsWith(".test.ts")) {
        cpSync(join(upstreamSources, file), join(sources, file));
      }
    }
  }

  const testFiles = readdirSync(sources).filter((file) =>
    file.endsWith(".test.ts"),
  );

  if (testFiles.length === 0) {
    fail(`${UPSTREAM_SPEC} ships no src/*.test.ts`);
  }

  log(
    `running ${testFiles.length} test files of ${UPSTREAM_SPEC} against ${baseline ? "its own src/ (--baseline)" : "this repository's src/"}`,
  );
};

/**
 * Runs vitest in project/; resolves with its JSON report and the errors it
 * reported outside any test.
 */
const runVitest = async (): Promise<{
  report: Report;
  unhandledErrors: UnhandledError[];
}> => {
  rmSync(reportPath, { force: true });
  rmSync(unhandledErrorsPath, { force: true });

  const child = spawn(
    process.execPath,
    [
      join(projectDirectory, "node_modules", "vitest", "vitest.mjs"),
      "run",
      "--reporter=default",
      "--reporter=json",
      `--outputFile.json=${reportPath}`,
      "--reporter=./unhandled-errors-reporter.ts",
    ],
    {
      cwd: projectDirectory,
      env: {
        ...process.env,
        // 5.10.0's tests start their stdio servers with the command `tsx`.
        PATH: `${join(projectDirectory, "node_modules", ".bin")}:${process.env.PATH ?? ""}`,
        UPSTREAM_TESTS_ERRORS_FILE: unhandledErrorsPath,
      },
      stdio: "inherit",
    },
  );

  const timer = setTimeout(() => {
    console.error(
      `[test:upstream] vitest still running after ${RUN_TIMEOUT_MS / 1000} s: killing it`,
    );
    child.kill("SIGKILL");
  }, RUN_TIMEOUT_MS);

  await new Promise<void>((resolve) => child.once("exit", () => resolve()));
  clearTimeout(timer);

  for (const path of [reportPath, unhandledErrorsPath]) {
    if (!existsSync(path)) {
      fail(`vitest wrote no ${relative(repoRoot, path)}`);
    }
  }

  return {
    report: JSON.parse(readFileSync(reportPath, "utf8")) as Report,
    unhandledErrors: JSON.parse(
      readFileSync(unhandledErrorsPath, "utf8"),
    ) as UnhandledError[],
  };
};

// eslint-disable-next-line no-control-regex
const stripAnsi = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "");

/** One outcome per test, and one per test file that failed to load. */
const outcomesOf = (report: Report): TestOutcome[] =>
  report.testResults.flatMap((fileResult) => {
    const file = relative(projectDirectory, fileResult.name);

    if (fileResult.assertionResults.length === 0) {
      return fileResult.status === "failed"
        ? [
            {
              file,
              message: stripAnsi(fileResult.message ?? ""),
              name: "(the file failed to load)",
              status: "failed" as const,
            },
          ]
        : [];
    }

    return fileResult.assertionResults.map((assertion) => ({
      file,
      message: stripAnsi((assertion.failureMessages ?? []).join("\n")),
      name: assertion.fullName,
      status: assertion.status,
    }));
  });

const keyOf = ({ file, name }: { file: string; name: string }) =>
  `${file} > ${name}`;

const readExpectedFailures = (): ExpectedFailure[] => {
  const listName = relative(repoRoot, expectedFailuresPath);
  const entries = JSON.parse(
    readFileSync(expectedFailuresPath, "utf8"),
  ) as unknown;
  const isText = (value: unknown) =>
    typeof value === "string" && value.trim() !== "";
  const valid =
    Array.isArray(entries) &&
    entries.every(
      (entry: Partial<Record<keyof ExpectedFailure, unknown>>) =>
        typeof entry === "object" &&
        entry !== null &&
        isText(entry.file) &&
        isText(entry.name) &&
        isText(entry.reason) &&
        (entry.failure === undefined || isText(entry.failure)),
    );

  if (!valid) {
    fail(
      `${listName} must be an array of { file, name, reason, failure? }, each a non-empty string`,
    );
  }

  const list = entries as ExpectedFailure[];
  const keys = list.map(keyOf);
  const repeated = keys.find((key, index) => keys.indexOf(key) !== index);

  if (repeated) {
    fail(`${listName} names ${repeated} twice`);
  }

  return list;
};

/**
 * The start of a failure message, the assertion and its values, and the
 * line of the test that failed.
 */
const summarize = (message: string) => {
  const lines = message.split("\n").filter((line) => line.trim() !== "");
  const firstFrame = lines.findIndex((line) => /^\s+at /.test(line));
  const head = lines.slice(
    0,
    firstFrame === -1 ? 12 : Math.min(firstFrame, 12),
  );
  const testFrame = lines.find((line) =>
    /^\s+at .*[/\\]project[/\\]src[/\\]/.test(line),
  );

  return [...head, ...(testFrame ? [testFrame.trim()] : [])]
    .map((line) => `      ${line}`)
    .join("\n");
};

const main = async () => {
  const started = Date.now();
  mkdirSync(projectDirectory, { recursive: true });

  const upstream = fetchUpstream();
  installHarness();
  assembleSources(upstream);

  const { report, unhandledErrors } = await runVitest();
  const outcomes = outcomesOf(report);
  const expected = baseline ? [] : readExpectedFailures();
  const listName = relative(repoRoot, expectedFailuresPath);
  const expectedByKey = new Map(expected.map((entry) => [keyOf(entry), entry]));
  const isExcused = (outcome: TestOutcome) => {
    const entry = expectedByKey.get(keyOf(outcome));

    return (
      entry !== undefined &&
      (entry.failure === undefined || outcome.message.includes(entry.failure))
    );
  };

  const passed = outcomes.filter(({ status }) => status === "passed");
  const failed = outcomes.filter(({ status }) => status === "failed");
  const skipped = outcomes.length - passed.length - failed.length;
  const excused = failed.filter(isExcused);
  const unexpected = failed.filter((outcome) => !isExcused(outcome));
  const failedKeys = new Set(failed.map(keyOf));
  const ranKeys = new Set(outcomes.map(keyOf));
  const stale = expected.filter((entry) => !failedKeys.has(keyOf(entry)));
  const problems: string[] = [];

  console.log("");

  if (excused.length > 0) {
    console.log(
      `Expected failures, listed in ${listName} (${excused.length}):`,
    );

    for (const outcome of excused) {
      console.log(
        `  ~ ${keyOf(outcome)}\n      reason: ${expectedByKey.get(keyOf(outcome))?.reason}`,
      );
    }
  }

  if (unexpected.length > 0) {
    problems.push(
      `${unexpected.length} failing test(s) that ${listName} does not excuse`,
    );
    console.log(`Unexpected failures (${unexpected.length}):`);

    for (const outcome of unexpected) {
      const entry = expectedByKey.get(keyOf(outcome));
      const note = entry
        ? `\n      listed, but expected to fail with: ${entry.failure}`
        : "";

      console.log(
        `  ✗ ${keyOf(outcome)}${note}\n${summarize(outcome.message)}`,
      );
    }
  }

  if (stale.length > 0) {
    problems.push(
      `${stale.length} entry(ies) of ${listName} no longer fail: remove them`,
    );
    console.log(`Stale entries in ${listName} (${stale.length}):`);

    for (const entry of stale) {
      console.log(
        `  ! ${keyOf(entry)}: ${ranKeys.has(keyOf(entry)) ? "now passes" : "did not run (renamed, skipped or gone?)"}`,
      );
    }
  }

  if (unhandledErrors.length > 0) {
    problems.push(
      `${unhandledErrors.length} error(s) thrown outside any test while the tests ran`,
    );
    console.log(`Errors outside any test (${unhandledErrors.length}):`);

    for (const error of unhandledErrors) {
      console.log(
        `  ✗ ${error.name ?? "Error"}\n${summarize(stripAnsi(error.stack ?? error.message ?? ""))}`,
      );
    }
  }

  if (passed.length + failed.length === 0) {
    problems.push("no test ran");
  }

  console.log(
    `\n[test:upstream] ${passed.length} passed, ${failed.length} failed (${excused.length} expected)${skipped > 0 ? `, ${skipped} skipped` : ""} in ${seconds(started)}`,
  );

  if (problems.length > 0) {
    fail(`FAILED: ${problems.join("; ")}`);
  }

  log("OK");
};

await main();
