// npm run upstream-pr -- <version>
//
// Writes the pull request for punkpeye/mcp-proxy at <version>: fetches that
// release's published tarball, commits it as published, applies this fork's
// change as one commit per concern (each with its own tests, each checked on
// its own), runs upstream's whole test script, checks that the added tests
// fail on the unpatched release, and writes the series as patches plus the
// pull request's text to upstream-pr/<version>/.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { makeFixtureCertificates } from "./lib/certificates.js";
import { Change, Line, Tree } from "./lib/change.js";
import { writePullRequest } from "./lib/pullRequest.js";
import { run, say, seconds, setLogDirectory } from "./lib/run.js";
import { KitError } from "./lib/source.js";
import {
  describeCounts,
  namePattern,
  runVitest,
  TestCounts,
} from "./lib/vitest.js";
import { v5 } from "./lines/v5.js";
import { v6 } from "./lines/v6.js";

const kitDirectory = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(kitDirectory, "..");

/**
 * Steps of upstream's `test` script that need a service this machine cannot
 * reach. They are left out by name, and the kit says so.
 */
const UNREACHABLE_STEPS: { pattern: RegExp; reason: string }[] = [
  {
    pattern: /^jsr publish\b/,
    reason: "publishes to jsr.io (a dry run still talks to it)",
  },
];

/**
 * The text of a test file a commit adds: the line's own copy, or else the
 * copy both lines share, fitted to the line.
 */
const readAddedTest = ({ line, test }: { line: Line; test: string }) => {
  const own = path.join(kitDirectory, "files", line.name, test);

  if (fs.existsSync(own)) {
    return fs.readFileSync(own, "utf8");
  }

  const shared = fs.readFileSync(
    path.join(kitDirectory, "files", "shared", test),
    "utf8",
  );

  return line.adaptSharedTest ? line.adaptSharedTest(shared) : shared;
};

/** Upstream test files too slow to run at every commit; they run at the tip. */
const SLOW_TEST_FILES = ["src/startHTTPServer.test.ts"];

export interface CommitReport {
  checks: { ms: number; name: string; ok: boolean }[];
  files: string[];
  sha: string;
  subject: string;
  tests: TestCounts;
}

export interface Report {
  base: {
    failedOnBase: TestCounts;
    tscAsPublished: string[];
    tscErrorsOnBase: string[];
  };
  commits: CommitReport[];
  fullSuite: {
    ms: number;
    preexisting: { file: string; name: string }[];
    skippedSteps: string[];
    steps: { ms: number; ok: boolean; step: string }[];
    vitest?: TestCounts;
  };
  line: string;
  totalMs: number;
  version: string;
}

const lineFor = (version: string): Line => {
  const major = version.split(".")[0];
  const line = { "5": v5, "6": v6 }[major];

  if (!line) {
    throw new KitError(
      `no edits are written for mcp-proxy ${version}; the kit knows the 5.x and 6.x lines`,
    );
  }

  return line;
};

const git = (cwd: string, args: string[], label = `git ${args[0]}`) =>
  run(["git", ...args], { cwd, label }).output.trim();

const gitIdentity = (): { date: string; email: string; name: string } => {
  const read = (args: string[]) => {
    try {
      return execFileSync("git", args, {
        cwd: repoRoot,
        encoding: "utf8",
      }).trim();
    } catch {
      return "";
    }
  };
  const [envName, envEmail] = (process.env.UPSTREAM_PR_AUTHOR ?? "")
    .match(/^(.+?)\s*<(.+)>$/)
    ?.slice(1) ?? ["", ""];

  return {
    // The fork's own HEAD date: the same fork commit writes the same patches.
    date: read(["log", "-1", "--format=%cI"]) || new Date().toISOString(),
    // Whoever opens the pull request sets UPSTREAM_PR_AUTHOR="Name <email>";
    // `git am` keeps it as the author of every commit.
    email: envEmail || "upstream-pr-kit@users.noreply.github.com",
    name: envName || "mcp-proxy upstream-pr kit",
  };
};

const commitMessage = (change: Change): string =>
  `${change.subject}\n\n${change.body}\n${change.breaking ? `\nBREAKING CHANGE: ${change.breaking}\n` : ""}`;

