import { defineConfig } from "tsup";

export default defineConfig({
  clean: true,
  dts: { entry: "src/index.ts" },
  entry: ["src/index.ts", "src/bin/mcp-proxy.ts"],
  format: ["esm"],
  sourcemap: true,
  splitting: true,
  target: "node20",
});
