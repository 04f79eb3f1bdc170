// FastMCP 3.22.0's session features through the same unmodified app on the
// packed fork and on upstream 5.10.0: a tool context's sessionId, the client
// capabilities and roots FastMCP learns when a session starts, per-session
// state, and no session start that waits for capabilities. Upstream has them
// all; the fork must keep them.
import { afterAll, describe, expect, inject, it } from "vitest";

import { type FastMCPApp, startFastMCPApp } from "./support/fastmcpApp.js";
import { waitForPortClosed } from "./support/processes.js";
import { UPSTREAM_VERSION } from "./support/projects.js";
import { describeSessionFeatures } from "./support/sessionFeatures.js";

const { forkApp, upstreamApp } = inject("e2e");

const apps = new Set<FastMCPApp>();

const stopAll = async () => {
  await Promise.all([...apps].map((app) => app.stop()));
};

afterAll(stopAll);

const starter =
  (directory: string) => async (stateless: boolean, name: string) => {
    const app = await startFastMCPApp({ directory, name, stateless });
    apps.add(app);
    return app;
  };

describeSessionFeatures({
  directory: upstreamApp,
  label: `FastMCP 3.22.0 on upstream ${UPSTREAM_VERSION}`,
  start: starter(upstreamApp),
});

describeSessionFeatures({
  directory: forkApp,
  label: "FastMCP 3.22.0 on the fork",
  start: starter(forkApp),
});

describe("afterwards", () => {
  it("leaves no process and no port behind", async () => {
    await stopAll();

    for (const app of apps) {
      expect(app.child.exitCode ?? app.child.signalCode).not.toBeNull();
      expect(await waitForPortClosed(app.port)).toBe(true);
    }
  });
});
