// FastMCP 3.22.0, unmodified, in a consumer project that swaps the packed
// fork in with `overrides`: the initialize without a token gets 401
// with exactly the challenge the app's `authenticate` returned, and with a
// good token the SDK client (1.21.x, what the app holds) lists and calls
// tools. The same app on upstream 5.10.0 sends no challenge at all.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";

import {
  APP_CHALLENGE,
  type FastMCPApp,
  fieldValues,
  GOOD_TOKEN,
  loadProjectSdkClient,
  rawRequest,
  sendReportedInitialize,
  startFastMCPApp,
} from "./support/fastmcpApp.js";
import {
  cleanEnvironment,
  run,
  waitForPortClosed,
} from "./support/processes.js";
import {
  installedSdkVersions,
  repoRoot,
  SDK_VERSION,
  UPSTREAM_VERSION,
} from "./support/projects.js";

const { fork, forkApp, upstreamApp } = inject("e2e");

const apps = new Set<FastMCPApp>();

const start = async (
  directory: string,
  stateless: boolean,
  name: string,
): Promise<FastMCPApp> => {
  const app = await startFastMCPApp({ directory, name, stateless });
  apps.add(app);
  return app;
};

const stopAll = async () => {
  await Promise.all([...apps].map((app) => app.stop()));
};

afterAll(stopAll);

type NpmLsNode = {
  dependencies?: Record<string, NpmLsNode>;
  integrity?: string;
  resolved?: string;
  version?: string;
};

/** `npm ls <name> --json --long` in a project. */
const npmLs = async (directory: string, name: string) =>
  JSON.parse(
    await run("npm", ["ls", name, "--json", "--long"], {
      cwd: directory,
      env: cleanEnvironment(),
    }),
  ) as NpmLsNode;

const modes = [
  { mode: "stateless", stateless: true },
  { mode: "stateful", stateless: false },
] as const;

describe("the consumer project", () => {
  it("resolves FastMCP's mcp-proxy to the packed fork (npm ls)", async () => {
    const tree = await npmLs(forkApp, "mcp-proxy");
    const ours = tree.dependencies?.["mcp-proxy"];
    const fastmcps = tree.dependencies?.fastmcp?.dependencies?.["mcp-proxy"];
    const tarball = fork.path.split("/").at(-1);

    expect(ours?.version).toBe(fork.version);
    expect(ours?.resolved).toMatch(new RegExp(`^file:.*${tarball}$`));
    // One copy, FastMCP's: the same tarball, deduplicated.
    expect(fastmcps?.resolved).toBe(ours?.resolved);
    expect(
      fastmcps?.dependencies?.["@modelcontextprotocol/sdk"],
    ).toBeUndefined();
  });

  it(`holds the SDK at ${SDK_VERSION} everywhere (npm ls)`, async () => {
    expect(await installedSdkVersions(forkApp)).toEqual(
      new Set([`@modelcontextprotocol/sdk@${SDK_VERSION}`]),
    );
  });
});

