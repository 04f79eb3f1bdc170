// What the end-to-end tests install: the packed fork, consumer projects made
// with `npm install` in their own directories, and Debian's Chromium.
//
// Installs are cached under `.e2e/` (gitignored) in directories named by a
// hash of everything that goes into them, so a rerun with the same fork and
// the same package.json reuses them, and a fresh clone builds them from
// nothing. `E2E_FRESH=1` ignores the cache.
import { createHash, randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import buildDistribution from "../../test/globalSetup.js";
import { cleanEnvironment, run } from "./processes.js";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

export const cacheRoot = process.env.E2E_CACHE_DIR ?? join(repoRoot, ".e2e");

export const fixturesDirectory = join(repoRoot, "e2e", "fixtures");

export const CHROMIUM = "/usr/bin/chromium";

/** The versions a FastMCP 3.22.0 app holds: its lockfile's SDK line, before 1.22. */
export const FASTMCP_VERSION = "3.22.0";
export const SDK_VERSION = "1.21.2";
export const ZOD_VERSION = "3.25.76";
export const UPSTREAM_VERSION = "5.10.0";

/**
 * The newest FastMCP 3.x on the registry, and the newest SDK 1.x and zod 4
 * that its ranges (`^1.24.3`, `^4.1.13`) take. It asks for mcp-proxy
 * `^6.4.0`, which no 5.x satisfies: the fork goes in through `overrides`.
 */
export const FASTMCP_NEWEST_VERSION = "3.35.0";
export const NEWEST_SDK_VERSION = "1.32.2";
export const NEWEST_ZOD_VERSION = "4.6.7";
export const VERDACCIO_VERSION = "6.1.6";

const fresh = process.env.E2E_FRESH === "1";

const sha256 = (data: Buffer | string) =>
  createHash("sha256").update(data).digest("hex");

/** A unique name for a directory being written before it is renamed. */
const partialName = (path: string) =>
  `${path}.partial-${process.pid}-${randomBytes(4).toString("hex")}`;

export type PackedFork = {
  name: string;
  path: string;
  sha256: string;
  version: string;
};

/**
 * Builds dist/ when it is stale and packs the repository with `npm pack`,
 * into `.e2e/pack/` under a name that carries the tarball's hash.
 */
export const packFork = async (): Promise<PackedFork> => {
  buildDistribution();

  const packDirectory = join(cacheRoot, "pack");
  const staging = partialName(join(packDirectory, "staging"));
  mkdirSync(staging, { recursive: true });

  try {
    // dist/ is fresh: the prepare script need not build it again.
    const output = await run(
      "npm",
      ["pack", "--ignore-scripts", "--json", "--pack-destination", staging],
      { cwd: repoRoot, env: cleanEnvironment() },
    );
    const [packed] = JSON.parse(output.slice(output.indexOf("["))) as {
      filename: string;
      name: string;
      version: string;
    }[];
    const staged = join(staging, packed.filename);
    const hash = sha256(readFileSync(staged));
    const path = join(
      packDirectory,
      `${packed.name}-${packed.version}-${hash.slice(0, 16)}.tgz`,
    );

    if (!existsSync(path)) {
      renameSync(staged, path);
    }

    pruneEntries(packDirectory, `${packed.name}-`, 5);

    return { name: packed.name, path, sha256: hash, version: packed.version };
  } finally {
    rmSync(staging, { force: true, recursive: true });
  }
};

export type ProjectSpec = {
  /** Files to write into the project before `npm install`, by relative path. */
  files?: Record<string, string>;
  /** Short name for the cache directory and the logs. */
  name: string;
  /** Contents of the project's .npmrc. */
  npmrc?: string;
  packageJson: Record<string, unknown>;
};

/** Removes all but the newest `keep` entries of a cache directory. */
const pruneEntries = (directory: string, prefix: string, keep: number) => {
  const entries = readdirSync(directory)
    .filter((entry) => entry.startsWith(prefix) && !entry.includes(".partial-"))
    .map((entry) => join(directory, entry))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);

  for (const stale of entries.slice(keep)) {
    rmSync(stale, { force: true, recursive: true });
  }
};

/**
 * A project directory with `npm install` done, from the cache when an
 * identical one was installed before.
 */
