// Builds dist/ once before any test file runs, when it is missing or older
// than the sources: the CLI and type tests run the built package, and two
// files building at once would empty dist/ under each other.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

const newestModification = (paths: string[]) =>
  Math.max(...paths.map((path) => statSync(path).mtimeMs));

export default function setup() {
  const outputs = [
    "dist/index.js",
    "dist/index.d.ts",
    "dist/bin/mcp-proxy.js",
  ].map((path) => join(root, path));
  const sources = [
    join(root, "tsup.config.ts"),
    join(root, "package.json"),
    ...readdirSync(join(root, "src"), { recursive: true })
      .map((entry) => join(root, "src", String(entry)))
      .filter((path) => statSync(path).isFile()),
  ];

  const stale =
    !outputs.every((path) => existsSync(path)) ||
    Math.min(...outputs.map((path) => statSync(path).mtimeMs)) <
      newestModification(sources);

  if (stale) {
    execFileSync("npx", ["tsup"], { cwd: root, stdio: "inherit" });
  }
}
