// Edits and inserted code that both release lines share. Every snippet here
// is written for this kit; the finders locate upstream's code by name.
import ts from "typescript";

import {
  addNamedImport,
  descendants,
  FunctionLike,
  indent,
  KitError,
  SourceText,
} from "../lib/source.js";

export const ESCAPE_HELPER = `// RFC 9110 §5.6.4: inside a quoted-string a backslash starts a quoted-pair,
// so it is escaped first, then the quote. Escaping only \`"\` lets a value
// ending in \`\\\` swallow the closing quote, and a \`\\"\` end the value early.
export const escapeQuotedString = (value: string): string =>
  value.replace(/\\\\/g, "\\\\\\\\").replace(/"/g, '\\\\"');
`;

const isEscapeCall = (node: ts.Node): boolean =>
  ts.isCallExpression(node) &&
  ts.isIdentifier(node.expression) &&
  node.expression.text === "escapeQuotedString";

/** `x.replace(/"/g, '\\"')`: upstream's quote-only escaping. */
const isQuoteOnlyEscape = (node: ts.Node): node is ts.CallExpression =>
  ts.isCallExpression(node) &&
  ts.isPropertyAccessExpression(node.expression) &&
  node.expression.name.text === "replace" &&
  node.arguments.length === 2 &&
  ts.isRegularExpressionLiteral(node.arguments[0]) &&
  node.arguments[0].text === '/"/g';

/**
 * In `fn`, replaces upstream's quote-only escaping with `escapeQuotedString`,
 * and wraps every other value interpolated right after `name="` in it.
 * Returns how many places it changed; the caller fails on zero.
 */
export const escapeQuotedValues = (
  file: SourceText,
  find: () => FunctionLike,
  where: string,
): number => {
  const edits: { end: number; start: number; text: string }[] = [];
  const fn = find();
  const nodes = descendants(fn);

  // Variables already holding an escaped value: `const escaped = …replace…`.
  const escapedNames = new Set(
    nodes
      .filter(ts.isVariableDeclaration)
      .filter(
        (declaration) =>
          declaration.initializer !== undefined &&
          (isQuoteOnlyEscape(declaration.initializer) ||
            isEscapeCall(declaration.initializer)),
      )
      .map((declaration) => declaration.name.getText()),
  );

  for (const node of nodes) {
    if (isQuoteOnlyEscape(node)) {
      const receiver = (node.expression as ts.PropertyAccessExpression)
        .expression;
      edits.push({
        end: node.getEnd(),
        start: node.getStart(),
        text: `escapeQuotedString(${receiver.getText()})`,
      });
    }

    if (ts.isTemplateExpression(node)) {
      node.templateSpans.forEach((span, index) => {
        const before =
          index === 0
            ? node.head.text
            : node.templateSpans[index - 1].literal.text;
        const expression = span.expression;

        if (
          before.endsWith('="') &&
          !isEscapeCall(expression) &&
          !(ts.isIdentifier(expression) && escapedNames.has(expression.text))
        ) {
          edits.push({
            end: expression.getEnd(),
            start: expression.getStart(),
            text: `escapeQuotedString(${expression.getText()})`,
          });
        }
      });
    }
  }

  if (edits.length === 0) {
    throw new KitError(
      `${file.path}: found no quoted challenge value to escape in ${where}`,
    );
  }

  for (const edit of edits.sort((a, b) => b.start - a.start)) {
    file.splice(edit.start, edit.end, edit.text);
  }

  return edits.length;
};

export const importEscapeHelper = (file: SourceText): void =>
  addNamedImport(file, "./authentication.js", "escapeQuotedString");

export const CALLBACK_CHALLENGE_HELPERS = `// A challenge larger than this is not a challenge; proxies and clients cap
// header sizes well below what Node accepts.
const MAX_CALLBACK_CHALLENGE_LENGTH = 8192;

const describeChallengeProblem = (value: unknown): string | undefined => {
  if (typeof value !== "string") {
    return \`a value of type \${value === null ? "null" : typeof value}\`;
  }

  if (value.trim() === "") {
    return "an empty value";
  }

  if (value.length > MAX_CALLBACK_CHALLENGE_LENGTH) {
    return \`a value of \${value.length} characters (at most \${MAX_CALLBACK_CHALLENGE_LENGTH})\`;
  }

  if (!/^[\\t\\x20-\\x7e]*$/.test(value)) {
    return "a value with characters other than printable ASCII, space and tab";
  }

  return undefined;
};

/**
 * The challenge \`authenticate\` computed for this request, from the
 * \`wwwAuthenticate\` of what it returned or threw: a string, or one field line
 * per entry of a non-empty array. It goes on the wire unchanged, so a value
 * that is not a valid field value (RFC 9110 §5.5; Node's \`setHeader\` throws on
 * CR, LF and NUL) is ignored with a warning that says what was wrong and never
 * the value, which may carry a token.
 */
const getCallbackChallenge = (
  authResult: unknown,
): string | string[] | undefined => {
  try {
    if (typeof authResult !== "object" || authResult === null) {
      return undefined;
    }

    const challenge = (authResult as { wwwAuthenticate?: unknown })
      .wwwAuthenticate;

    if (challenge === undefined) {
      return undefined;
    }

    const values: unknown[] = Array.isArray(challenge)
      ? challenge
      : [challenge];
    const problem =
      values.length === 0
        ? "an empty array"
        : values.map(describeChallengeProblem).find(Boolean);

    if (problem) {
      console.warn(\`[mcp-proxy] ignoring wwwAuthenticate: \${problem}\`);

      return undefined;
    }

    return challenge as string | string[];
  } catch {
    console.warn("[mcp-proxy] ignoring wwwAuthenticate: reading it threw");

    return undefined;
  }
};
`;

