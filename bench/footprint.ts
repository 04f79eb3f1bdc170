// The install footprint of the fork and of upstream mcp-proxy 5.10.0:
//
// - packed and unpacked size of each package (`npm pack`);
// - what each adds to an app's node_modules next to fastmcp@3.22.0, in two
//   projects that differ only in which mcp-proxy `overrides` gives FastMCP
//   (the app holds the SDK at 1.21.x, as FastMCP 3.22.0 apps must);
// - CLI cold start: `mcp-proxy --help`, median of 10 runs, interleaved.
//
// Run alone with `npx tsx bench/footprint.ts`; `npm run bench` runs it first
// and reuses its two projects for the FastMCP-stack throughput rows. The
// projects are cached under BENCH_CACHE_DIR (default: <tmpdir>/mcp-proxy-bench)
// by a hash of their package.json and of the fork's tarball.
import { execFile, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("..", import.meta.url));

export const cacheRoot =
  process.env.BENCH_CACHE_DIR ?? join(tmpdir(), "mcp-proxy-bench");

export const FASTMCP_VERSION = "3.22.0";
export const FASTMCP_SDK_VERSION = "1.21.2";
export const UPSTREAM_VERSION = "5.10.0";
const ZOD_VERSION = "3.25.76";

const COLD_START_RUNS = Number(process.env.BENCH_COLD_START_RUNS ?? 10);

/**
 * Builds dist/ with tsup when it is missing or older than src/, tsup's
 * config or package.json.
 */
export const ensureBuild = () => {
  const outputs = ["dist/index.js", "dist/bin/mcp-proxy.js"].map((path) =>
    join(repoRoot, path),
  );
  const sources = [
    join(repoRoot, "package.json"),
    join(repoRoot, "tsup.config.ts"),
    ...readdirSync(join(repoRoot, "src"), { recursive: true }).map((entry) =>
      join(repoRoot, "src", String(entry)),
    ),
  ];
  const newestSource = Math.max(
    ...sources.map((path) => lstatSync(path).mtimeMs),
  );
  const stale = outputs.some(
    (path) => !existsSync(path) || lstatSync(path).mtimeMs < newestSource,
  );

  if (stale) {
    console.error("[bench] dist/ is missing or stale: building it with tsup");
    const result = spawnSync("npx", ["tsup"], {
      cwd: repoRoot,
      stdio: ["ignore", "ignore", "inherit"],
    });

    if (result.status !== 0) {
      throw new Error("npx tsup failed");
    }
  }
};

/** This process's environment without the npm_* variables `npm run` sets. */
export const cleanEnvironment = (): NodeJS.ProcessEnv =>
  Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)),
  );

const run = (command: string, args: string[], cwd: string) =>
  new Promise<string>((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd, env: cleanEnvironment(), maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          reject(
            new Error(
              `${command} ${args.join(" ")} failed in ${cwd}: ${stderr || error.message}`,
            ),
          );
        } else {
          resolve(stdout);
        }
      },
    );
  });

const sha256 = (data: Buffer | string) =>
  createHash("sha256").update(data).digest("hex");

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);

  return sorted.length % 2
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
};

type PackInfo = {
  entryCount: number;
  filename: string;
  size: number;
  unpackedSize: number;
};

const parsePackJson = (output: string) =>
  (JSON.parse(output.slice(output.indexOf("["))) as PackInfo[])[0];

/**
 * Packs the repository (dist/ must be built) into the cache, under a name
 * that carries the tarball's hash.
 */
export const packFork = async () => {
  const directory = join(cacheRoot, "pack");
  mkdirSync(directory, { recursive: true });
  const staging = mkdtempSync(join(directory, "staging-"));

  try {
    const info = parsePackJson(
      await run(
        "npm",
        ["pack", "--ignore-scripts", "--json", "--pack-destination", staging],
        repoRoot,
      ),
    );
    const staged = join(staging, info.filename);
    const hash = sha256(readFileSync(staged)).slice(0, 16);
    const path = join(directory, `fork-${hash}.tgz`);

    renameSync(staged, path);
    prune(directory, "fork-");

    return { hash, info, path };
  } finally {
    rmSync(staging, { force: true, recursive: true });
  }
};

