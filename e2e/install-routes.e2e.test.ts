// The three ways an app installs the fork, each followed by the reported scenario's check
// against a FastMCP 3.22.0 app (401 with exactly the app's challenge, in
// stateless and stateful mode):
// (a) an npm alias from a real registry: verdaccio on loopback serves only
//     the test scope, the package is published there renamed, and the app
//     installs `"mcp-proxy": "npm:@fork-test/mcp-proxy@<version>"` with a
//     scoped registry line, FastMCP coming from the normal registry;
// (b) a git pin, `git+file://<clone>#<commit>`, which works only because
//     `prepare` builds dist/ (dist/ is not committed);
// (c) the packed tarball.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";

import {
  APP_CHALLENGE,
  type FastMCPApp,
  fieldValues,
  sendReportedInitialize,
  startFastMCPApp,
} from "./support/fastmcpApp.js";
import {
  cleanEnvironment,
  getFreePort,
  run,
  type RunningProcess,
  startProcess,
  waitForPortClosed,
} from "./support/processes.js";
import {
  fastmcpAppPackageJson,
  fixtureFiles,
  repoRoot,
} from "./support/projects.js";

const { fork, forkApp, verdaccio } = inject("e2e");

const SCOPED_NAME = "@fork-test/mcp-proxy";

const workspace = mkdtempSync(join(tmpdir(), "mcp-proxy-e2e-routes-"));
const apps = new Set<FastMCPApp>();
const processes = new Set<RunningProcess>();
const ports: number[] = [];

const stopAll = async () => {
  await Promise.all([...apps, ...processes].map((running) => running.stop()));
};

afterAll(async () => {
  await stopAll();
  rmSync(workspace, { force: true, recursive: true });
});

const npm = (args: string[], cwd: string) =>
  run("npm", args, { cwd, env: cleanEnvironment() });

/** A consumer project: package.json, .npmrc, the app; then npm install. */
const createApp = async (name: string, mcpProxy: string, npmrc?: string) => {
  const directory = join(workspace, name);
  mkdirSync(directory, { recursive: true });

  writeFileSync(
    join(directory, "package.json"),
    JSON.stringify(fastmcpAppPackageJson(`e2e-${name}`, mcpProxy), null, 2),
  );
  if (npmrc) {
    writeFileSync(join(directory, ".npmrc"), npmrc);
  }
  for (const [file, contents] of Object.entries(
    fixtureFiles("fastmcp-app.mjs"),
  )) {
    writeFileSync(join(directory, file), contents);
  }

  await npm(
    ["install", "--no-audit", "--no-fund", "--prefer-online"],
    directory,
  );

  return directory;
};

type NpmLsNode = {
  dependencies?: Record<string, NpmLsNode>;
  name?: string;
  path?: string;
  resolved?: string;
  version?: string;
};

/** The mcp-proxy the app and FastMCP resolve, from `npm ls --long`. */
const resolvedMcpProxy = async (directory: string) => {
  const tree = JSON.parse(
    await npm(["ls", "mcp-proxy", "--json", "--long"], directory),
  ) as NpmLsNode;
  const ours = tree.dependencies?.["mcp-proxy"];
  const fastmcps = tree.dependencies?.fastmcp?.dependencies?.["mcp-proxy"];

  // One copy: FastMCP's is the app's.
  expect(fastmcps?.path).toBe(ours?.path);
  expect(fastmcps?.version).toBe(ours?.version);

  const installed = JSON.parse(
    readFileSync(
      join(directory, "node_modules", "mcp-proxy", "package.json"),
      "utf8",
    ),
  ) as { name: string; version: string };

  return { installed, ours };
};

/** The initialize without a token, in both modes: 401 + challenge. */
const reportedScenarioCheck = async (directory: string, label: string) => {
  for (const stateless of [true, false]) {
    const app = await startFastMCPApp({
      directory,
      name: `${label}-${stateless ? "stateless" : "stateful"}`,
      stateless,
    });
    apps.add(app);
    ports.push(app.port);

    const response = await sendReportedInitialize(app.url);

    expect(response.status, app.name).toBe(401);
    expect(response.headers["content-type"], app.name).toMatch(
      /^application\/json/,
    );
    expect(fieldValues(response, "WWW-Authenticate"), app.name).toEqual([
      APP_CHALLENGE,
    ]);

    await app.stop();
  }
};

