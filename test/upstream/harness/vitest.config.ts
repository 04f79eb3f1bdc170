// The configuration `npm run test:upstream` runs mcp-proxy 5.10.0's own tests
// with, copied into `.upstream-tests/project/` beside them. 5.10.0 has no
// vitest configuration, so its defaults apply, with three changes: only the
// test files under src/ run; the timeouts are longer, because its tests start
// `tsx` children and the machines that run this gate are often busy; and
// assertion messages quote values whole, so that an expected failure can name
// the exact value it expects.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    chaiConfig: { truncateThreshold: 0 },
    hookTimeout: 30_000,
    include: ["src/**/*.test.ts"],
    testTimeout: 30_000,
  },
});
