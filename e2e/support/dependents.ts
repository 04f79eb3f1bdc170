// Real dependents of mcp-proxy 5.x that publish their own tests on the npm
// registry, run CITGM-style: the package's tarball is unpacked into a
// project of its own, its dependencies installed with mcp-proxy set to one
// candidate (an upstream release, or the packed fork), and its own vitest
// suite run there. Each result is one test's full name and status.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { join, relative } from "node:path";

import { cleanEnvironment, run, startProcess } from "./processes.js";
import { cacheRoot, installProject } from "./projects.js";

export type Candidate = {
  /** What a report calls it: "upstream 5.12.5", "the fork". */
  label: string;
  /** The spec that mcp-proxy gets in the project's package.json. */
  mcpProxy: string;
  /** A short name for the cache directory. */
  slug: string;
};

export type Dependent = {
  /** Why this package is a fair judge of mcp-proxy. */
  about: string;
  /** The package on the registry. */
  name: string;
  /**
   * Dependencies set to a version other than the package's range, or added
   * where its tests import a package its package.json does not declare, with
   * the reason; the same for every candidate.
   */
  pins: Record<string, { reason: string; version: string }>;
  /** The package's own dependency on mcp-proxy, as published. */
  range: string;
  /** The mcp-proxy a fresh install of the package resolves today. */
  resolvedUpstream: string;
  /**
   * The devDependencies its test files import (and vitest, which runs
   * them), at the package's own ranges. The rest are release, lint and
   * inspector tooling that no test loads.
   */
  testDevDependencies: string[];
  /** Its own test files, as the package publishes them. */
  testFiles: string[];
  version: string;
};

export type SuiteResult = {
  /** Files vitest could not load or run at all, with the error. */
  fileErrors: string[];
  /** `<file> > <full test name>` → status. */
  tests: Map<string, TestStatus>;
};

export type TestStatus = "failed" | "passed" | "skipped";

type PackageJson = {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};

const unpacking = new Map<string, Promise<string>>();

/**
 * The package's published files, unpacked once into `.e2e/dependents/`
 * (written aside, then renamed, so a half-unpacked package never counts).
 */
export const unpackDependent = (dependent: Dependent) => {
  const id = `${dependent.name}-${dependent.version}`;
  let unpacked = unpacking.get(id);

  if (!unpacked) {
    unpacked = unpack(dependent, id);
    unpacking.set(id, unpacked);
  }

  return unpacked;
};

const unpack = async (dependent: Dependent, id: string) => {
  const directory = join(cacheRoot, "dependents", id);

  if (existsSync(join(directory, "package", "package.json"))) {
    return join(directory, "package");
  }

  const partial = `${directory}.partial-${process.pid}`;
  rmSync(partial, { force: true, recursive: true });
  mkdirSync(partial, { recursive: true });

  try {
    const output = await run(
      "npm",
      [
        "pack",
        `${dependent.name}@${dependent.version}`,
        "--json",
        "--pack-destination",
        partial,
      ],
      { cwd: partial, env: cleanEnvironment() },
    );
    const [packed] = JSON.parse(output.slice(output.indexOf("["))) as {
      filename: string;
    }[];
    await run("tar", ["xzf", packed.filename], {
      cwd: partial,
      env: cleanEnvironment(),
    });
    rmSync(directory, { force: true, recursive: true });
    renameSync(partial, directory);
  } finally {
    rmSync(partial, { force: true, recursive: true });
  }

  return join(directory, "package");
};

/** Every file under `directory`, by path relative to `root`. */
const filesUnder = (root: string, directory: string): string[] =>
  readdirSync(directory).flatMap((entry) => {
    const path = join(directory, entry);
    return statSync(path).isDirectory()
      ? filesUnder(root, path)
      : [relative(root, path)];
  });

/**
 * A project holding the package's sources, tests and test configuration,
 * with its dependencies installed and mcp-proxy set to the candidate.
 */