const packUpstream = async () => {
  const directory = mkdtempSync(join(tmpdir(), "mcp-proxy-bench-pack-"));

  try {
    return parsePackJson(
      await run(
        "npm",
        ["pack", `mcp-proxy@${UPSTREAM_VERSION}`, "--dry-run", "--json"],
        directory,
      ),
    );
  } finally {
    rmSync(directory, { force: true, recursive: true });
  }
};

/** The package.json of a FastMCP app whose mcp-proxy is `mcpProxy`. */
const fastmcpApp = (name: string, mcpProxy: string) => ({
  dependencies: {
    "@modelcontextprotocol/sdk": FASTMCP_SDK_VERSION,
    fastmcp: FASTMCP_VERSION,
    zod: ZOD_VERSION,
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

/** Removes all but the `keep` newest entries of `directory` named `prefix*`. */
const prune = (directory: string, prefix: string, keep = 2) => {
  const entries = readdirSync(directory)
    .filter((entry) => entry.startsWith(prefix))
    .map((entry) => join(directory, entry))
    .sort((a, b) => lstatSync(b).mtimeMs - lstatSync(a).mtimeMs);

  for (const stale of entries.slice(keep)) {
    rmSync(stale, { force: true, recursive: true });
  }
};

/** A project with `npm install` done, from the cache when it is there. */
const installProject = async (
  name: string,
  packageJson: Record<string, unknown>,
  salt = "",
) => {
  const key = sha256(
    JSON.stringify({ node: process.versions.node, packageJson, salt }),
  ).slice(0, 16);
  const directory = join(cacheRoot, "projects", `${name}-${key}`);
  const marker = join(directory, ".bench-installed");

  if (existsSync(marker)) {
    return { cached: true, directory };
  }

  rmSync(directory, { force: true, recursive: true });
  mkdirSync(directory, { recursive: true });
  writeFileSync(
    join(directory, "package.json"),
    `${JSON.stringify(packageJson, null, 2)}\n`,
  );
  await run(
    "npm",
    [
      "install",
      "--ignore-scripts",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
    ],
    directory,
  );
  writeFileSync(marker, new Date().toISOString());
  prune(join(cacheRoot, "projects"), `${name}-`);

  return { cached: false, directory };
};

/** Bytes of the files under `path`, not following symlinks. */
const treeSize = (path: string, skip?: string): number => {
  const stats = lstatSync(path);

  if (!stats.isDirectory()) {
    return stats.size;
  }

  let total = 0;

  for (const entry of readdirSync(path)) {
    if (entry !== skip) {
      total += treeSize(join(path, entry));
    }
  }

  return total;
};

type LockPackage = {
  dependencies?: Record<string, string>;
  link?: boolean;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
};

/** The lockfile key Node would load `name` from, seen from package `from`. */
const resolveFrom = (
  packages: Record<string, LockPackage>,
  from: string,
  name: string,
): string | undefined => {
  let base = from;

  for (;;) {
    const candidate = base
      ? `${base}/node_modules/${name}`
      : `node_modules/${name}`;

    if (packages[candidate]) {
      return candidate;
    }

    if (!base) {
      return undefined;
    }

    const index = base.lastIndexOf("/node_modules/");
    base = index === -1 ? "" : base.slice(0, index);
  }
};

/** The lockfile keys reachable from the root without passing `excluded`. */
const reachable = (
  packages: Record<string, LockPackage>,
  excluded?: string,
) => {
  const seen = new Set<string>([""]);
  const queue = [""];

  while (queue.length > 0) {
    const key = queue.pop()!;
    const entry = packages[key];
    const names = [
      ...Object.keys(entry.dependencies ?? {}),
      ...Object.keys(entry.optionalDependencies ?? {}),
      ...Object.keys(entry.peerDependencies ?? {}).filter(
        (name) => !entry.peerDependenciesMeta?.[name]?.optional,
      ),
    ];

    for (const name of names) {
      const target = resolveFrom(packages, key, name);

      if (target && target !== excluded && !seen.has(target)) {
        seen.add(target);
        queue.push(target);
      }
    }
  }

  seen.delete("");

  return seen;
};

export type ProjectFootprint = {
  /** Bytes of mcp-proxy and of every package only it brings in. */
  attributableBytes: number;
  /** mcp-proxy and the packages only it brings in. */
  attributablePackages: string[];
  directory: string;
  mcpProxyVersion: string;
  packages: number;
  sdkVersions: string[];
  totalBytes: number;
};

const measureProject = (directory: string): ProjectFootprint => {
  const lock = JSON.parse(
    readFileSync(join(directory, "package-lock.json"), "utf8"),
  ) as { packages: Record<string, { version?: string } & LockPackage> };
  const { packages } = lock;
  const all = reachable(packages);
  const withoutProxy = reachable(packages, "node_modules/mcp-proxy");
  const attributable = [...all].filter((key) => !withoutProxy.has(key));
  const size = (key: string) =>
    existsSync(join(directory, key))
      ? treeSize(join(directory, key), "node_modules")
      : 0;

  return {
    attributableBytes: attributable.reduce((sum, key) => sum + size(key), 0),
    attributablePackages: attributable.map((key) =>
      key.replace(/^.*node_modules\//, ""),
    ),
    directory,
    mcpProxyVersion: packages["node_modules/mcp-proxy"]?.version ?? "?",
    packages: all.size,
    sdkVersions: [
      ...new Set(
        Object.entries(packages)
          .filter(([key]) =>
            key.endsWith("node_modules/@modelcontextprotocol/sdk"),
          )
          .map(([, entry]) => entry.version ?? "?"),
      ),
    ],
    totalBytes: [...all].reduce((sum, key) => sum + size(key), 0),
  };
};

/** Median wall time of `node <bin> --help`, the two bins interleaved. */
export const measureColdStart = (bins: Record<string, string>) => {
  const times: Record<string, number[]> = {};
  const once = (bin: string) => {
    const started = process.hrtime.bigint();
    const result = spawnSync(process.execPath, [bin, "--help"], {
      encoding: "utf8",
      env: cleanEnvironment(),
    });
    const elapsed = Number(process.hrtime.bigint() - started) / 1e6;

    if (result.status !== 0 || !/options/i.test(result.stdout)) {
      throw new Error(
        `node ${bin} --help failed (${result.status}): ${result.stderr}`,
      );
    }

    return elapsed;
  };

  // One unmeasured run each fills the file cache.
  for (const bin of Object.values(bins)) {
    once(bin);
  }

  for (let index = 0; index < COLD_START_RUNS; index++) {
    for (const [name, bin] of Object.entries(bins)) {
      (times[name] ??= []).push(once(bin));
    }
  }

  return Object.fromEntries(
    Object.entries(times).map(([name, values]) => [name, median(values)]),
  );
};

export type Footprint = {
  coldStartMs: {
    fastmcp?: Record<string, number>;
    repo: Record<string, number>;
  };
  fastmcp?: { fork: ProjectFootprint; upstream: ProjectFootprint };
  fastmcpError?: string;
  pack: { fork: PackInfo; upstream: PackInfo };
};

export const measureFootprint = async (): Promise<Footprint> => {
  ensureBuild();
  const fork = await packFork();
  const upstreamPack = await packUpstream();

  let fastmcp: Footprint["fastmcp"];
  let fastmcpError: string | undefined;

  try {
    const [forkProject, upstreamProject] = await Promise.all([
      installProject(
        "fastmcp-fork",
        fastmcpApp("bench-fastmcp-fork", `file:${fork.path}`),
        fork.hash,
      ),
      installProject(
        "fastmcp-upstream",
        fastmcpApp("bench-fastmcp-upstream", UPSTREAM_VERSION),
      ),
    ]);

    fastmcp = {
      fork: measureProject(forkProject.directory),
      upstream: measureProject(upstreamProject.directory),
    };
  } catch (error) {
    fastmcpError = String(error);
  }

  const bin = (root: string) => join(root, "dist", "bin", "mcp-proxy.js");

  return {
    coldStartMs: {
      fastmcp: fastmcp
        ? measureColdStart({
            fork: bin(
              join(fastmcp.fork.directory, "node_modules", "mcp-proxy"),
            ),
            upstream: bin(
              join(fastmcp.upstream.directory, "node_modules", "mcp-proxy"),
            ),
          })
        : undefined,
      repo: measureColdStart({
        fork: bin(repoRoot),
        upstream: bin(join(repoRoot, "node_modules", "mcp-proxy-upstream")),
      }),
    },
    fastmcp,
    fastmcpError,
    pack: { fork: fork.info, upstream: upstreamPack },
  };
};

const kilobytes = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

const ratio = (fork: number, upstream: number) =>
  `${(fork / upstream).toFixed(2)}`;

/** The footprint as a Markdown table. */
export const formatFootprint = (footprint: Footprint) => {
  const { coldStartMs, fastmcp, pack } = footprint;
  const rows: [string, string, string, string][] = [
    [
      "tarball (npm pack)",
      kilobytes(pack.fork.size),
      kilobytes(pack.upstream.size),
      ratio(pack.fork.size, pack.upstream.size),
    ],
    [
      "unpacked",
      `${kilobytes(pack.fork.unpackedSize)}, ${pack.fork.entryCount} files`,
      `${kilobytes(pack.upstream.unpackedSize)}, ${pack.upstream.entryCount} files`,
      ratio(pack.fork.unpackedSize, pack.upstream.unpackedSize),
    ],
  ];

  if (fastmcp) {
    rows.push(
      [
        `node_modules of a fastmcp@${FASTMCP_VERSION} app (SDK ${FASTMCP_SDK_VERSION})`,
        `${kilobytes(fastmcp.fork.totalBytes)}, ${fastmcp.fork.packages} packages`,
        `${kilobytes(fastmcp.upstream.totalBytes)}, ${fastmcp.upstream.packages} packages`,
        ratio(fastmcp.fork.totalBytes, fastmcp.upstream.totalBytes),
      ],
      [
        "added by mcp-proxy (itself + packages only it brings)",
        `${kilobytes(fastmcp.fork.attributableBytes)}: ${fastmcp.fork.attributablePackages.join(", ")}`,
        `${kilobytes(fastmcp.upstream.attributableBytes)}: ${fastmcp.upstream.attributablePackages.join(", ")}`,
        ratio(
          fastmcp.fork.attributableBytes,
          fastmcp.upstream.attributableBytes,
        ),
      ],
      [
        "SDK copies in node_modules",
        fastmcp.fork.sdkVersions.join(", "),
        `${fastmcp.upstream.sdkVersions.join(", ")} (+ 1.18.1 bundled inside mcp-proxy)`,
        "",
      ],
    );
  }

  const coldStart = (label: string, times?: Record<string, number>) => {
    if (times) {
      rows.push([
        `CLI cold start, \`mcp-proxy --help\` (${label}), median of ${COLD_START_RUNS}`,
        `${times.fork.toFixed(0)} ms`,
        `${times.upstream.toFixed(0)} ms`,
        ratio(times.fork, times.upstream),
      ]);
    }
  };

  coldStart("this repo, SDK of node_modules", coldStartMs.repo);
  coldStart("installed in the FastMCP app", coldStartMs.fastmcp);

  return [
    "| | fork | upstream 5.10.0 | fork/upstream |",
    "|---|---|---|---|",
    ...rows.map((row) => `| ${row.join(" | ")} |`),
    ...(footprint.fastmcpError
      ? [
          "",
          `FastMCP projects could not be installed: ${footprint.fastmcpError}`,
        ]
      : []),
  ].join("\n");
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(formatFootprint(await measureFootprint()));
}
