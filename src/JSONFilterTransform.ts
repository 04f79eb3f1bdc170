import { Transform, type TransformCallback } from "node:stream";
import { StringDecoder } from "node:string_decoder";

const looksLikeJSONObject = (line: string) => line.trim().startsWith("{");

// One warning per chunk, with every line dropped (blank ones too), as 5.10.0
// warns: log watchers may match on it.
const warnIgnored = (lines: string[]) => {
  if (lines.length > 0) {
    console.warn("[mcp-proxy] ignoring non-JSON output", lines);
  }
};

/**
 * Passes through only the lines of a byte stream that look like JSON objects,
 * so that a child process writing logs to stdout cannot break the
 * newline-delimited JSON-RPC read from it. Other lines are dropped with a
 * warning; a last line that is not JSON is dropped silently at the end.
 */
export class JSONFilterTransform extends Transform {
  // Decodes across chunk boundaries, which may split a multi-byte character.
  readonly #decoder = new StringDecoder("utf8");
  #partialLine = "";

  _flush(callback: TransformCallback) {
    const rest = this.#partialLine + this.#decoder.end();

    this.#partialLine = "";

    if (looksLikeJSONObject(rest)) {
      callback(null, Buffer.from(rest));
    } else {
      callback();
    }
  }

  _transform(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: TransformCallback,
  ) {
    const lines = (this.#partialLine + this.#decoder.write(chunk)).split("\n");

    this.#partialLine = lines.pop() ?? "";

    const kept = lines.filter(looksLikeJSONObject);

    warnIgnored(lines.filter((line) => !looksLikeJSONObject(line)));

    callback(
      null,
      kept.length > 0 ? Buffer.from(kept.join("\n") + "\n") : undefined,
    );
  }
}
