// What went wrong, said safely: errors are logged by kind, never by message
// (a message can quote a token or a body), and a thrown `Response` is told
// apart from other errors.
import util from "node:util";

/**
 * Whether `value` is a `Response`. Checked by shape: `instanceof` misses the
 * Responses of another copy of undici, which FastMCP brings.
 */
export const isResponseLike = (value: unknown): value is Response => {
  if (typeof value !== "object" || value === null) {
    return false;
  }

  try {
    const { headers, status, text } = value as Response;

    return (
      Number.isInteger(status) &&
      status >= 200 &&
      status <= 599 &&
      typeof headers?.forEach === "function" &&
      typeof text === "function"
    );
  } catch {
    return false;
  }
};

const debug = util.debuglog("mcp-proxy");

/**
 * What an error is, without its message: a message can quote a token, a
 * body or a header (a JSON `SyntaxError` quotes the body). Never throws.
 */
const describeError = (error: unknown): string => {
  try {
    if (error instanceof Error) {
      const { code, name } = error as { code?: unknown; name?: unknown };
      const safeName =
        typeof name === "string" && /^[\w$.]{1,64}$/.test(name)
          ? name
          : "Error";

      return typeof code === "string" && /^[A-Z0-9_]{1,64}$/.test(code)
        ? `${safeName} [${code}]`
        : safeName;
    }

    if (isResponseLike(error)) {
      return "a Response";
    }

    return error === null ? "null" : `a thrown ${typeof error}`;
  } catch {
    return "an unreadable error";
  }
};

/**
 * Logs that something failed, naming the error's kind only; the full error
 * goes to `NODE_DEBUG=mcp-proxy`, for whoever debugs on purpose.
 */
export const logError = (note: string, error: unknown) => {
  console.error(note, describeError(error));

  try {
    debug("%s: %O", note, error);
  } catch {
    // An error even util.inspect cannot print.
  }
};

