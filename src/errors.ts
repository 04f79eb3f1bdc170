// What went wrong, said safely: errors are logged by kind, never by message
// (a message can quote a token or a body), and a thrown `Response`, an
// authentication error or a failed `authenticate` is told apart.
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

/** An error's message, or what any other thrown value says; never throws. */
export const getErrorText = (error: unknown) => {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return "";
  }
};

/**
 * Whether an error `createServer` threw means the request failed
 * authentication: it carries a challenge, or a 401 or 403 status.
 */
export const isAuthenticationError = (error: unknown) => {
  try {
    const { status, statusCode, wwwAuthenticate } = error as {
      status?: unknown;
      statusCode?: unknown;
      wwwAuthenticate?: unknown;
    };

    if (
      wwwAuthenticate !== undefined ||
      [401, 403].includes(Number(statusCode ?? status))
    ) {
      return true;
    }
  } catch {
    // Nothing readable: only its text can tell.
  }

  // Kept for compatibility with 5.10.0, which recognised these words only.
  const text = getErrorText(error);

  return ["Authentication", "Invalid JWT", "Token", "Unauthorized"].some(
    (word) => text.includes(word),
  );
};

// Upstream's test: a falsy result, or one whose `authenticated` is falsy.
export const isAuthenticationFailure = (authResult: unknown) => {
  try {
    return (
      !authResult ||
      (typeof authResult === "object" &&
        "authenticated" in authResult &&
        !authResult.authenticated)
    );
  } catch {
    // A result that cannot even be read proves no identity.
    return true;
  }
};
