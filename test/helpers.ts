import { createServer } from "node:net";

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export const getFreePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") {
          resolve(address.port);
        } else {
          reject(new Error("could not get a free port"));
        }
      });
    });
  });

/** The `initialize` request an MCP client sends first. */
export const initializeRequest = (id: number | string = 1) => ({
  id,
  jsonrpc: "2.0",
  method: "initialize",
  params: {
    capabilities: {},
    clientInfo: { name: "test-client", version: "1.0" },
    protocolVersion: "2024-11-05",
  },
});

/** Headers a streamable HTTP client sends on a POST. */
export const streamHeaders = {
  Accept: "application/json, text/event-stream",
  "Content-Type": "application/json",
};

/**
 * Table rows as `[name, row]` for `it.each(...)("%s", (_, row) => …)`:
 * a `$name` title is cut at 40 characters.
 */
export const byName = <T extends { name: string }>(rows: T[]) =>
  rows.map((row): [string, T] => [row.name, row]);

/** The body of a `Transfer-Encoding: chunked` message, read off the wire. */
export const dechunk = (body: string) => {
  let text = "";
  let rest = body;

  for (;;) {
    const end = rest.indexOf("\r\n");
    const size = parseInt(rest.slice(0, end), 16);

    if (!size) {
      return text;
    }

    text += rest.slice(end + 2, end + 2 + size);
    rest = rest.slice(end + 2 + size + 2);
  }
};

/** The body of the 413 an over-size request gets. */
export const tooLarge = (limit: number) =>
  JSON.stringify({
    error: {
      code: -32600,
      message: `Payload Too Large: request body exceeds ${limit} bytes`,
    },
    id: null,
    jsonrpc: "2.0",
  });
