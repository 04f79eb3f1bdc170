// Installs everything the end-to-end tests need, once per run, before any
// test file starts: the packed fork, a FastMCP 3.22.0 app on the fork and one
// on upstream 5.10.0, an app on the newest FastMCP 3.x on the fork,
// verdaccio, and Debian's Chromium. Nothing is skipped:
// when something cannot be installed, the run fails here, loudly.
import type { TestProject } from "vitest/node";

import {
  ensureChromium,
  fastmcpAppPackageJson,
  fastmcpNewestAppPackageJson,
  fixtureFiles,
  installProject,
  packFork,
  UPSTREAM_VERSION,
  VERDACCIO_VERSION,
} from "./support/projects.js";

export type E2EContext = {
  chromium: string;
  fork: { name: string; path: string; version: string };
  /** A FastMCP 3.22.0 app whose mcp-proxy is the packed fork. */
  forkApp: string;
  /** The same app on the newest FastMCP 3.x, whose mcp-proxy is the fork. */
  newestForkApp: string;
  /** The same app on upstream mcp-proxy 5.10.0. */
  upstreamApp: string;
  /** A project with verdaccio installed. */
  verdaccio: string;
};

declare module "vitest" {
  export interface ProvidedContext {
    e2e: E2EContext;
  }
}

const timed = async <T>(label: string, work: () => Promise<T>) => {
  const started = Date.now();
  const result = await work();
  console.log(
    `[e2e setup] ${label}: ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return result;
};

export default async function setup(project: TestProject) {
  const fork = await timed("pack the fork", packFork);
  console.log(
    `[e2e setup] packed ${fork.name}@${fork.version} at ${fork.path}`,
  );

  const appFiles = fixtureFiles("fastmcp-app.mjs");

  const [chromium, forkApp, upstreamApp, newestForkApp, verdaccio] =
    await Promise.all([
      timed("chromium", ensureChromium),
      timed("FastMCP app on the fork", () =>
        installProject({
          files: appFiles,
          name: "fastmcp-fork",
          packageJson: fastmcpAppPackageJson(
            "e2e-fastmcp-fork",
            `file:${fork.path}`,
          ),
        }),
      ),
      timed("FastMCP app on upstream", () =>
        installProject({
          files: appFiles,
          name: "fastmcp-upstream",
          packageJson: fastmcpAppPackageJson(
            "e2e-fastmcp-upstream",
            UPSTREAM_VERSION,
          ),
        }),
      ),
      timed("newest FastMCP 3.x app on the fork", () =>
        installProject({
          files: appFiles,
          name: "fastmcp-newest-fork",
          packageJson: fastmcpNewestAppPackageJson(
            "e2e-fastmcp-newest-fork",
            `file:${fork.path}`,
          ),
        }),
      ),
      timed("verdaccio", () =>
        installProject({
          name: "verdaccio",
          packageJson: {
            dependencies: { verdaccio: VERDACCIO_VERSION },
            name: "e2e-verdaccio",
            // verdaccio-audit asks for node-fetch@cjs, a dist-tag the
            // registry no longer has.
            overrides: { "node-fetch": "2.7.0" },
            private: true,
            version: "1.0.0",
          },
        }),
      ),
    ]);

  for (const [label, result] of Object.entries({
    forkApp,
    newestForkApp,
    upstreamApp,
    verdaccio,
  })) {
    console.log(
      `[e2e setup] ${label}: ${result.directory} (${result.cached ? "cached" : `installed in ${result.seconds} s`})`,
    );
  }

  project.provide("e2e", {
    chromium,
    fork: { name: fork.name, path: fork.path, version: fork.version },
    forkApp: forkApp.directory,
    newestForkApp: newestForkApp.directory,
    upstreamApp: upstreamApp.directory,
    verdaccio: verdaccio.directory,
  });
}
