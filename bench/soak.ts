/**
 * Soak: the load scenarios of test/concurrency.test.ts and test/leaks.test.ts
 * (test/stress-helpers.ts) at 10-100x the counts CI runs, one after another
 * against a fresh server each, printing what each leaves behind.
 *
 *   npx tsx bench/soak.ts                       # the soak (minutes)
 *   npx tsx bench/soak.ts --stateless 5000 --stateful 500 --sse 200 --auth 0
 *   npx tsx bench/soak.ts --json                # one JSON line, for tests
 *
 * Exits 1 when a scenario leaves sessions, sockets or servers behind, sees a
 * 5xx or a wrong answer, or the heap grows by more than --maxHeapGrowth MiB.
 * Figures are counts and bytes; time is printed but never judged.
 */
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

import {
  authScenario,
  type ScenarioFigures,
  sseScenario,
  statefulScenario,
  statelessScenario,
} from "../test/stress-helpers.js";

const { values } = parseArgs({
  options: {
    auth: { default: "20000", type: "string" },
    concurrency: { default: "100", type: "string" },
    json: { default: false, type: "boolean" },
    maxHeapGrowth: { default: "32", type: "string" },
    sse: { default: "3000", type: "string" },
    stateful: { default: "5000", type: "string" },
    stateless: { default: "50000", type: "string" },
    verbose: { default: false, type: "boolean" },
  },
});

const count = (name: keyof typeof values) => {
  const value = Number(values[name]);

  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`--${name} must be a whole number`);
  }

  return value;
};

// Heap figures need a collector to call: without --expose-gc, turn it on.
if (!(globalThis as { gc?: unknown }).gc) {
  setFlagsFromString("--expose-gc");
  (globalThis as { gc?: unknown }).gc = runInNewContext("gc");
}

// The server logs every session it opens and closes; the figures are the
// point here (--verbose keeps the logs).
if (!values.verbose) {
  for (const method of ["error", "info", "log", "warn"] as const) {
    console[method] = () => {};
  }
}

const concurrency = count("concurrency");

const scenarios: [string, number, () => Promise<ScenarioFigures>][] = [
  [
    "stateless requests",
    count("stateless"),
    () => statelessScenario({ concurrency, count: count("stateless") }),
  ],
  [
    "stateful sessions",
    count("stateful"),
    () => statefulScenario({ concurrency, sessions: count("stateful") }),
  ],
  [
    "SSE sessions",
    count("sse"),
    () => sseScenario({ concurrency, sessions: count("sse") }),
  ],
  [
    "auth mix (half 401/403)",
    count("auth"),
    () => authScenario({ concurrency, count: count("auth") }),
  ],
];

const MiB = 1024 * 1024;
const mib = (bytes = 0) => `${(bytes / MiB).toFixed(1)} MiB`;
const maxHeapGrowth = count("maxHeapGrowth") * MiB;

type Result = {
  count: number;
  heapGrowth: number;
  ok: boolean;
  scenario: string;
  seconds: number;
} & ScenarioFigures;

const results: Result[] = [];

// A small round first, so that module loading and JIT warm-up are not
// counted as growth.
await statelessScenario({ concurrency: 10, count: 50 });
await statefulScenario({
  concurrency: 10,
  sessionIdleTimeout: 100,
  sessions: 10,
});
await sseScenario({ concurrency: 10, sessions: 10 });
await authScenario({ concurrency: 10, count: 50 });

for (const [scenario, size, run] of scenarios) {
  if (size === 0) {
    continue;
  }

  const started = performance.now();
  const figures = await run();
  const heapGrowth = (figures.heapAfter ?? 0) - (figures.heapBefore ?? 0);

  const ok =
    figures.failures === 0 &&
    figures.onClose === figures.onConnect &&
    figures.sessionsStillOpen === 0 &&
    figures.socketsAfter <= figures.socketsBefore &&
    figures.serversAlive === 0 &&
    figures.transportsAlive === 0 &&
    heapGrowth < maxHeapGrowth;

  const result = {
    ...figures,
    count: size,
    heapGrowth,
    ok,
    scenario,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
  results.push(result);

  if (!values.json) {
    const fivexx = Object.entries(figures.statuses)
      .filter(([status]) => Number(status) >= 500)
      .reduce((sum, [, n]) => sum + n, 0);

    process.stdout.write(
      [
        `${ok ? "ok  " : "FAIL"} ${scenario}: ${size}`,
        `  requests ${figures.requests}, statuses ${JSON.stringify(figures.statuses)}, 5xx ${fivexx}, wrong answers ${figures.failures}`,
        `  onConnect ${figures.onConnect}, onClose ${figures.onClose}, sessions still open ${figures.sessionsStillOpen}`,
        `  sockets before ${figures.socketsBefore}, after ${figures.socketsAfter}; servers alive after GC ${figures.serversAlive}, transports ${figures.transportsAlive}`,
        `  heap after GC: before ${mib(figures.heapBefore)}, after ${mib(figures.heapAfter)} (growth ${mib(heapGrowth)}); RSS ${mib(figures.rss)}`,
        `  ${result.seconds} s`,
        "",
      ].join("\n"),
    );
  }
}

const handles = process.getActiveResourcesInfo();

if (values.json) {
  process.stdout.write(`${JSON.stringify({ handles, results })}\n`);
} else {
  process.stdout.write(
    `open handles at the end: ${JSON.stringify(
      Object.fromEntries(
        [...new Set(handles)].map((name) => [
          name,
          handles.filter((handle) => handle === name).length,
        ]),
      ),
    )}\n`,
  );
}

process.exitCode = results.every((result) => result.ok) ? 0 : 1;
