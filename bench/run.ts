// `npm run bench`: the fork against upstream mcp-proxy 5.10.0, side by side,
// and against bare `node:http` servers, then the install footprint.
//
// Every server runs in its own child process (bench/server.ts, compiled to
// plain JavaScript and run on bare `node`); autocannon runs in this one. For
// each scenario the servers are started, probed (one request whose answer is
// checked), warmed up, then measured in rounds, interleaved A B C / C B A so
// that drift in the machine's load falls on each alike. Reported: per
// server, the median over the rounds of its req/s, p99 latency and CPU time
// per request; per pair, the median of the per-round ratios. A scenario in
// which any response had an unexpected status (or an error, or a timeout) is
// marked INVALID and gets no ratio.
//
// Environment (defaults in brackets):
//   BENCH_ROUNDS [5]  BENCH_DURATION seconds a round [4]  BENCH_WARMUP s [2]
//   BENCH_CONNECTIONS [16]  BENCH_SCENARIOS [S1,S2,S3,S4]
//   BENCH_STACKS [repo,fastmcp]: the SDK the servers run on: this
//     repo's node_modules, and/or a fastmcp@3.22.0 app's (SDK 1.21.x)
//   BENCH_FOOTPRINT [1]: 0 skips packing, installs and cold start (and so
//     the fastmcp stack)
//   BENCH_CPU_PROF: a directory: servers run with --cpu-prof, one
//     subdirectory each (read them with `npx tsx bench/profile.ts <file>`)
//   BENCH_CPU_PROF_SERVERS [fork]: which servers to profile
//   BENCH_FORK_MODULE, BENCH_UPSTREAM_MODULE: another module in place of
//     dist/index.js or upstream's, in the repo stack (to try a patched build)
//   BENCH_OUTPUT: a file to write the raw results to, as JSON
//   BENCH_CACHE_DIR [<tmpdir>/mcp-proxy-bench]: packed fork, FastMCP apps
import autocannon, { type Result } from "autocannon";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import os from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import ts from "typescript";

import {
  type CannedResponse,
  DYNAMIC_CHALLENGE,
  type Implementation,
  PROTOCOL_VERSION,
  type Scenario,
  SCENARIOS,
  TOKEN,
} from "./common.js";
import {
  cleanEnvironment,
  ensureBuild,
  type Footprint,
  formatFootprint,
  measureFootprint,
  median,
  repoRoot,
} from "./footprint.js";

const numberFromEnvironment = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);

  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`${name} must be a positive number`);
  }

  return value;
};

const config = {
  connections: numberFromEnvironment("BENCH_CONNECTIONS", 16),
  cpuProfileDirectory: process.env.BENCH_CPU_PROF,
  cpuProfileServers: (process.env.BENCH_CPU_PROF_SERVERS ?? "fork").split(","),
  duration: numberFromEnvironment("BENCH_DURATION", 4),
  footprint: process.env.BENCH_FOOTPRINT !== "0",
  rounds: numberFromEnvironment("BENCH_ROUNDS", 5),
  scenarios: (process.env.BENCH_SCENARIOS ?? SCENARIOS.join(","))
    .split(",")
    .map((name) => name.trim().toUpperCase())
    .filter((name): name is Scenario => SCENARIOS.includes(name as Scenario)),
  stacks: (process.env.BENCH_STACKS ?? "repo,fastmcp").split(","),
  warmup: numberFromEnvironment("BENCH_WARMUP", 2),
};

const HOST = "127.0.0.1";

type Stack = {
  fork: Target;
  label: string;
  name: string;
  upstream: Target;
};

/** Where a server's proxy package and its app's SDK come from. */
type Target = { module: string; sdkDirectory: string };

const sdkVersion = (sdkDirectory: string) =>
  (
    JSON.parse(readFileSync(join(sdkDirectory, "package.json"), "utf8")) as {
      version: string;
    }
  ).version;