describe.each(modes)(
  "FastMCP 3.22.0 on the fork, $mode",
  ({ mode, stateless }) => {
    let app: FastMCPApp;

    it("starts", async () => {
      app = await start(forkApp, stateless, `fastmcp-fork-${mode}`);
    });

    it("answers the initialize without a token with 401 and exactly the app's challenge", async () => {
      const response = await sendReportedInitialize(app.url);

      expect(response.status).toBe(401);
      expect(response.headers["content-type"]).toMatch(/^application\/json/);
      expect(fieldValues(response, "WWW-Authenticate")).toEqual([
        APP_CHALLENGE,
      ]);
      expect(JSON.parse(response.body)).toEqual({
        error: {
          code: -32000,
          message: "Authentication required: missing bearer token",
        },
        id: 1,
        jsonrpc: "2.0",
      });
    });

    it("answers a wrong token with 401, the app's challenge and its message", async () => {
      const response = await sendReportedInitialize(app.url, "not-the-token");

      expect(response.status).toBe(401);
      expect(fieldValues(response, "WWW-Authenticate")).toEqual([
        APP_CHALLENGE,
      ]);
      expect(JSON.parse(response.body)).toMatchObject({
        error: { message: "Invalid token" },
        id: 1,
      });
    });

    it("with a good token: initialize, tools/list and tools/call through the SDK client", async () => {
      const { Client, StreamableHTTPClientTransport } =
        await loadProjectSdkClient(forkApp);
      const transport = new StreamableHTTPClientTransport(new URL(app.url), {
        requestInit: { headers: { Authorization: `Bearer ${GOOD_TOKEN}` } },
      });
      const client = new Client({ name: "e2e-client", version: "1.0.0" });

      await client.connect(transport);

      try {
        expect(client.getServerVersion()).toMatchObject({
          name: "e2e-fastmcp-app",
        });

        if (stateless) {
          expect(transport.sessionId).toBeUndefined();
        } else {
          expect(transport.sessionId).toMatch(/^[\x21-\x7e]+$/);
        }

        const { tools } = await client.listTools();
        expect(tools.map((tool) => tool.name).sort()).toEqual([
          "add",
          "count",
          "session",
          "whoami",
        ]);

        expect(
          await client.callTool({ arguments: { a: 2, b: 3 }, name: "add" }),
        ).toMatchObject({ content: [{ text: "5", type: "text" }] });
        expect(
          await client.callTool({ arguments: {}, name: "whoami" }),
        ).toMatchObject({
          content: [{ text: "Ada <ada@example.com>", type: "text" }],
        });

        if (!stateless) {
          const sessionId = transport.sessionId!;

          // A live session id without the token proves nothing: 401 with the
          // app's challenge, before any session lookup.
          for (const method of ["POST", "GET", "DELETE"]) {
            const response = await rawRequest(app.url, {
              body:
                method === "POST"
                  ? '{"jsonrpc":"2.0","method":"tools/list","id":2}'
                  : undefined,
              headers: {
                Accept: "application/json, text/event-stream",
                "Content-Type": "application/json",
                "Mcp-Session-Id": sessionId,
              },
              method,
            });

            expect(response.status, method).toBe(401);
            expect(fieldValues(response, "WWW-Authenticate"), method).toEqual([
              APP_CHALLENGE,
            ]);
          }

          // The session survived those requests.
          expect((await client.listTools()).tools).toHaveLength(4);
          await transport.terminateSession();
        }
      } finally {
        await client.close();
      }
    });
  },
);

describe.each(modes)(
  `the same app on upstream ${UPSTREAM_VERSION}, $mode`,
  ({ mode, stateless }) => {
    it("is installed from the registry", async () => {
      const tree = await npmLs(upstreamApp, "mcp-proxy");

      const lock = JSON.parse(
        readFileSync(join(repoRoot, "package-lock.json"), "utf8"),
      ) as { packages: Record<string, { integrity?: string }> };

      expect(tree.dependencies?.["mcp-proxy"]?.version).toBe(UPSTREAM_VERSION);
      // The registry's tarball: the one the repo's `mcp-proxy-upstream` is.
      expect(tree.dependencies?.["mcp-proxy"]?.integrity).toBe(
        lock.packages["node_modules/mcp-proxy-upstream"].integrity,
      );
    });

    it("answers the initialize without any challenge (the bug the fork fixes)", async () => {
      const app = await start(
        upstreamApp,
        stateless,
        `fastmcp-upstream-${mode}`,
      );
      const response = await sendReportedInitialize(app.url);

      expect(response.status).toBe(401);
      expect(fieldValues(response, "WWW-Authenticate")).toEqual([]);
    });
  },
);

describe("afterwards", () => {
  it("leaves no process and no port behind", async () => {
    await stopAll();

    for (const app of apps) {
      expect(app.child.exitCode ?? app.child.signalCode).not.toBeNull();
      expect(await waitForPortClosed(app.port)).toBe(true);
    }
  });
});
