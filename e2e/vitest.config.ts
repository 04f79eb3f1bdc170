// `npm run test:e2e`: real consumers against the fork, on loopback only.
// Separate from the unit tests: slow installs, child processes, a browser.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Files one after another: each starts servers and child processes, and
    // the machine has two cores.
    fileParallelism: false,
    globalSetup: ["e2e/globalSetup.ts"],
    hookTimeout: 300_000,
    include: ["e2e/**/*.e2e.test.ts"],
    root: fileURLToPath(new URL("..", import.meta.url)),
    teardownTimeout: 30_000,
    // npm installs in the install-route tests take a while.
    testTimeout: 180_000,
  },
});
