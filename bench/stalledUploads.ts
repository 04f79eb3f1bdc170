/**
 * What unauthenticated uploads cost the server: clients without credentials
 * each announce a body just under `maxBodySize` (10 MiB), send most of it,
 * and stall. Each server, the fork's and upstream 5.10.0's, runs in a child
 * process of its own with an `authenticate` that refuses everyone; this
 * prints the child's resident memory before and with the uploads stalled,
 * and how many got their 401.
 *
 *   npm run bench:stalled                      # 60 uploads of 9 MiB
 *   npx tsx bench/stalledUploads.ts --uploads 20 --mib 5
 *
 * Figures only, never judged: the fork reads at most 64 KiB of a request
 * that failed authentication, upstream reads every byte before it asks.
 */
import { fork } from "node:child_process";
import { connect, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { getFreePort } from "../test/helpers.js";

const SIDES = ["fork", "upstream"] as const;

type Side = (typeof SIDES)[number];

const { values } = parseArgs({
  options: {
    child: { type: "string" },
    mib: { default: "9", type: "string" },
    settle: { default: "15000", type: "string" },
    uploads: { default: "60", type: "string" },
  },
});

const MiB = 1024 * 1024;

const measure = async (side: Side) => {
  const port = await getFreePort();
  const child = fork(fileURLToPath(import.meta.url), ["--child", side], {
    env: { ...process.env, STALLED_PORT: String(port) },
    execArgv: ["--import", "tsx"],
  });
  const rss = () =>
    new Promise<number>((resolve) => {
      child.once("message", (message) => resolve(Number(message)));
      child.send("rss");
    });

  await new Promise((resolve) => child.once("message", resolve));
  const before = await rss();

  const total = Number(values.uploads);
  const chunk = Buffer.alloc(MiB, "a");
  const sockets: Socket[] = [];
  let answered = 0;

  for (let index = 0; index < total; index += 1) {
    const socket = connect(port, "127.0.0.1");
    socket.on("error", () => {});
    socket.once("data", () => {
      answered += 1;
    });
    socket.write(
      "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
        `Accept: application/json, text/event-stream\r\nContent-Length: ${10 * MiB - 1}\r\n\r\n`,
    );
    for (let sent = 0; sent < Number(values.mib); sent += 1) {
      socket.write(chunk);
    }
    sockets.push(socket);
  }

  // Until every upload has its answer, or --settle ms have passed.
  const deadline = Date.now() + Number(values.settle);
  while (answered < total && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const during = await rss();

  for (const socket of sockets) {
    socket.destroy();
  }
  child.kill();

  return { answered, before, during, side, total };
};

if (values.child) {
  // The child: one server that refuses everyone; it reports its RSS when
  // asked.
  const side = values.child as Side;
  const port = Number(process.env.STALLED_PORT);
  const { startHTTPServer } = (await import(
    side === "fork" ? "../dist/index.js" : "mcp-proxy-upstream"
  )) as typeof import("../src/index.js");
  const { Server } = await import("@modelcontextprotocol/sdk/server/index.js");

  await startHTTPServer({
    authenticate: async () => ({ authenticated: false }),
    createServer: async () =>
      new Server({ name: "stalled", version: "1.0.0" }, { capabilities: {} }),
    host: "127.0.0.1",
    port,
    stateless: true,
  });

  process.on("message", () => {
    process.send?.(process.memoryUsage().rss);
  });
  process.send?.("ready");
} else {
  console.log(
    `${values.uploads} uploads without credentials, each announcing ${10 * MiB - 1} bytes, sending ${values.mib} MiB, then stalling:\n`,
  );
  console.log(
    "| server | RSS before | RSS with the uploads stalled | 401s sent |",
  );
  console.log("|---|---:|---:|---:|");

  for (const side of SIDES) {
    const { answered, before, during, total } = await measure(side);
    console.log(
      `| ${side} | ${(before / MiB).toFixed(0)} MiB | ${(during / MiB).toFixed(0)} MiB | ${answered} of ${total} |`,
    );
  }
}