/** This repository: dist/ and upstream's dev copy, on the SDK it installed. */
const repoStack = (): Stack => {
  const sdkDirectory = join(repoRoot, "node_modules/@modelcontextprotocol/sdk");

  return {
    fork: {
      module: process.env.BENCH_FORK_MODULE ?? join(repoRoot, "dist/index.js"),
      sdkDirectory,
    },
    label: `SDK ${sdkVersion(sdkDirectory)}`,
    name: "repo",
    upstream: {
      module:
        process.env.BENCH_UPSTREAM_MODULE ??
        join(repoRoot, "node_modules/mcp-proxy-upstream/dist/index.js"),
      sdkDirectory,
    },
  };
};

/** The two FastMCP apps the footprint step installed, as installed. */
const fastmcpStack = (footprint: Footprint): Stack | undefined => {
  if (!footprint.fastmcp) {
    return undefined;
  }

  const target = (directory: string): Target => ({
    module: join(directory, "node_modules/mcp-proxy/dist/index.js"),
    sdkDirectory: join(directory, "node_modules/@modelcontextprotocol/sdk"),
  });
  const fork = target(footprint.fastmcp.fork.directory);

  return {
    fork,
    label: `FastMCP app, SDK ${sdkVersion(fork.sdkDirectory)}`,
    name: "fastmcp",
    upstream: target(footprint.fastmcp.upstream.directory),
  };
};

const getFreePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createNetServer();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });

/**
 * bench/server.ts and what it imports, compiled to plain ESM in a temporary
 * directory: the servers run on bare `node`, as in production, without
 * tsx's loader thread and source-map hooks.
 */
const compileServer = () => {
  const directory = mkdtempSync(join(os.tmpdir(), "mcp-proxy-bench-server-"));

  writeFileSync(join(directory, "package.json"), '{"type":"module"}\n');

  for (const name of ["server", "common"]) {
    const source = readFileSync(join(repoRoot, "bench", `${name}.ts`), "utf8");
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
      },
      fileName: `${name}.ts`,
    });
    writeFileSync(join(directory, `${name}.js`), outputText);
  }

  return join(directory, "server.js");
};

let serverScript: string | undefined;

type RunningServer = {
  /** The CPU time (user + system) the server has used so far, in µs. */
  cpu: () => Promise<number>;
  implementation: Implementation;
  port: number;
  stop: () => Promise<void>;
};

const startServer = async ({
  canned,
  implementation,
  scenario,
  target,
}: {
  canned?: CannedResponse;
  implementation: Implementation;
  scenario: Scenario;
  target?: Target;
}): Promise<RunningServer> => {
  const port = await getFreePort();
  const profile =
    config.cpuProfileDirectory &&
    config.cpuProfileServers.includes(implementation)
      ? [
          "--cpu-prof",
          `--cpu-prof-dir=${join(config.cpuProfileDirectory, `${scenario}-${implementation}-${port}`)}`,
        ]
      : [];
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...profile,
      (serverScript ??= compileServer()),
      implementation,
      scenario,
      String(port),
    ],
    {
      cwd: repoRoot,
      env: {
        ...cleanEnvironment(),
        BENCH_CANNED: canned ? JSON.stringify(canned) : "",
        BENCH_PROXY_MODULE: target?.module ?? "",
        BENCH_SDK_DIR: target?.sdkDirectory ?? "",
      },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    },
  );

  // The last 16 KiB of what the server printed, for error messages.
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-16384);
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);

  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => resolve()),
  );
  const label = `${implementation} ${scenario}`;

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${label}: not ready in 30 s\n${output}`)),
      30_000,
    );
    const onData = () => {
      if (output.includes("READY\n")) {
        clearTimeout(timer);
        child.stdout!.off("data", onData);
        resolve();
      }
    };
    child.stdout!.on("data", onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${label}: exited\n${output}`));
    });
  });

  return {
    cpu: () =>
      new Promise<number>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${label}: no CPU time in 5 s\n${output}`)),
          5000,
        );
        child.once("message", (message) => {
          clearTimeout(timer);
          resolve((message as { cpuMicroseconds: number }).cpuMicroseconds);
        });
        child.send("cpu");
      }),
    implementation,
    port,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(killer);
      }
    },
  };
};

type LoadRequest = {
  body: string;
  headers: Record<string, string>;
};

const jsonRpc = (method: string, params?: unknown, id?: number) =>
  JSON.stringify({ id, jsonrpc: "2.0", method, params });

const BASE_HEADERS = {
  accept: "application/json, text/event-stream",
  "content-type": "application/json",
};

const TOOL_CALL = jsonRpc(
  "tools/call",
  { arguments: { text: "hi" }, name: "echo" },
  1,
);

/** Opens one MCP session (initialize, then initialized); returns its id. */
const initializeSession = async (port: number) => {
  const url = `http://${HOST}:${port}/mcp`;
  const response = await fetch(url, {
    body: jsonRpc(
      "initialize",
      {
        capabilities: {},
        clientInfo: { name: "bench", version: "1.0.0" },
        protocolVersion: PROTOCOL_VERSION,
      },
      0,
    ),
    headers: BASE_HEADERS,
    method: "POST",
  });
  const text = await response.text();
  const sessionId = response.headers.get("mcp-session-id");

  if (response.status !== 200 || !sessionId) {
    throw new Error(`initialize answered ${response.status}: ${text}`);
  }

  const initialized = await fetch(url, {
    body: jsonRpc("notifications/initialized"),
    headers: {
      ...BASE_HEADERS,
      "mcp-protocol-version": PROTOCOL_VERSION,
      "mcp-session-id": sessionId,
    },
    method: "POST",
  });
  await initialized.text();

  if (initialized.status !== 202) {
    throw new Error(`notifications/initialized answered ${initialized.status}`);
  }

  return sessionId;
};

