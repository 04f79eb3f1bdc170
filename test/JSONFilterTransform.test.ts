import { finished } from "node:stream/promises";
import { afterEach, describe, expect, it, vi } from "vitest";

import { JSONFilterTransform } from "../src/JSONFilterTransform.js";

/** Writes `chunks` through a filter; returns its output and the warnings. */
const filter = async (chunks: (Buffer | string)[]) => {
  const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
  const transform = new JSONFilterTransform();
  const output: Buffer[] = [];

  transform.on("data", (chunk: Buffer) => output.push(chunk));
  for (const chunk of chunks) {
    transform.write(chunk);
  }
  transform.end();
  await finished(transform);

  return {
    output: Buffer.concat(output).toString(),
    warned: warn.mock.calls,
  };
};

const WARNING = "[mcp-proxy] ignoring non-JSON output";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("JSONFilterTransform", () => {
  it.each([
    {
      chunks: ['{"a":1}\n'],
      name: "a JSON line passes unchanged",
      output: '{"a":1}\n',
      warned: [],
    },
    {
      chunks: ['starting up\n{"a":1}\nready\n{"b":2}\n'],
      name: "log lines are dropped with one warning per chunk",
      output: '{"a":1}\n{"b":2}\n',
      warned: [[WARNING, ["starting up", "ready"]]],
    },
    {
      chunks: ['{"a":', '1}\n{"b"', ":2}\n"],
      name: "lines split across chunks are reassembled",
      output: '{"a":1}\n{"b":2}\n',
      warned: [],
    },
    {
      chunks: ['  {"a":1}\r\n'],
      name: "leading whitespace and CR are kept as written",
      output: '  {"a":1}\r\n',
      warned: [],
    },
    {
      chunks: ['[{"a":1}]\n'],
      name: "batches (arrays) are dropped",
      output: "",
      warned: [[WARNING, ['[{"a":1}]']]],
    },
    {
      chunks: ['{"a":1}\n{"b":2}'],
      name: "a JSON last line without newline is flushed as is",
      output: '{"a":1}\n{"b":2}',
      warned: [],
    },
    {
      chunks: ['{"a":1}\nbye'],
      name: "a non-JSON last line is dropped silently at the end",
      output: '{"a":1}\n',
      warned: [],
    },
    {
      chunks: ['\n  \n{"a":1}\n\n'],
      name: "blank lines are dropped and named in the warning, as in 5.10.0",
      output: '{"a":1}\n',
      warned: [[WARNING, ["", "  ", ""]]],
    },
  ])("$name", async ({ chunks, output, warned }) => {
    expect(await filter(chunks)).toEqual({ output, warned });
  });

  it("keeps a multi-byte character split across chunks intact", async () => {
    const bytes = Buffer.from('{"text":"héllo 🌍"}\n');
    const cuts = [8, 16, 17, 18];
    const chunks = [0, ...cuts].map((start, index) =>
      bytes.subarray(start, cuts[index]),
    );

    expect(await filter(chunks)).toEqual({
      output: '{"text":"héllo 🌍"}\n',
      warned: [],
    });
  });
});
