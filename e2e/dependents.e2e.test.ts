// Dependents' own test suites, CITGM-style: real packages that depend on
// mcp-proxy 5.x and publish their tests on the npm registry, each run three
// times, unmodified, with mcp-proxy set to
// - the release a fresh install of the package resolves today,
// - upstream 5.10.0, the release the fork is a drop-in for,
// - the packed fork.
// A test that fails on the fork and passes on an upstream fails this file,
// unless e2e/dependents/expected-differences.json lists it with a reason. A
// test that fails everywhere is reported, not blamed on the fork.
//
// FastMCP 3.22.0 and the newest 3.x publish no tests (dist/ only, since
// 3.20.2): FastMCP 3.20.0's suite, the newest FastMCP publishes, stands for
// them. Their own behaviour on the fork is in fastmcp*.e2e.test.ts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";

import {
  type Candidate,
  type Dependent,
  installDependent,
  runDependentSuite,
  type SuiteResult,
} from "./support/dependents.js";
import { cleanEnvironment, run } from "./support/processes.js";
import { repoRoot, UPSTREAM_VERSION } from "./support/projects.js";

const { fork } = inject("e2e");

const SDK_PIN = {
  reason:
    "the package's ^1.17.2 takes the newest SDK 1.x, which it predates; FastMCP 3.2x apps hold the SDK at 1.21.x (1.22 and later break FastMCP 3.22.0), and the fork needs ^1.21.0",
  version: "1.21.2",
};

const DEPENDENTS: Dependent[] = [
  {
    about:
      "FastMCP's own suite as FastMCP 3.20.0 publishes it: the newest FastMCP that ships its tests",
    name: "fastmcp",
    pins: { "@modelcontextprotocol/sdk": SDK_PIN },
    range: "^5.8.1",
    resolvedUpstream: "5.12.5",
    testDevDependencies: [
      "vitest",
      "get-port-please",
      "eventsource-client",
      "@tsconfig/node22",
    ],
    testFiles: [
      "src/FastMCP.test.ts",
      "src/FastMCP.oauth.test.ts",
      "src/FastMCP.session-context.test.ts",
      "src/FastMCP.session-id.test.ts",
    ],
    version: "3.20.0",
  },
  {
    about:
      "Firecrawl's fork of FastMCP, its own package with its own users and its own copy of the tests; it pins the SDK at 1.18.0",
    name: "firecrawl-fastmcp",
    pins: {
      undici: {
        reason:
          "its FastMCP.test.ts imports undici, which its package.json does not declare (its release tooling brought it in)",
        version: "^7.13.0",
      },
    },
    range: "^5.5.4",
    resolvedUpstream: "5.12.5",
    testDevDependencies: [
      "vitest",
      "get-port-please",
      "eventsource-client",
      "@tsconfig/node22",
    ],
    testFiles: [
      "src/FastMCP.test.ts",
      "src/FastMCP.oauth.test.ts",
      "src/FastMCP.session-context.test.ts",
    ],
    version: "1.0.4",
  },
];

type ExpectedDifference = {
  dependent: string;
  reason: string;
  test: string;
};

const expectedDifferences = (
  JSON.parse(
    readFileSync(
      join(repoRoot, "e2e", "dependents", "expected-differences.json"),
      "utf8",
    ),
  ) as { differences: ExpectedDifference[] }
).differences;

const failed = (result: SuiteResult) =>
  [...result.tests]
    .filter(([, status]) => status === "failed")
    .map(([name]) => name);

const summary = (label: string, result: SuiteResult) => {
  const statuses = [...result.tests.values()];
  return `${label}: ${statuses.filter((status) => status === "passed").length} passed, ${statuses.filter((status) => status === "failed").length} failed, ${statuses.filter((status) => status === "skipped").length} skipped`;
};

