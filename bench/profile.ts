// Summarises a V8 CPU profile (`node --cpu-prof`, or BENCH_CPU_PROF=<dir>
// with `npm run bench`): the functions with the most self time, and the
// most total (inclusive) time, each with its file and line.
//
//   npx tsx bench/profile.ts <file.cpuprofile> [top=25]
import { readFileSync } from "node:fs";

type Profile = {
  endTime: number;
  nodes: ProfileNode[];
  samples: number[];
  startTime: number;
  timeDeltas: number[];
};

type ProfileNode = {
  callFrame: {
    columnNumber: number;
    functionName: string;
    lineNumber: number;
    url: string;
  };
  children?: number[];
  id: number;
};

const [file, topText = "25"] = process.argv.slice(2);

if (!file) {
  console.error("usage: bench/profile.ts <file.cpuprofile> [top]");
  process.exit(2);
}

// Piped into `head`: stop quietly when the reader goes.
process.stdout.on("error", () => process.exit(0));

const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const top = Number(topText);

const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parents = new Map<number, number>();

for (const node of profile.nodes) {
  for (const child of node.children ?? []) {
    parents.set(child, node.id);
  }
}

const label = ({ callFrame }: ProfileNode) => {
  const url = callFrame.url
    .replace(/^file:\/\//, "")
    .replace(/^.*\/node_modules\//, "~/");

  return `${callFrame.functionName || "(anonymous)"} ${url}:${callFrame.lineNumber + 1}`;
};

// Self time per sampled node; a sample's delta belongs to the next sample.
const selfTime = new Map<number, number>();

profile.samples.forEach((id, index) => {
  const delta = profile.timeDeltas[index + 1] ?? 0;
  selfTime.set(id, (selfTime.get(id) ?? 0) + delta);
});

const total = [...selfTime.values()].reduce((sum, value) => sum + value, 0);
const self = new Map<string, number>();
const inclusive = new Map<string, number>();

for (const [id, time] of selfTime) {
  self.set(
    label(nodes.get(id)!),
    (self.get(label(nodes.get(id)!)) ?? 0) + time,
  );

  // Every distinct function on the stack gets the time once.
  const seen = new Set<string>();

  for (
    let current: number | undefined = id;
    current !== undefined;
    current = parents.get(current)
  ) {
    const name = label(nodes.get(current)!);

    if (!seen.has(name)) {
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + time);
    }
  }
}

const print = (title: string, times: Map<string, number>) => {
  console.log(`\n${title} (of ${(total / 1000).toFixed(0)} ms sampled)`);

  for (const [name, time] of [...times]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)) {
    console.log(
      `${((100 * time) / total).toFixed(1).padStart(5)}%  ${(time / 1000).toFixed(0).padStart(6)} ms  ${name}`,
    );
  }
};

print("self time", self);
print("total time", inclusive);