/** The request autocannon sends in a scenario, to one server. */
const loadRequest = async (
  scenario: Scenario,
  port: number,
): Promise<LoadRequest> => {
  switch (scenario) {
    case "S1":
      return {
        body: TOOL_CALL,
        headers: { ...BASE_HEADERS, authorization: "Bearer wrong-token" },
      };
    case "S2":
      return { body: TOOL_CALL, headers: BASE_HEADERS };
    case "S3":
      return {
        body: TOOL_CALL,
        headers: {
          ...BASE_HEADERS,
          authorization: `Bearer ${TOKEN}`,
          "mcp-protocol-version": PROTOCOL_VERSION,
        },
      };
    case "S4":
      return {
        body: jsonRpc("tools/list", {}, 1),
        headers: {
          ...BASE_HEADERS,
          "mcp-protocol-version": PROTOCOL_VERSION,
          "mcp-session-id": await initializeSession(port),
        },
      };
  }
};

const EXPECTED_STATUS: Record<Scenario, number> = {
  S1: 401,
  S2: 401,
  S3: 200,
  S4: 200,
};

// Headers Node adds by itself: the bare servers must not send them twice.
const NODE_HEADERS = new Set([
  "connection",
  "content-length",
  "date",
  "keep-alive",
  "transfer-encoding",
]);

/**
 * Sends the scenario's request once and checks the answer: its status, and
 * what shows that the server did the scenario's work. Returns the response,
 * for the bare servers to replay.
 */
const probe = async (
  scenario: Scenario,
  server: RunningServer,
  request: LoadRequest,
): Promise<CannedResponse> => {
  const response = await fetch(`http://${HOST}:${server.port}/mcp`, {
    body: request.body,
    headers: request.headers,
    method: "POST",
  });
  const body = await response.text();
  const headers: Record<string, string> = {};

  response.headers.forEach((value, name) => {
    if (!NODE_HEADERS.has(name)) {
      headers[name] = value;
    }
  });

  const problems: string[] = [];

  if (response.status !== EXPECTED_STATUS[scenario]) {
    problems.push(`status ${response.status}`);
  }

  if (
    scenario === "S1" &&
    server.implementation !== "upstream" &&
    response.headers.get("www-authenticate") !== DYNAMIC_CHALLENGE
  ) {
    problems.push(
      `WWW-Authenticate ${response.headers.get("www-authenticate")}`,
    );
  }

  if (scenario === "S3" && !body.includes('"text":"hi"')) {
    problems.push("no tool result");
  }

  if (scenario === "S4" && !body.includes('"name":"echo"')) {
    problems.push("no tool list");
  }

  if (problems.length > 0) {
    throw new Error(
      `${server.implementation} ${scenario}: unexpected answer (${problems.join(", ")}): ${body.slice(0, 500)}`,
    );
  }

  return { body, headers, status: response.status };
};