export const installDependent = async (
  dependent: Dependent,
  candidate: Candidate,
) => {
  const unpacked = await unpackDependent(dependent);
  const published = JSON.parse(
    readFileSync(join(unpacked, "package.json"), "utf8"),
  ) as PackageJson;

  const configFiles = [
    "tsconfig.json",
    "vitest.config.js",
    "vitest.config.ts",
  ].filter((name) => existsSync(join(unpacked, name)));
  const files = Object.fromEntries(
    [...filesUnder(unpacked, join(unpacked, "src")), ...configFiles].map(
      (path) => [path, readFileSync(join(unpacked, path), "utf8")],
    ),
  );

  const devDependencies = Object.fromEntries(
    dependent.testDevDependencies.map((name) => {
      const range = published.devDependencies?.[name];

      if (!range) {
        throw new Error(
          `${dependent.name}@${dependent.version} has no devDependency ${name}`,
        );
      }

      return [name, range];
    }),
  );

  const dependencies = {
    ...published.dependencies,
    ...Object.fromEntries(
      Object.entries(dependent.pins).map(([name, pin]) => [name, pin.version]),
    ),
    "mcp-proxy": candidate.mcpProxy,
  };

  return installProject({
    files,
    name: `dependent-${dependent.name}-${candidate.slug}`,
    packageJson: {
      dependencies,
      devDependencies,
      name: `e2e-dependent-${dependent.name}-${candidate.slug}`,
      private: true,
      type: "module",
      version: "1.0.0",
    },
  });
};

/** The environment of a child vitest: none of this run's own VITEST_* settings. */
const childEnvironment = () => {
  const environment = cleanEnvironment();

  for (const name of Object.keys(environment)) {
    if (/^(VITEST|TINYPOOL)/.test(name) || name === "NODE_ENV") {
      delete environment[name];
    }
  }

  return environment;
};

type VitestJson = {
  testResults: {
    assertionResults: { fullName: string; status: string }[];
    message?: string;
    name: string;
    status: string;
  }[];
};

/**
 * Runs the package's own test files with its own vitest, and reads vitest's
 * JSON report. A failing test is a result, not an error; a run that writes
 * no report (it crashed, or hung past `timeoutMs`) is an error.
 */
export const runDependentSuite = async (
  directory: string,
  dependent: Dependent,
  timeoutMs = 300_000,
): Promise<SuiteResult> => {
  const report = join(directory, ".e2e-vitest-report.json");
  const suite = startProcess({
    args: [
      join(directory, "node_modules", "vitest", "vitest.mjs"),
      "run",
      ...dependent.testFiles,
      "--reporter=json",
      `--outputFile=${report}`,
    ],
    command: process.execPath,
    cwd: directory,
    env: childEnvironment(),
    name: `${dependent.name}'s own tests in ${directory}`,
  });
  const timer = setTimeout(() => {
    void suite.stop();
  }, timeoutMs);
  const { code, signal } = await suite.exited;
  clearTimeout(timer);

  // vitest exits 1 when a test failed: only a missing report is an error.
  if (signal !== null || !existsSync(report) || (code !== 0 && code !== 1)) {
    throw new Error(
      `${suite.name} ended (${code ?? signal}) without a report:\n${suite.output()}`,
    );
  }

  const json = JSON.parse(readFileSync(report, "utf8")) as VitestJson;
  const tests = new Map<string, TestStatus>();
  const fileErrors: string[] = [];

  for (const file of json.testResults) {
    const name = relative(directory, file.name);

    if (file.assertionResults.length === 0 && file.status === "failed") {
      fileErrors.push(`${name}: ${file.message ?? "failed to run"}`);
    }

    for (const test of file.assertionResults) {
      tests.set(
        `${name} > ${test.fullName}`,
        test.status === "passed"
          ? "passed"
          : test.status === "failed"
            ? "failed"
            : "skipped",
      );
    }
  }

  return { fileErrors, tests };
};