for (const dependent of DEPENDENTS) {
  const id = `${dependent.name}@${dependent.version}`;

  describe(`${id}'s own tests`, () => {
    const candidates: Candidate[] = [
      {
        label: `upstream ${dependent.resolvedUpstream} (what ${dependent.range} resolves)`,
        mcpProxy: dependent.resolvedUpstream,
        slug: `upstream-${dependent.resolvedUpstream}`,
      },
      {
        label: `upstream ${UPSTREAM_VERSION}`,
        mcpProxy: UPSTREAM_VERSION,
        slug: `upstream-${UPSTREAM_VERSION}`,
      },
      { label: "the fork", mcpProxy: `file:${fork.path}`, slug: "fork" },
    ];
    const directories = new Map<string, string>();
    const results = new Map<string, SuiteResult>();

    const resultOf = (candidate: Candidate) => {
      const result = results.get(candidate.label);

      if (!result) {
        throw new Error(`${id} did not run on ${candidate.label}`);
      }

      return result;
    };

    it(`takes mcp-proxy ${dependent.range}, which resolves to ${dependent.resolvedUpstream} (npm view)`, async () => {
      const installed = JSON.parse(
        await run("npm", ["view", id, "dependencies", "--json"], {
          cwd: repoRoot,
          env: cleanEnvironment(),
        }),
      ) as Record<string, string>;
      const matching = JSON.parse(
        await run(
          "npm",
          ["view", `mcp-proxy@${dependent.range}`, "version", "--json"],
          { cwd: repoRoot, env: cleanEnvironment() },
        ),
      ) as string | string[];
      const newest = [matching]
        .flat()
        .map((version) => version.split(".").map(Number))
        .sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2])
        .at(-1)
        ?.join(".");

      expect(installed["mcp-proxy"]).toBe(dependent.range);
      expect(newest).toBe(dependent.resolvedUpstream);
    });

    it("installs the package's sources and tests once per mcp-proxy", async () => {
      const installed = await Promise.all(
        candidates.map((candidate) => installDependent(dependent, candidate)),
      );

      candidates.forEach((candidate, index) => {
        directories.set(candidate.label, installed[index].directory);
        console.log(
          `[dependents] ${id} on ${candidate.label}: ${installed[index].directory} (${installed[index].cached ? "cached" : `installed in ${installed[index].seconds} s`})`,
        );
      });
      console.log(`[dependents] ${id}: ${dependent.about}`);
    }, 600_000);

    for (const candidate of candidates) {
      it(`runs on ${candidate.label}`, async () => {
        const directory = directories.get(candidate.label);

        if (!directory) {
          throw new Error(`${id} is not installed for ${candidate.label}`);
        }

        const result = await runDependentSuite(directory, dependent);
        results.set(candidate.label, result);
        console.log(
          `[dependents] ${id} on ${summary(candidate.label, result)}`,
        );

        for (const name of failed(result)) {
          console.log(`[dependents]   failed on ${candidate.label}: ${name}`);
        }

        expect(result.fileErrors).toEqual([]);
        expect(result.tests.size).toBeGreaterThan(0);
      }, 360_000);
    }

    it("ran the same tests on every mcp-proxy", () => {
      const [first, ...rest] = candidates.map(
        (candidate) => new Set(resultOf(candidate).tests.keys()),
      );

      for (const names of rest) {
        expect(names).toEqual(first);
      }
    });

    it("fails no test on the fork that passes on an upstream, beyond the listed differences", () => {
      const [normal, base, ours] = candidates.map(resultOf);
      const listed = new Set(
        expectedDifferences
          .filter((difference) => difference.dependent === id)
          .map((difference) => difference.test),
      );

      const forkOnly = failed(ours).filter(
        (name) =>
          normal.tests.get(name) === "passed" ||
          base.tests.get(name) === "passed",
      );
      const everywhere = failed(ours).filter(
        (name) => !forkOnly.includes(name),
      );

      for (const name of everywhere) {
        console.log(
          `[dependents] ${id}: fails on every mcp-proxy, not the fork's doing: ${name}`,
        );
      }

      for (const name of forkOnly.filter((each) => listed.has(each))) {
        console.log(`[dependents] ${id}: listed difference: ${name}`);
      }

      expect(forkOnly.filter((name) => !listed.has(name))).toEqual([]);
    });

    it("still shows every difference listed for it", () => {
      const [normal, base, ours] = candidates.map(resultOf);
      const stale = expectedDifferences
        .filter((difference) => difference.dependent === id)
        .filter(
          ({ test }) =>
            ours.tests.get(test) !== "failed" ||
            (normal.tests.get(test) !== "passed" &&
              base.tests.get(test) !== "passed"),
        )
        .map(({ test }) => test);

      expect(stale).toEqual([]);
    });
  });
}

describe("the expected-differences list", () => {
  it("names only the dependents run here, each entry with a reason", () => {
    const ids = new Set(
      DEPENDENTS.map((dependent) => `${dependent.name}@${dependent.version}`),
    );

    for (const difference of expectedDifferences) {
      expect(ids.has(difference.dependent), difference.dependent).toBe(true);
      expect(difference.reason.trim().length, difference.test).toBeGreaterThan(
        20,
      );
    }
  });
});