const load = (
  server: RunningServer,
  request: LoadRequest,
  duration: number,
): Promise<Result> =>
  autocannon({
    body: request.body,
    connections: config.connections,
    duration,
    headers: request.headers,
    method: "POST",
    pipelining: 1,
    url: `http://${HOST}:${server.port}/mcp`,
  });

type Measurements = {
  /** Responses whose status was not the expected one, errors, timeouts. */
  bad: number;
  /** Server CPU time (user + system) per response, µs, each round. */
  cpuPerRequest: number[];
  p99: number[];
  requests: number;
  rps: number[];
};

type SeriesResult = {
  error?: string;
  measurements: Partial<Record<Implementation, Measurements>>;
  scenario: Scenario;
  stack: string;
};

const unexpectedResponses = (scenario: Scenario, result: Result) => {
  const good =
    result.statusCodeStats[String(EXPECTED_STATUS[scenario])]?.count ?? 0;
  const responses = Object.values(result.statusCodeStats).reduce(
    (sum, { count }) => sum + count,
    0,
  );

  return responses - good + result.errors + result.timeouts;
};

/** The servers of one scenario on one stack, measured in rounds. */
const runSeries = async (
  scenario: Scenario,
  stack: Stack,
): Promise<SeriesResult> => {
  const servers: RunningServer[] = [];
  const requests = new Map<RunningServer, LoadRequest>();
  const series: SeriesResult = {
    measurements: {},
    scenario,
    stack: stack.name,
  };

  const add = async (server: RunningServer) => {
    servers.push(server);
    const request = await loadRequest(scenario, server.port);
    requests.set(server, request);

    return probe(scenario, server, request);
  };

  try {
    const forkAnswer = await add(
      await startServer({
        implementation: "fork",
        scenario,
        target: stack.fork,
      }),
    );
    await add(
      await startServer({
        implementation: "upstream",
        scenario,
        target: stack.upstream,
      }),
    );

    // The ceilings replay the fork's 401 byte for byte. S1's answer carries
    // the request's id, so S1 also gets a ceiling that reads the body first.
    const ceilings: Implementation[] =
      scenario === "S1"
        ? ["bare", "bare-body"]
        : scenario === "S2"
          ? ["bare"]
          : [];

    for (const implementation of ceilings) {
      await add(
        await startServer({ canned: forkAnswer, implementation, scenario }),
      );
    }

    for (const server of servers) {
      await load(server, requests.get(server)!, config.warmup);
    }

    for (let round = 0; round < config.rounds; round++) {
      const order = round % 2 === 0 ? servers : [...servers].reverse();

      for (const server of order) {
        const cpuBefore = await server.cpu();
        const result = await load(
          server,
          requests.get(server)!,
          config.duration,
        );
        const cpu = (await server.cpu()) - cpuBefore;
        const responses = Math.max(1, result.requests.total);
        const measurements = (series.measurements[server.implementation] ??= {
          bad: 0,
          cpuPerRequest: [],
          p99: [],
          requests: 0,
          rps: [],
        });

        measurements.bad += unexpectedResponses(scenario, result);
        measurements.cpuPerRequest.push(cpu / responses);
        measurements.requests += result.requests.total;
        measurements.rps.push(result.requests.total / result.duration);
        measurements.p99.push(result.latency.p99);
        process.stderr.write(
          `[bench] ${scenario} ${stack.name} round ${round + 1}/${config.rounds} ${server.implementation}: ${Math.round(result.requests.total / result.duration)} req/s, p99 ${result.latency.p99} ms, ${Math.round(cpu / responses)} µs CPU/req\n`,
        );
        await delay(250);
      }
    }
  } catch (error) {
    series.error = error instanceof Error ? error.message : String(error);
    process.stderr.write(
      `[bench] ${scenario} ${stack.name}: ${series.error}\n`,
    );
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }

  return series;
};