export const CALLBACK_CHALLENGE_FIRST = `// RFC 9110 §11.6.1: the challenge the app computed for this request (an
// \`error\`, a \`scope\`, another scheme) is the one the client needs, so it
// wins over the one built from \`oauth\`.
const callbackChallenge = getCallbackChallenge(authResult);

if (callbackChallenge) {
  return callbackChallenge;
}

`;

export const SCOPE_CHALLENGE_HEADER = `// RFC 9110 §11.3 and RFC 6750 §3: the scheme is followed by a space and
// then comma-separated auth-params; a comma right after \`Bearer\` makes the
// whole field invalid. MCP 2025-11-25 §10.1.1 sends this challenge whether
// or not a metadata URL is configured.
const params = ['error="insufficient_scope"'];

if (requiredScopes.length > 0) {
  params.push(\`scope="\${escapeQuotedString(requiredScopes.join(" "))}"\`);
}

if (this.config.oauth?.protectedResource?.resource) {
  params.push(
    \`resource_metadata="\${escapeQuotedString(getProtectedResourceMetadataUrl(this.config.oauth.protectedResource.resource))}"\`,
  );
}

if (errorDescription) {
  params.push(\`error_description="\${escapeQuotedString(errorDescription)}"\`);
}

headers["WWW-Authenticate"] = \`Bearer \${params.join(", ")}\`;`;

export const SCOPE_FAILURE_HELPERS = `/**
 * RFC 6750 §3.1: valid credentials that lack a scope get a 403 with an
 * \`insufficient_scope\` challenge, so the client asks for more scope (MCP
 * 2025-11-25 §10.1.2, step-up authorization) instead of starting over as a
 * 401 makes it. The failure is an \`InsufficientScopeError\` or anything with
 * \`statusCode: 403\`, from \`authenticate\` or \`createServer\`.
 */
const isScopeFailure = (failure: unknown): boolean =>
  isScopeChallengeError(failure) ||
  (typeof failure === "object" &&
    failure !== null &&
    (failure as { statusCode?: unknown }).statusCode === 403);

const sendScopeChallengeResponse = ({
  authResult,
  body,
  oauth,
  res,
}: {
  authResult: unknown;
  body: unknown;
  oauth?: AuthConfig["oauth"];
  res: http.ServerResponse;
}): void => {
  const data = isScopeChallengeError(authResult) ? authResult.data : undefined;
  const error = (authResult as { error?: unknown }).error;
  // An InsufficientScopeError describes itself in data, as on the path that
  // already answered it; any other failure by its error or message.
  const description = data
    ? data.errorDescription
    : typeof error === "string"
      ? error
      : authResult instanceof Error
        ? authResult.message
        : undefined;
  const response = new AuthenticationMiddleware({
    oauth,
  }).getScopeChallengeResponse(
    Array.isArray(data?.requiredScopes) ? data.requiredScopes : [],
    description,
    (body as { id?: unknown } | undefined)?.id,
  );

  // As on a 401, a challenge the app computed wins.
  res.writeHead(response.statusCode, {
    ...response.headers,
    "WWW-Authenticate":
      getCallbackChallenge(authResult) ?? response.headers["WWW-Authenticate"],
  });
  res.end(response.body);
};
`;

export const scopeFailureGuard = (
  authResult: string,
  returnValue: string,
): string => `if (isScopeFailure(${authResult})) {
  sendScopeChallengeResponse({ ${authResult === "authResult" ? "authResult" : `authResult: ${authResult}`}, body, oauth, res });

  return${returnValue};
}

`;

export const SSE_AUTHENTICATION = `// MCP authorization (2025-06-18 §2.6.1): the client sends its credentials
// on every HTTP request, and the SSE transport's are no exception.
const authentication = await authenticateRequest({
  authenticate,
  oauth,
  req,
  res,
});

if (authentication.rejected) {
  return true;
}

`;

export const AUTH_RESULT_TYPE = `/**
 * What \`authenticate\` may resolve to, or throw. A falsy value or
 * \`authenticated: false\` rejects the request: \`error\` becomes the JSON-RPC
 * error message, \`statusCode: 403\` answers 403 (insufficient scope) instead of
 * 401, and \`wwwAuthenticate\` is sent as the challenge, one field line per
 * array entry. Other fields are the app's own and reach \`updateAuth\`.
 */
export interface AuthResult {
  [key: string]: unknown;
  authenticated?: boolean;
  error?: string;
  statusCode?: number;
  wwwAuthenticate?: string | string[];
}
`;

/** Indents a snippet to sit where `anchor` sits. */
export const at = (file: SourceText, anchor: ts.Node, snippet: string) =>
  indent(snippet, file.indentOf(anchor));

export const RESPONSE_CHALLENGE = `// RFC 9110 §15.5.2: a 401 carries a challenge. A thrown 401 Response
// without one gets the one this server sends on its own 401s; everything
// else about the Response goes out as it is.
if (
  responseError.status === 401 &&
  !responseError.headers.has("www-authenticate")
) {
  fixedHeaders["www-authenticate"] = getWWWAuthenticateHeader(oauth);
}

`;