/** `file: TSxxxx message` of each tsc error, without its position. */
const tscDiagnostics = (output: string): string[] =>
  output
    .split("\n")
    .map((line) => /^(\S+?)\(\d+,\d+\): error (TS\d+): (.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => `${match[1]}: ${match[2]} ${match[3]}`);

/** The diagnostics of `now` beyond those `base` already had. */
const newDiagnostics = (base: string[], now: string[]): string[] => {
  const left = new Map<string, number>();

  for (const diagnostic of base) {
    left.set(diagnostic, (left.get(diagnostic) ?? 0) + 1);
  }

  return now.filter((diagnostic) => {
    const count = left.get(diagnostic) ?? 0;
    left.set(diagnostic, count - 1);

    return count <= 0;
  });
};

const splitTestScript = (script: string) =>
  script
    .split("&&")
    .map((step) => step.trim())
    .filter(Boolean);

const main = async () => {
  const started = Date.now();
  const version = process.argv[2];

  if (!version || !/^\d+\.\d+\.\d+$/.test(version)) {
    throw new KitError("usage: npm run upstream-pr -- <version>, e.g. 6.7.19");
  }

  const line = lineFor(version);
  const workDirectory = path.join(repoRoot, ".upstream-pr", version);
  const repo = path.join(workDirectory, "repo");
  const baseCheckout = path.join(workDirectory, "base");
  const outDirectory = path.join(repoRoot, "upstream-pr", version);

  // UPSTREAM_PR_REUSE_INSTALL=1 keeps the last run's node_modules (npm
  // install still runs and settles it): for working on the kit, not for CI.
  const keptModules = path.join(
    repoRoot,
    ".upstream-pr",
    `${version}.node_modules`,
  );
  const reuse =
    process.env.UPSTREAM_PR_REUSE_INSTALL === "1" &&
    fs.existsSync(path.join(repo, "node_modules"));

  if (reuse) {
    fs.rmSync(keptModules, { force: true, recursive: true });
    fs.renameSync(path.join(repo, "node_modules"), keptModules);
  }

  fs.rmSync(workDirectory, { force: true, recursive: true });
  fs.rmSync(outDirectory, { force: true, recursive: true });
  fs.mkdirSync(workDirectory, { recursive: true });
  setLogDirectory(path.join(workDirectory, "logs"));
  say(
    `mcp-proxy ${version}, ${line.name} line; logs in ${path.relative(repoRoot, path.join(workDirectory, "logs"))}`,
  );

  // 1. The release as published.
  const packed = run(
    [
      "npm",
      "pack",
      `mcp-proxy@${version}`,
      "--pack-destination",
      workDirectory,
      "--silent",
    ],
    { cwd: workDirectory, label: "npm pack" },
  )
    .output.trim()
    .split("\n")
    .at(-1)!;
  run(["tar", "xzf", path.join(workDirectory, packed), "-C", workDirectory], {
    cwd: workDirectory,
    label: "unpack",
  });
  fs.renameSync(path.join(workDirectory, "package"), repo);
  // dist/ is build output: upstream's repository does not hold it, and
  // upstream's eslint would lint its .mjs files.
  fs.rmSync(path.join(repo, "dist"), { force: true, recursive: true });

  if (reuse) {
    fs.renameSync(keptModules, path.join(repo, "node_modules"));
  }

  const identity = gitIdentity();
  const env = {
    GIT_AUTHOR_DATE: identity.date,
    GIT_AUTHOR_EMAIL: identity.email,
    GIT_AUTHOR_NAME: identity.name,
    GIT_COMMITTER_DATE: identity.date,
    GIT_COMMITTER_EMAIL: identity.email,
    GIT_COMMITTER_NAME: identity.name,
  };
  git(repo, ["init", "-q", "-b", "main"]);
  // Vitest looks for its config upwards from here and would find this fork's
  // own; upstream has none, so an empty one keeps upstream's defaults. It and
  // the install's files stay out of the commits.
  fs.writeFileSync(
    path.join(repo, "vitest.config.mjs"),
    "export default {};\n",
  );
  fs.appendFileSync(
    path.join(repo, ".git", "info", "exclude"),
    "node_modules/\npackage-lock.json\n.vitest-report.json\nvitest.config.mjs\n",
  );
  git(repo, ["add", "-A"]);
  run(
    [
      "git",
      "commit",
      "-q",
      "--no-verify",
      "-m",
      `chore: mcp-proxy ${version} as published on npm`,
    ],
    {
      cwd: repo,
      env,
      label: "git commit base",
    },
  );
  const baseSha = git(repo, ["rev-parse", "HEAD"]);

  // 2. Upstream's dev dependencies, as its package.json lists them. The
  // tarball ships no lockfile, so its ranges resolve to what is newest today.
  say("installing upstream's dependencies (npm install)");
  const install = run(
    [
      "npm",
      "install",
      "--no-audit",
      "--no-fund",
      "--ignore-scripts",
      "--loglevel=error",
    ],
    { cwd: repo, label: "npm install" },
  );
  say(`  installed in ${seconds(install.ms)}`);

  // Test certificates upstream's repository holds and its tarball leaves
  // out; made here, and kept out of the commits.
  const certificates = makeFixtureCertificates(repo);

  if (certificates) {
    fs.appendFileSync(
      path.join(repo, ".git", "info", "exclude"),
      `${certificates}/\n`,
    );
    say(
      `made ${certificates}/ with openssl: the tarball leaves out the certificates upstream's SSL test reads`,
    );
  }

  const packageJson = JSON.parse(
    fs.readFileSync(path.join(repo, "package.json"), "utf8"),
  ) as {
    scripts?: Record<string, string>;
  };
  const testScript = packageJson.scripts?.test;

  if (!testScript) {
    throw new KitError(`mcp-proxy ${version} has no test script`);
  }

  const steps = splitTestScript(testScript);
  const vitestStep = steps.find((step) => /^vitest run\b/.test(step));
  const tscStep = steps.find((step) => /^tsc\b/.test(step));
  const eslintStep = steps.find((step) => /^eslint\b/.test(step));

  if (!vitestStep || !tscStep || !eslintStep) {
    throw new KitError(
      `upstream's test script changed shape: "${testScript}" (looked for vitest run, tsc and eslint)`,
    );
  }

  // tsc as published: with today's dependency versions an older release can
  // already fail to type-check (5.12.5 does with SDK 1.2x+). Commits may keep
  // those errors but add none.
  const tscBase = tscDiagnostics(
    run(tscStep, { allowFailure: true, cwd: repo, label: "tsc @ base" }).output,
  );

  if (tscBase.length > 0) {
    say(
      `  tsc reports ${tscBase.length} error(s) on unpatched ${version} with today's dependencies; the series must add none`,
    );
  }

  const checkTsc = (label: string): { ms: number; ok: boolean } => {
    const result = run(tscStep, { allowFailure: true, cwd: repo, label });
    const added = newDiagnostics(tscBase, tscDiagnostics(result.output));

    if (result.code !== 0 && (added.length > 0 || tscBase.length === 0)) {
      throw new KitError(
        `tsc fails at ${label}:\n${(added.length > 0 ? added : [result.output]).join("\n")}`,
      );
    }

    return { ms: result.ms, ok: true };
  };

  // 3. One commit per concern, each checked on its own.
  const report: Report = {
    base: {
      failedOnBase: undefined as unknown as TestCounts,
      tscAsPublished: tscBase,
      tscErrorsOnBase: [],
    },
    commits: [],
    fullSuite: { ms: 0, preexisting: [], skippedSteps: [], steps: [] },
    line: line.name,
    totalMs: 0,
    version,
  };
  const addedTests: string[] = [];

  for (const change of line.changes) {
    say(change.subject);
    const tree = new Tree(repo);
    change.apply(tree);
    const changed = tree.save();

    if (changed.length === 0) {
      throw new KitError(`"${change.subject}" changed nothing`);
    }

    for (const test of change.tests) {
      fs.writeFileSync(path.join(repo, test), readAddedTest({ line, test }));
      addedTests.push(test);
    }

    git(repo, ["add", "-A"]);
    run(["git", "commit", "-q", "--no-verify", "-F", "-"], {
      cwd: repo,
      env,
      input: commitMessage(change),
      label: `commit ${change.subject}`,
    });

    const checks: CommitReport["checks"] = [];
    const check = (name: string, command: string) => {
      const result = run(command, {
        allowFailure: true,
        cwd: repo,
        label: `${name} @ ${change.subject}`,
      });
      checks.push({ ms: result.ms, name, ok: result.code === 0 });

      if (result.code !== 0) {
        throw new KitError(
          `${name} fails at "${change.subject}":\n${result.output.split("\n").slice(-60).join("\n")}`,
        );
      }
    };
    checks.push({ name: "tsc", ...checkTsc(`tsc @ ${change.subject}`) });
    check("eslint", `eslint ${[...changed, ...change.tests].join(" ")}`);
    // The added tests so far, plus upstream's tests of each module this
    // commit touched; startHTTPServer.test.ts (over a minute) runs with the
    // whole suite at the tip instead.
    const touchedTests = changed
      .filter(
        (file) => /^src\/[^/]+\.ts$/.test(file) && !file.endsWith(".test.ts"),
      )
      .map((file) => file.replace(/\.ts$/, ".test.ts"))
      .filter(
        (file) =>
          !SLOW_TEST_FILES.includes(file) &&
          fs.existsSync(path.join(repo, file)),
      );
    const testFiles = [
      ...new Set([
        ...(change.upstreamTests ?? []),
        ...addedTests,
        ...changed.filter((file) => file.endsWith(".test.ts")),
        ...touchedTests,
      ]),
    ];
    const tests = runVitest({
      args: testFiles,
      command: vitestStep,
      cwd: repo,
      label: `tests @ ${change.subject}`,
    });
    checks.push({ ms: tests.ms, name: "added tests", ok: tests.failed === 0 });

    if (tests.failed > 0 || tests.total === 0) {
      throw new KitError(
        `the added tests fail at "${change.subject}":\n${tests.failures.map((f) => `  ${f.file}: ${f.name}`).join("\n")}`,
      );
    }

    const sha = git(repo, ["rev-parse", "--short", "HEAD"]);
    report.commits.push({
      checks,
      files: testFiles,
      sha,
      subject: change.subject,
      tests,
    });
    say(
      `  ${sha}: tsc ok, eslint ok; ${testFiles.join(", ")}: ${describeCounts(tests)}`,
    );
  }

  // 4. Upstream's whole test script at the tip.
  say(`upstream's test script: ${testScript}`);
  const fullStarted = Date.now();

  for (const step of steps) {
    const unreachable = UNREACHABLE_STEPS.find(({ pattern }) =>
      pattern.test(step),
    );

    if (unreachable) {
      say(
        `  left out: "${step}": ${unreachable.reason}, and this machine reaches only the npm registry`,
      );
      report.fullSuite.skippedSteps.push(step);
      continue;
    }

    if (step === vitestStep) {
      const counts = runVitest({
        command: step,
        cwd: repo,
        label: "full vitest @ tip",
      });
      report.fullSuite.vitest = counts;
      report.fullSuite.steps.push({
        ms: counts.ms,
        ok: counts.failed === 0,
        step,
      });
      say(`  ${step}: ${describeCounts(counts)} in ${seconds(counts.ms)}`);
      continue;
    }

    if (step === tscStep) {
      const result = checkTsc("tsc @ tip");
      report.fullSuite.steps.push({ ...result, step });
      say(
        `  ${step}: ok${tscBase.length > 0 ? ` (the same ${tscBase.length} errors as unpatched ${version}, none added)` : ""} in ${seconds(result.ms)}`,
      );
      continue;
    }

    const result = run(step, {
      allowFailure: true,
      cwd: repo,
      label: `${step} @ tip`,
    });
    report.fullSuite.steps.push({ ms: result.ms, ok: result.code === 0, step });
    say(
      `  ${step}: ${result.code === 0 ? "ok" : "FAILED"} in ${seconds(result.ms)}`,
    );

    if (result.code !== 0) {
      throw new KitError(
        `${step} fails at the tip:\n${result.output.split("\n").slice(-60).join("\n")}`,
      );
    }
  }

  report.fullSuite.ms = Date.now() - fullStarted;

  // 5. The unpatched release, in a checkout of the base commit that shares
  //    the installed node_modules.
  git(repo, ["worktree", "add", "-q", "--detach", baseCheckout, baseSha]);
  fs.symlinkSync(
    path.join(repo, "node_modules"),
    path.join(baseCheckout, "node_modules"),
    "dir",
  );
  fs.copyFileSync(
    path.join(repo, "vitest.config.mjs"),
    path.join(baseCheckout, "vitest.config.mjs"),
  );

  const tipFailures = report.fullSuite.vitest?.failures ?? [];

  if (tipFailures.length > 0) {
    // Only the failing tests, by name, so this costs seconds, not a second
    // full run.
    const files = [...new Set(tipFailures.map((failure) => failure.file))];
    const onBase = runVitest({
      args: [
        ...files,
        "-t",
        namePattern(tipFailures.map((failure) => failure.name)),
      ],
      command: vitestStep,
      cwd: baseCheckout,
      label: "tip failures @ base",
    });
    const baseNames = new Set(onBase.failures.map((failure) => failure.name));
    const regressions = tipFailures.filter(
      (failure) => !baseNames.has(failure.name),
    );

    if (regressions.length > 0) {
      throw new KitError(
        `these upstream tests pass on ${version} and fail with the patch:\n${regressions.map((f) => `  ${f.file}: ${f.name}`).join("\n")}`,
      );
    }

    report.fullSuite.preexisting = tipFailures;
    say(
      `  the ${tipFailures.length} failing upstream test(s) fail the same way on unpatched ${version}:`,
    );

    for (const failure of tipFailures) {
      say(`    ${failure.file}: ${failure.name}`);
    }
  }

  // 6. The added tests against the unpatched release: each file must fail.
  for (const test of addedTests) {
    fs.copyFileSync(path.join(repo, test), path.join(baseCheckout, test));
  }

  const onBase = runVitest({
    args: addedTests,
    command: vitestStep,
    cwd: baseCheckout,
    label: "added tests @ base",
  });
  const tscOnBase = run(tscStep, {
    allowFailure: true,
    cwd: baseCheckout,
    label: "tsc @ base with added tests",
  });
  report.base.failedOnBase = onBase;
  report.base.tscErrorsOnBase = [
    ...new Set(
      tscOnBase.output
        .split("\n")
        .map(
          (outputLine) =>
            /^(src\/[^(]+)\(\d+,\d+\): error/.exec(outputLine)?.[1],
        )
        .filter(
          (file): file is string =>
            file !== undefined && addedTests.includes(file),
        ),
    ),
  ];
  say(
    `added tests on unpatched ${version}: ${describeCounts(onBase)}; tsc errors in ${report.base.tscErrorsOnBase.join(", ") || "no file"}`,
  );

  for (const test of addedTests) {
    const failing = onBase.failures.filter(
      (failure) => failure.file === test,
    ).length;
    const tscFails = report.base.tscErrorsOnBase.includes(test);

    if (failing === 0 && !tscFails) {
      throw new KitError(
        `${test} passes on unpatched ${version}: it does not test the change`,
      );
    }

    say(
      `  ${test}: ${failing} failing${tscFails ? ", and tsc rejects it" : ""}`,
    );
  }

  git(repo, ["worktree", "remove", "--force", baseCheckout]);

  // 7. The series and the pull request's text.
  fs.mkdirSync(outDirectory, { recursive: true });
  git(repo, ["format-patch", "-q", "-o", outDirectory, `${baseSha}..HEAD`]);

  // The patches, applied with git am to the release as published, give
  // exactly the tree the checks ran on.
  const amCheckout = path.join(workDirectory, "am");
  git(repo, ["worktree", "add", "-q", "--detach", amCheckout, baseSha]);
  const patches = fs
    .readdirSync(outDirectory)
    .filter((name) => name.endsWith(".patch"))
    .sort()
    .map((name) => path.join(outDirectory, name));
  run(["git", "am", "-q", ...patches], {
    cwd: amCheckout,
    env,
    label: "git am",
  });

  if (
    git(amCheckout, ["rev-parse", "HEAD^{tree}"]) !==
    git(repo, ["rev-parse", "HEAD^{tree}"])
  ) {
    throw new KitError("git am of the patches does not reproduce the series");
  }

  git(repo, ["worktree", "remove", "--force", amCheckout]);
  say(
    `git am of the ${patches.length} patches on ${version} reproduces the checked tree`,
  );
  report.totalMs = Date.now() - started;
  fs.writeFileSync(
    path.join(outDirectory, "report.json"),
    `${JSON.stringify(report, null, 2)}\n`,
  );
  writePullRequest({ line, outDirectory, report });

  const relativeOut = path.relative(repoRoot, outDirectory);
  say(
    `wrote ${report.commits.length} patches, PULL_REQUEST.md and report.json to ${relativeOut}/ in ${seconds(report.totalMs)}`,
  );
  say(`apply them in a checkout of punkpeye/mcp-proxy at tag v${version}:`);
  say(`  git am ${path.join(relativeOut, "*.patch")}`);
};

main().catch((error: unknown) => {
  if (error instanceof KitError) {
    process.stderr.write(`[upstream-pr] stopped: ${error.message}\n`);
  } else {
    process.stderr.write(
      `[upstream-pr] crashed: ${String(error instanceof Error ? error.stack : error)}\n`,
    );
  }

  process.exit(1);
});