/** The median of the per-round ratios a[key] / b[key]. */
const medianRatio = (
  key: "cpuPerRequest" | "rps",
  a?: Measurements,
  b?: Measurements,
) =>
  a && b && a[key].length === b[key].length
    ? median(a[key].map((value, index) => value / b[key][index]))
    : undefined;

/**
 * How `a` fares against `b`, each ratio read "higher is better for a": a's
 * throughput over b's, and b's CPU time per request over a's.
 */
const versus = (a?: Measurements, b?: Measurements) => {
  const cpu = medianRatio("cpuPerRequest", b, a);
  const rps = medianRatio("rps", a, b);
  const format = (value?: number) =>
    value === undefined ? "" : value.toFixed(2);

  return { cpu: format(cpu), rps: format(rps) };
};

const SCENARIO_LABELS: Record<Scenario, string> = {
  S1: "S1 stateless POST, `authenticate` → 401 + dynamic challenge",
  S2: "S2 API key missing → 401",
  S3: "S3 stateless authenticated `tools/call` (JSON)",
  S4: "S4 stateful `tools/list` on one session (JSON)",
};

const rps = (m?: Measurements) =>
  m ? Math.round(median(m.rps)).toLocaleString("en-US") : "";
const p99 = (m?: Measurements) => (m ? median(m.p99).toFixed(1) : "");
const cpu = (m?: Measurements) =>
  m ? Math.round(median(m.cpuPerRequest)).toLocaleString("en-US") : "";

const escapeCell = (text: string) => text.split("\n")[0].replaceAll("|", "\\|");