export const installProject = async (
  spec: ProjectSpec,
): Promise<{ cached: boolean; directory: string; seconds: number }> => {
  const started = Date.now();
  const projectsDirectory = join(cacheRoot, "projects");
  mkdirSync(projectsDirectory, { recursive: true });

  const key = sha256(
    JSON.stringify({
      files: spec.files ?? {},
      node: process.versions.node,
      npmrc: spec.npmrc ?? "",
      packageJson: spec.packageJson,
    }),
  ).slice(0, 16);
  const directory = join(projectsDirectory, `${spec.name}-${key}`);
  const marker = join(directory, ".e2e-installed");

  if (!fresh && existsSync(marker)) {
    return { cached: true, directory, seconds: 0 };
  }

  const partial = partialName(directory);
  mkdirSync(partial, { recursive: true });

  try {
    writeFileSync(
      join(partial, "package.json"),
      `${JSON.stringify(spec.packageJson, null, 2)}\n`,
    );

    if (spec.npmrc !== undefined) {
      writeFileSync(join(partial, ".npmrc"), spec.npmrc);
    }

    for (const [name, contents] of Object.entries(spec.files ?? {})) {
      mkdirSync(dirname(join(partial, name)), { recursive: true });
      writeFileSync(join(partial, name), contents);
    }

    await run(
      "npm",
      ["install", "--no-audit", "--no-fund", "--loglevel=error"],
      { cwd: partial, env: cleanEnvironment() },
    );
    writeFileSync(join(partial, ".e2e-installed"), new Date().toISOString());

    rmSync(directory, { force: true, recursive: true });
    renameSync(partial, directory);
  } finally {
    rmSync(partial, { force: true, recursive: true });
  }

  pruneEntries(projectsDirectory, `${spec.name}-`, 2);

  return {
    cached: false,
    directory,
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
};

/** The fixture files an app project carries, read from e2e/fixtures/. */
export const fixtureFiles = (...names: string[]) =>
  Object.fromEntries(
    names.map((name) => [
      basename(name),
      readFileSync(join(fixturesDirectory, name), "utf8"),
    ]),
  );

/** The package.json of a FastMCP 3.22.0 app whose mcp-proxy is `mcpProxy`. */
export const fastmcpAppPackageJson = (
  name: string,
  mcpProxy: string,
): Record<string, unknown> => ({
  dependencies: {
    "@modelcontextprotocol/sdk": SDK_VERSION,
    fastmcp: FASTMCP_VERSION,
    "mcp-proxy": mcpProxy,
    zod: ZOD_VERSION,
  },
  name,
  // FastMCP 3.22.0 asks for mcp-proxy ^5.8.1 and the SDK ^1.17.2: the
  // overrides make it use the app's own copies, which is how an app swaps
  // the fork in without touching FastMCP.
  overrides: {
    "@modelcontextprotocol/sdk": "$@modelcontextprotocol/sdk",
    "mcp-proxy": "$mcp-proxy",
  },
  private: true,
  type: "module",
  version: "1.0.0",
});

/**
 * The package.json of an app on the newest FastMCP 3.x whose mcp-proxy is
 * `mcpProxy`, put in with `overrides` alone: the app does not depend on
 * mcp-proxy itself, as FastMCP apps don't.
 */
export const fastmcpNewestAppPackageJson = (
  name: string,
  mcpProxy: string,
): Record<string, unknown> => ({
  dependencies: {
    "@modelcontextprotocol/sdk": NEWEST_SDK_VERSION,
    fastmcp: FASTMCP_NEWEST_VERSION,
    zod: NEWEST_ZOD_VERSION,
  },
  name,
  overrides: {
    "@modelcontextprotocol/sdk": "$@modelcontextprotocol/sdk",
    "mcp-proxy": mcpProxy,
  },
  private: true,
  type: "module",
  version: "1.0.0",
});

/** Every version of the MCP SDK installed in `directory`'s project, by npm ls. */
export const installedSdkVersions = async (directory: string) => {
  const output = await run(
    "npm",
    ["ls", "@modelcontextprotocol/sdk", "--all", "--parseable", "--long"],
    { cwd: directory, env: cleanEnvironment() },
  );

  return new Set(
    output
      .trim()
      .split("\n")
      .map((line) => line.split(":")[1]),
  );
};

/**
 * Makes sure Debian's Chromium is at /usr/bin/chromium, installing it with
 * apt-get when it is missing. Fails loudly when that is not possible.
 */
export const ensureChromium = async (): Promise<string> => {
  if (existsSync(CHROMIUM)) {
    return "present";
  }

  const env = cleanEnvironment({ DEBIAN_FRONTEND: "noninteractive" });

  try {
    await run("apt-get", ["update"], { cwd: repoRoot, env });
    await run(
      "apt-get",
      ["install", "-y", "--no-install-recommends", "chromium"],
      { cwd: repoRoot, env },
    );
  } catch (error) {
    throw new Error(
      `The browser tests need Debian's chromium at ${CHROMIUM}, and installing it failed (run as root, or \`apt-get install chromium\` first).\n${String(error)}`,
    );
  }

  if (!existsSync(CHROMIUM)) {
    throw new Error(`apt-get installed chromium, but ${CHROMIUM} is missing`);
  }

  return "installed with apt-get";
};
