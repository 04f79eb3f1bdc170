import fs from "node:fs";
import path from "node:path";

import type { Report } from "../main.js";

import { Line } from "./change.js";
import { seconds } from "./run.js";
import { describeCounts } from "./vitest.js";

/** PULL_REQUEST.md: the line's own text plus what this run measured. */
export const writePullRequest = ({
  line,
  outDirectory,
  report,
}: {
  line: Line;
  outDirectory: string;
  report: Report;
}): void => {
  const tscAtCommit =
    report.base.tscAsPublished.length > 0 ? "tsc adds no error" : "tsc clean";
  const commits = line.changes
    .map((change, index) => {
      const measured = report.commits[index];
      const added = change.tests.length
        ? `adds ${change.tests.map((test) => `\`${test}\``).join(", ")}; `
        : "";

      return `${index + 1}. \`${change.subject}\`${change.breaking ? " (breaking)" : ""}: ${added}${measured.tests.passed} tests pass in ${measured.files.map((file) => `\`${file}\``).join(", ")}, ${tscAtCommit}, eslint clean`;
    })
    .join("\n");
  const breaking = line.changes
    .filter((change) => change.breaking)
    .map(
      (change) =>
        `- \`${change.subject}\`: ${change.breaking!.replace(/\n/g, " ")}`,
    )
    .join("\n");
  const vitest = report.fullSuite.vitest;
  const preexisting = report.fullSuite.preexisting
    .map((failure) => `- \`${failure.file}\`: ${failure.name}`)
    .join("\n");
  const perFile = line.changes
    .flatMap((change) => change.tests)
    .map((test) => {
      const failing = report.base.failedOnBase.failures.filter(
        (f) => f.file === test,
      ).length;
      const tsc = report.base.tscErrorsOnBase.includes(test)
        ? "; tsc rejects it"
        : "";

      return `| \`${test}\` | ${failing} fail${tsc} |`;
    })
    .join("\n");

  const published = report.base.tscAsPublished.length;
  const tscNote =
    published > 0
      ? `with the same ${published} errors the unpatched ${report.version} has with today's dependencies (none added)`
      : "clean";
  const text = `${line.intro.trim()}

## Commits

Each commit carries its own tests and passes on its own.

${commits}

## Before and after

${line.paths.trim()}

## Breaking changes

${breaking || "None."}

## Tests

Upstream's own \`npm test\` at the last commit: ${vitest ? describeCounts(vitest) : "not run"}, then \`tsc\` ${tscNote} and \`eslint .\` clean${report.fullSuite.skippedSteps.length ? `; left out: ${report.fullSuite.skippedSteps.map((step) => `\`${step}\``).join(", ")} (needs jsr.io)` : ""}.
${preexisting ? `\nThese fail the same way on the unpatched ${report.version}, so they are not caused by this change:\n\n${preexisting}\n` : ""}
The added tests on the unpatched ${report.version} (${describeCounts(report.base.failedOnBase)}):

| file | on ${report.version} |
| --- | --- |
${perFile}

Measured by this fork's \`npm run upstream-pr -- ${report.version}\` in ${seconds(report.totalMs)}.
`;

  fs.writeFileSync(path.join(outDirectory, "PULL_REQUEST.md"), text);
};