/** fork against upstream, one row a scenario and stack. */
const formatVersusUpstream = (series: SeriesResult[], stacks: Stack[]) => {
  const lines = [
    "| scenario | stack | req/s fork | req/s upstream | p99 ms fork | p99 ms upstream | CPU µs/req fork | CPU µs/req upstream | **fork/upstream req/s** | **fork/upstream CPU** |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];

  for (const { error, measurements, scenario, stack } of series) {
    const stackLabel =
      stacks.find((entry) => entry.name === stack)?.label ?? stack;
    const { fork, upstream } = measurements;

    if (error) {
      lines.push(
        `| ${SCENARIO_LABELS[scenario]} | ${stackLabel} | **FAILED**: ${escapeCell(error)} ||||||||`,
      );
      continue;
    }

    const invalid = Object.entries(measurements)
      .filter(([, m]) => m.bad > 0)
      .map(([name, m]) => `${name}: ${m.bad} of ${m.requests} unexpected`);
    const ratios =
      invalid.length > 0 ? { cpu: "—", rps: "—" } : versus(fork, upstream);
    const verdict =
      invalid.length > 0 ? ` **INVALID** (${invalid.join("; ")})` : "";

    lines.push(
      `| ${SCENARIO_LABELS[scenario]}${verdict} | ${stackLabel} | ${rps(fork)} | ${rps(upstream)} | ${p99(fork)} | ${p99(upstream)} | ${cpu(fork)} | ${cpu(upstream)} | **${ratios.rps}** | **${ratios.cpu}** |`,
    );
  }

  return lines.join("\n");
};

/** fork and upstream against the bare ceilings (S1, S2). */
const formatVersusBare = (series: SeriesResult[]) => {
  const lines = [
    "| scenario | ceiling | req/s | CPU µs/req | **fork/ceiling req/s** | **fork/ceiling CPU** | upstream/ceiling req/s | upstream/ceiling CPU |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
  ];
  const labels: Partial<Record<Implementation, string>> = {
    bare: "bare `node:http`, same 401",
    "bare-body": "bare `node:http`, same 401 after reading + parsing the body",
  };

  for (const { error, measurements, scenario } of series) {
    for (const implementation of ["bare", "bare-body"] as const) {
      const ceiling = measurements[implementation];

      if (error || !ceiling) {
        continue;
      }

      const invalid = Object.values(measurements).some((m) => m.bad > 0);
      const fork = invalid
        ? { cpu: "—", rps: "—" }
        : versus(measurements.fork, ceiling);
      const upstream = invalid
        ? { cpu: "—", rps: "—" }
        : versus(measurements.upstream, ceiling);

      lines.push(
        `| ${SCENARIO_LABELS[scenario]}${invalid ? " **INVALID**" : ""} | ${labels[implementation]} | ${rps(ceiling)} | ${cpu(ceiling)} | **${fork.rps}** | **${fork.cpu}** | ${upstream.rps} | ${upstream.cpu} |`,
      );
    }
  }

  return lines.length > 2 ? lines.join("\n") : undefined;
};

const cpuModel = () => {
  try {
    return (
      /^model name\s*:\s*(.*)$/m.exec(
        readFileSync("/proc/cpuinfo", "utf8"),
      )?.[1] ?? os.cpus()[0]?.model
    );
  } catch {
    return os.cpus()[0]?.model;
  }
};

const main = async () => {
  const started = Date.now();
  const loadBefore = os.loadavg();

  ensureBuild();

  let footprint: Footprint | undefined;

  if (config.footprint) {
    process.stderr.write(
      "[bench] footprint: packing, installing two FastMCP apps, CLI cold start\n",
    );
    footprint = await measureFootprint();
  }

  const stacks: Stack[] = [];

  for (const name of config.stacks) {
    if (name === "repo") {
      stacks.push(repoStack());
    } else if (name === "fastmcp") {
      const stack = footprint && fastmcpStack(footprint);

      if (stack) {
        stacks.push(stack);
      } else {
        process.stderr.write(
          "[bench] no fastmcp stack: it needs the footprint step (BENCH_FOOTPRINT=1) and its installs\n",
        );
      }
    }
  }

  const series: SeriesResult[] = [];

  try {
    for (const scenario of config.scenarios) {
      // S1 and S2 answer before the SDK's transport is reached, but the
      // fork is measured on each SDK an app may hold all the same.
      for (const stack of stacks) {
        series.push(await runSeries(scenario, stack));
      }
    }
  } finally {
    if (serverScript) {
      rmSync(join(serverScript, ".."), { force: true, recursive: true });
    }
  }

  const loadAfter = os.loadavg();
  const versusBare = formatVersusBare(series);

  const report = [
    `## Throughput: ${config.rounds} rounds × ${config.duration} s after a ${config.warmup} s warm-up, ${config.connections} connections, pipelining 1`,
    "",
    formatVersusUpstream(series, stacks),
    "",
    ...(versusBare ? [versusBare, ""] : []),
    "req/s, p99 and CPU µs/req (the server process's user + system CPU time divided by the responses it sent) are medians over the rounds; ratios are medians of the per-round ratios, each read so that higher is better for the fork (or upstream): its req/s over the other's, and the other's CPU µs/req over its own. On a shared machine the CPU ratio is the steadier one: other processes change how much CPU a server gets, not how much it needs per request.",
    ...(footprint ? ["", "## Footprint", "", formatFootprint(footprint)] : []),
    "",
    "## Machine",
    "",
    `- ${os.cpus().length} CPUs (${cpuModel()}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}`,
    `- Node ${process.version}`,
    `- load average before ${loadBefore.map((value) => value.toFixed(2)).join(" ")}, after ${loadAfter.map((value) => value.toFixed(2)).join(" ")}`,
    `- ran ${((Date.now() - started) / 60_000).toFixed(1)} min`,
  ].join("\n");

  console.log(report);

  if (process.env.BENCH_OUTPUT) {
    writeFileSync(
      process.env.BENCH_OUTPUT,
      `${JSON.stringify({ config, footprint, loadAfter, loadBefore, series }, null, 2)}\n`,
    );
  }

  if (series.some((entry) => entry.error)) {
    process.exitCode = 1;
  }
};

await main();
