// `npm start`'s demo server, run as a real child process, shows the fix:
// the reported scenario's initialize without a token (docs/contract.md §1)
// gets the callback's challenge.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { afterEach, expect, it } from "vitest";

import { getFreePort, initializeRequest, streamHeaders } from "./helpers.js";

let child: ChildProcess | undefined;

afterEach(async () => {
  if (child && child.exitCode === null) {
    child.kill();
    await once(child, "exit");
  }
});

const startDemo = async () => {
  const port = await getFreePort();

  child = spawn(process.execPath, ["--import", "tsx", "demo/server.ts"], {
    env: { ...process.env, PORT: String(port) },
    stdio: ["ignore", "pipe", "inherit"],
  });

  await new Promise<void>((resolve, reject) => {
    let output = "";
    child!.once("exit", () => reject(new Error(`demo exited: ${output}`)));
    child!.stdout!.on("data", (chunk) => {
      output += chunk;
      if (output.includes("MCP demo server on")) {
        resolve();
      }
    });
  });

  return `http://127.0.0.1:${port}`;
};

it("answers the reported scenario's initialize with the callback's challenge, and works with the token", async () => {
  const url = await startDemo();
  const port = new URL(url).port;
  const initialize = (headers: Record<string, string> = {}) =>
    fetch(`${url}/mcp`, {
      body: JSON.stringify(initializeRequest(1)),
      headers: { ...streamHeaders, ...headers },
      method: "POST",
    });

  const denied = await initialize();
  expect(denied.status).toBe(401);
  expect(denied.headers.get("content-type")).toBe("application/json");
  expect(denied.headers.get("www-authenticate")).toBe(
    `Bearer realm="MCP Server", resource_metadata="http://localhost:${port}/.well-known/oauth-protected-resource/mcp"`,
  );
  expect(await denied.json()).toEqual({
    error: { code: -32000, message: "Missing token" },
    id: 1,
    jsonrpc: "2.0",
  });

  const badToken = await initialize({ Authorization: "Bearer nope" });
  expect(badToken.status).toBe(401);
  expect(badToken.headers.get("www-authenticate")).toMatch(
    /, error="invalid_token", error_description="Unknown token"$/,
  );

  const allowed = await initialize({ Authorization: "Bearer demo-token" });
  expect(allowed.status).toBe(200);

  const metadata = await fetch(
    `${url}/.well-known/oauth-protected-resource/mcp`,
  );
  expect(await metadata.json()).toMatchObject({
    resource: `http://localhost:${port}/mcp`,
  });
});