describe("(a) npm alias from a registry (verdaccio serving only @fork-test)", () => {
  let registry: string;
  let npmrc: string;

  it("starts verdaccio on loopback", async () => {
    const home = join(workspace, "verdaccio");
    const port = await getFreePort();
    mkdirSync(join(home, "storage"), { recursive: true });
    writeFileSync(
      join(home, "config.yaml"),
      [
        `storage: ${join(home, "storage")}`,
        "auth:",
        "  htpasswd:",
        `    file: ${join(home, "htpasswd")}`,
        "    max_users: 10",
        // No uplinks: only what is published here exists here.
        "uplinks: {}",
        "packages:",
        "  '@fork-test/*':",
        "    access: $all",
        "    publish: $authenticated",
        "web:",
        "  enable: false",
        "log: { type: stdout, format: pretty, level: warn }",
        "",
      ].join("\n"),
    );

    const server = startProcess({
      args: [
        join(verdaccio, "node_modules", "verdaccio", "bin", "verdaccio"),
        "--config",
        join(home, "config.yaml"),
        "--listen",
        `127.0.0.1:${port}`,
      ],
      command: process.execPath,
      cwd: home,
      name: "verdaccio",
    });
    processes.add(server);
    ports.push(port);
    registry = `http://127.0.0.1:${port}/`;

    // Up when it answers its ping.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ok = await fetch(`${registry}-/ping`).then(
        (response) => response.ok,
        () => false,
      );
      if (ok) {
        break;
      }
      if (Date.now() > deadline || server.child.exitCode !== null) {
        throw new Error(`verdaccio did not start:\n${server.output()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });

  it("publishes the fork renamed into the scope", async () => {
    // A user, as `npm adduser` creates one.
    const response = await fetch(
      `${registry}-/user/org.couchdb.user:e2e-publisher`,
      {
        body: JSON.stringify({
          name: "e2e-publisher",
          password: "e2e-publisher-password",
        }),
        headers: { "Content-Type": "application/json" },
        method: "PUT",
      },
    );
    expect(response.status).toBe(201);
    const { token } = (await response.json()) as { token: string };

    const host = registry.replace(/^http:/, "");
    npmrc = `@fork-test:registry=${registry}\n${host}:_authToken=${token}\n`;

    // The packed fork, renamed: what a maintainer publishes under a scope.
    const packageDirectory = join(workspace, "publish", "package");
    mkdirSync(dirname(packageDirectory), { recursive: true });
    await run("tar", ["-xzf", fork.path, "-C", dirname(packageDirectory)], {
      cwd: workspace,
    });
    const manifestPath = join(packageDirectory, "package.json");
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as {
      name: string;
    };
    manifest.name = SCOPED_NAME;
    writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
    writeFileSync(join(packageDirectory, ".npmrc"), npmrc);

    // dist/ is in the tarball already: no build.
    await npm(
      [
        "publish",
        "--ignore-scripts",
        "--access",
        "public",
        "--registry",
        registry,
      ],
      packageDirectory,
    );

    const packument = (await (
      await fetch(`${registry}${SCOPED_NAME.replace("/", "%2f")}`)
    ).json()) as { "dist-tags": Record<string, string> };
    expect(packument["dist-tags"].latest).toBe(fork.version);
  });

  it(`installs "mcp-proxy": "npm:${SCOPED_NAME}@<version>" with FastMCP from the normal registry`, async () => {
    const directory = await createApp(
      "alias",
      `npm:${SCOPED_NAME}@${fork.version}`,
      `@fork-test:registry=${registry}\n`,
    );
    const { installed, ours } = await resolvedMcpProxy(directory);

    expect(installed).toMatchObject({
      name: SCOPED_NAME,
      version: fork.version,
    });
    expect(ours?.version).toBe(fork.version);

    const lock = readFileSync(join(directory, "package-lock.json"), "utf8");
    expect(lock).toContain(`"name": "${SCOPED_NAME}"`);
    // Only the scope came from verdaccio.
    expect(lock).not.toMatch(
      /127\.0\.0\.1:\d+\/(fastmcp|@modelcontextprotocol)/,
    );

    await reportedScenarioCheck(directory, "alias");
  });
});

describe("(b) git pin (git+file:// a clone #commit; prepare builds dist/)", () => {
  it("installs from a commit of a clone and passes the reported scenario's check", async () => {
    // A clone holding exactly this work tree (committed or not), so that the
    // pin installs what is being tested.
    const clone = join(workspace, "clone");
    await run("git", ["clone", "--quiet", repoRoot, clone], { cwd: workspace });

    const listed = (
      await run(
        "git",
        ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        { cwd: repoRoot },
      )
    )
      .split("\0")
      .filter((path) => path && existsSync(join(repoRoot, path)));
    const tracked = new Set(listed);

    for (const path of (await run("git", ["ls-files", "-z"], { cwd: clone }))
      .split("\0")
      .filter(Boolean)) {
      if (!tracked.has(path)) {
        rmSync(join(clone, path), { force: true });
      }
    }
    for (const path of listed) {
      mkdirSync(dirname(join(clone, path)), { recursive: true });
      writeFileSync(join(clone, path), readFileSync(join(repoRoot, path)));
    }

    const git = (...args: string[]) =>
      run(
        "git",
        [
          "-c",
          "user.name=e2e",
          "-c",
          "user.email=e2e@localhost",
          "-c",
          "commit.gpgsign=false",
          ...args,
        ],
        { cwd: clone },
      );

    await git("add", "--all");
    if ((await git("status", "--porcelain")).trim()) {
      await git("commit", "--quiet", "-m", "e2e: the work tree under test");
    }
    const commit = (await git("rev-parse", "HEAD")).trim();

    // dist/ is not in git: only `prepare` can make it.
    expect((await git("ls-files", "dist")).trim()).toBe("");

    const directory = await createApp("git", `git+file://${clone}#${commit}`);
    const { ours } = await resolvedMcpProxy(directory);

    expect(ours?.resolved).toBe(`git+file://${clone}#${commit}`);
    expect(
      existsSync(
        join(directory, "node_modules", "mcp-proxy", "dist", "index.js"),
      ),
    ).toBe(true);

    await reportedScenarioCheck(directory, "git");
  });
});

describe("(c) the packed tarball", () => {
  it("installs from the tarball and passes the reported scenario's check", async () => {
    const { installed, ours } = await resolvedMcpProxy(forkApp);

    expect(installed).toMatchObject({ name: fork.name, version: fork.version });
    expect(ours?.resolved).toMatch(/^file:.*\.tgz$/);

    await reportedScenarioCheck(forkApp, "tarball");
  });
});

describe("afterwards", () => {
  it("leaves no process and no port behind", async () => {
    await stopAll();

    for (const running of [...apps, ...processes]) {
      expect(running.child.exitCode ?? running.child.signalCode).not.toBeNull();
    }
    for (const port of ports) {
      expect(await waitForPortClosed(port)).toBe(true);
    }
  });
});
