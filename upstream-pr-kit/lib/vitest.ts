import fs from "node:fs";
import path from "node:path";

import { run } from "./run.js";

export interface TestCounts {
  failed: number;
  /** Full names of the failing tests, by file (relative to the repo). */
  failures: { file: string; name: string }[];
  files: number;
  ms: number;
  passed: number;
  skipped: number;
  total: number;
}

interface VitestJson {
  numFailedTests: number;
  numPassedTests: number;
  numPendingTests: number;
  numTodoTests?: number;
  numTotalTests: number;
  testResults: {
    assertionResults: { fullName: string; status: string }[];
    message?: string;
    name: string;
    status: string;
  }[];
}

/**
 * Runs `command` (upstream's `vitest run`, optionally with files or a name
 * filter appended) with the JSON reporter added, and counts what happened. A
 * file that failed to load counts as one failure named after the file.
 */
export const runVitest = ({
  args = [],
  command = "vitest run",
  cwd,
  label,
}: {
  args?: string[];
  command?: string;
  cwd: string;
  label: string;
}): TestCounts => {
  const report = path.join(cwd, ".vitest-report.json");
  fs.rmSync(report, { force: true });

  const quoted = args.map((arg) => `'${arg.replace(/'/g, "'\\''")}'`);
  const result = run(
    `${command} ${quoted.join(" ")} --reporter=dot --reporter=json --outputFile.json=.vitest-report.json`,
    { allowFailure: true, cwd, label },
  );

  if (!fs.existsSync(report)) {
    return {
      failed: 1,
      failures: [
        { file: "(vitest)", name: `vitest did not run: exit ${result.code}` },
      ],
      files: 0,
      ms: result.ms,
      passed: 0,
      skipped: 0,
      total: 0,
    };
  }

  const json = JSON.parse(fs.readFileSync(report, "utf8")) as VitestJson;
  fs.rmSync(report, { force: true });
  const failures: TestCounts["failures"] = [];

  for (const file of json.testResults) {
    const relative = path.relative(cwd, file.name);
    const failing = file.assertionResults.filter(
      (test) => test.status === "failed",
    );

    for (const test of failing) {
      failures.push({ file: relative, name: test.fullName });
    }

    if (file.status === "failed" && failing.length === 0) {
      failures.push({
        file: relative,
        name: `(file failed to run: ${(file.message ?? "").split("\n")[0]})`,
      });
    }
  }

  return {
    failed: failures.length,
    failures,
    files: json.testResults.length,
    ms: result.ms,
    passed: json.numPassedTests,
    skipped: json.numPendingTests + (json.numTodoTests ?? 0),
    total: json.numTotalTests,
  };
};

export const describeCounts = (counts: TestCounts): string =>
  `${counts.passed} passed, ${counts.failed} failed${counts.skipped ? `, ${counts.skipped} skipped` : ""} (${counts.total} tests in ${counts.files} files)`;

/** A `-t` pattern that matches exactly these full test names. */
export const namePattern = (names: string[]): string =>
  `^(${names.map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})$`;
