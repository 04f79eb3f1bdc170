// mcp-proxy 5.x (SDK v1 bundled), written against 5.12.5. 5.12.5 answers
// authentication inline in handleStreamRequest, authenticates stateless POSTs
// only, sends a challenge only with oauth and appends the well-known segment
// to the resource. The first commit gives its two failure paths one helper
// each, in the shape 6.x later gave them, so the fixes that follow are the
// same edits as on the 6.x line.
import ts from "typescript";

import { Change, Line } from "../lib/change.js";
import {
  addNamedImport,
  descendants,
  findFunction,
  findIf,
  findMethod,
  findTopLevel,
  KitError,
  rewriteTest,
  SourceText,
} from "../lib/source.js";
import { at, SSE_AUTHENTICATION } from "./shared.js";
import { V5_INTRO, V5_PATHS } from "./text.js";
import {
  authenticateSse,
  challengeThrownResponse,
  escapeBackslashes,
  exportAuthResult,
  exposeChallenge,
  sendCallbackChallenge,
  validScopeChallenge,
} from "./v6.js";

const AUTH = "src/authentication.ts";
const AUTH_TEST = "src/authentication.test.ts";
const HTTP = "src/startHTTPServer.ts";
const HTTP_TEST = "src/startHTTPServer.test.ts";

const AUTHENTICATE_REQUEST = `type AuthenticationOutcome =
  | { readonly authResult: unknown; readonly rejected?: never }
  | { readonly rejected: true };

/**
 * Runs \`authenticate\`, when there is one, and answers a rejection itself: a
 * thrown \`Response\` as it is, anything else as a 401 that echoes the
 * request's JSON-RPC id.
 */
const authenticateRequest = async ({
  authenticate,
  body,
  oauth,
  req,
  res,
}: {
  authenticate?: (request: http.IncomingMessage) => Promise<unknown>;
  body?: unknown;
  oauth?: AuthConfig["oauth"];
  req: http.IncomingMessage;
  res: http.ServerResponse;
}): Promise<AuthenticationOutcome> => {
  if (!authenticate) {
    return { authResult: undefined };
  }

  try {
    const authResult = await authenticate(req);

    // Falsy, or { authenticated: false }, is a rejection.
    if (
      !authResult ||
      (typeof authResult === "object" &&
        "authenticated" in authResult &&
        !authResult.authenticated)
    ) {
      const errorMessage =
        authResult &&
        typeof authResult === "object" &&
        "error" in authResult &&
        typeof authResult.error === "string"
          ? authResult.error
          : "Unauthorized: Authentication failed";

      res.setHeader("Content-Type", "application/json");

      const wwwAuthHeader = getWWWAuthenticateHeader(oauth, {
        error: "invalid_token",
        error_description: errorMessage,
      });
      if (wwwAuthHeader) {
        res.setHeader("WWW-Authenticate", wwwAuthHeader);
      }

      res.writeHead(401).end(
        JSON.stringify({
          error: { code: -32000, message: errorMessage },
          id: (body as { id?: unknown } | undefined)?.id ?? null,
          jsonrpc: "2.0",
        }),
      );

      return { rejected: true };
    }

    return { authResult };
  } catch (error) {
    if (await handleResponseError(error, res)) {
      return { rejected: true };
    }

    const errorMessage =
      error instanceof Error
        ? error.message
        : "Unauthorized: Authentication error";
    console.error("Authentication error:", error);
    res.setHeader("Content-Type", "application/json");

    const wwwAuthHeader = getWWWAuthenticateHeader(oauth, {
      error: "invalid_token",
      error_description: errorMessage,
    });
    if (wwwAuthHeader) {
      res.setHeader("WWW-Authenticate", wwwAuthHeader);
    }

    res.writeHead(401).end(
      JSON.stringify({
        error: { code: -32000, message: errorMessage },
        id: (body as { id?: unknown } | undefined)?.id ?? null,
        jsonrpc: "2.0",
      }),
    );

    return { rejected: true };
  }
};

/**
 * Answers a \`createServer\` failure: a thrown \`Response\` as it is, an error
 * whose message names an authentication problem as a 401, anything else as a
 * 500.
 */
const handleCreateServerError = async ({
  body,
  error,
  oauth,
  res,
}: {
  body: unknown;
  error: unknown;
  oauth?: AuthConfig["oauth"];
  res: http.ServerResponse;
}): Promise<void> => {
  if (await handleResponseError(error, res)) {
    return;
  }

  const errorMessage = error instanceof Error ? error.message : String(error);
  const isAuthError =
    errorMessage.includes("Authentication") ||
    errorMessage.includes("Invalid JWT") ||
    errorMessage.includes("Token") ||
    errorMessage.includes("Unauthorized");

  if (!isAuthError) {
    res.writeHead(500).end("Error creating server");

    return;
  }

  res.setHeader("Content-Type", "application/json");

  const wwwAuthHeader = getWWWAuthenticateHeader(oauth, {
    error: "invalid_token",
    error_description: errorMessage,
  });
  if (wwwAuthHeader) {
    res.setHeader("WWW-Authenticate", wwwAuthHeader);
  }

  res.writeHead(401).end(
    JSON.stringify({
      error: { code: -32000, message: errorMessage },
      id: (body as { id?: unknown } | undefined)?.id ?? null,
      jsonrpc: "2.0",
    }),
  );
};
`;

const STATELESS_AUTHENTICATION = `if (stateless) {
  const authentication = await authenticateRequest({
    authenticate,
    body,
    oauth,
    req,
    res,
  });

  if (authentication.rejected) {
    return true;
  }
}`;

const EVERY_REQUEST_AUTHENTICATION = `// MCP authorization (2025-06-18 §2.6.1): the client sends its token
// on every request and the server validates it, stateful sessions
// included, so a revoked or expired token stops working mid-session.
const authentication = await authenticateRequest({
  authenticate,
  body,
  oauth,
  req,
  res,
});

if (authentication.rejected) {
  return true;
}`;

const STREAM_AUTHENTICATION = SSE_AUTHENTICATION.replace(
  "and the SSE transport's are no exception.",
  "and a session id is no substitute for them.",
);

const METADATA_URL = `// RFC 9728 §3.1: the well-known segment goes between the host and the
// resource's path, so https://h/mcp publishes its metadata at
// https://h/.well-known/oauth-protected-resource/mcp; an origin-only resource
// keeps https://h/.well-known/oauth-protected-resource. A value that is not a
// URL keeps the old concatenation rather than failing the response.
export const getProtectedResourceMetadataUrl = (resource: string): string => {
  let url: URL;

  try {
    url = new URL(resource);
  } catch {
    return \`\${resource}/.well-known/oauth-protected-resource\`;
  }

  const path = url.pathname === "/" ? "" : url.pathname;

  return \`\${url.protocol}//\${url.host}/.well-known/oauth-protected-resource\${path}\${url.search}\`;
};
`;

const EVERY_401_FALLBACK = `// RFC 9110 §15.5.2: a 401 carries at least one challenge, and a bare
// \`Bearer\` is one (§11.3), so there is one with or without oauth.
if (params.length === 0) {
  return "Bearer";
}`;

/** Every \`catch\` right after \`server = await createServer(req)\`. */
const createServerCatches = (scope: ts.Node) =>
  descendants(scope).filter(
    (node): node is ts.TryStatement =>
      ts.isTryStatement(node) &&
      node.tryBlock.statements.some(
        (statement) =>
          statement.getText() === "server = await createServer(req);",
      ) &&
      node.catchClause !== undefined,
  );

/** Inside `if (receiver.x …) { … }` TypeScript already knows receiver is set. */
const guardedBy = (node: ts.Node, receiver: string): boolean => {
  for (
    let child = node, parent = node.parent;
    parent;
    child = parent, parent = parent.parent
  ) {
    if (
      ts.isIfStatement(parent) &&
      parent.thenStatement === child &&
      new RegExp(`^${receiver.replace(/[.?]/g, "\\$&")}\\??\\.`).test(
        parent.expression.getText(),
      )
    ) {
      return true;
    }
  }

  return false;
};

/**
 * Makes `a.b` optional (`a?.b`) wherever `a`'s text is `receiver`, except
 * where an enclosing `if (a.… )` already guarantees `a`.
 */
const makeOptional = (file: SourceText, scope: ts.Node, receiver: string) => {
  const positions = descendants(scope)
    .filter(
      (node): node is ts.PropertyAccessExpression =>
        ts.isPropertyAccessExpression(node) &&
        node.expression.getText() === receiver &&
        !node.questionDotToken &&
        !guardedBy(node, receiver),
    )
    .map((node) => node.expression.getEnd())
    .sort((a, b) => b - a);

  for (const position of positions) {
    file.splice(position, position, "?");
  }

  return positions.length;
};

/** Replaces `if (…) { body }` by its body, one level less indented. */
const unwrapIf = (file: SourceText, statement: ts.IfStatement, lead = "") => {
  if (!ts.isBlock(statement.thenStatement) || statement.elseStatement) {
    throw new KitError(`${file.path}: expected a plain if block to unwrap`);
  }

  const inner = statement.thenStatement.statements;
  const text = file.text
    .slice(inner[0].getFullStart(), inner.at(-1)!.getEnd())
    .replace(/^\n+/, "")
    .split("\n")
    .map((line) => line.replace(/^ {2}/, ""))
    .join("\n");
  file.replaceStatement(statement, `${lead}${text}`);
};

export const shareFailureHelpers: Change = {
  apply: (tree) => {
    const http = tree.file(HTTP);

    http.insertBeforeStatement(
      findTopLevel(http, "handleStreamRequest"),
      `${AUTHENTICATE_REQUEST}\n`,
    );

    let stream = findFunction(http, "handleStreamRequest");
    const inline = findIf(
      http,
      stream,
      ["stateless && authenticate"],
      "handleStreamRequest",
    );
    http.replaceStatement(inline, at(http, inline, STATELESS_AUTHENTICATION));

    stream = findFunction(http, "handleStreamRequest");
    const catches = createServerCatches(stream);

    if (catches.length !== 2) {
      throw new KitError(
        `${HTTP}: expected two createServer(req) calls in handleStreamRequest, found ${catches.length}`,
      );
    }

    for (const statement of catches.reverse()) {
      const clause = statement.catchClause!;
      const text = clause.block.getText();

      if (
        !text.includes("isAuthError") ||
        !text.includes("Error creating server")
      ) {
        throw new KitError(
          `${HTTP}: a createServer catch in handleStreamRequest changed shape`,
        );
      }

      const inner = http.indentOf(clause.block.statements[0]);
      http.replace(
        clause.block,
        `{\n${inner}await handleCreateServerError({ body, error, oauth, res });\n\n${inner}return true;\n${http.indentOf(clause)}}`,
      );
    }
  },
  body: `handleStreamRequest answered a failed authenticate inline, and the
two createServer paths (initialize, stateless non-initialize) each carried
the same catch block. authenticateRequest and handleCreateServerError
answer them in one place each, as 6.x does, so the fixes that follow
change one place instead of three. Nothing on the wire changes.`,
  subject: "refactor: answer authentication failures through shared helpers",
  tests: [],
  upstreamTests: [HTTP_TEST],
};

export const challengeOnEvery401: Change = {
  apply: (tree) => {
    const http = tree.file(HTTP);
    let fn = findFunction(http, "getWWWAuthenticateHeader");
    const guard = findIf(http, fn, ["!oauth"], "getWWWAuthenticateHeader");
    http.splice(guard.getFullStart(), guard.getEnd(), "");
    fn = findFunction(http, "getWWWAuthenticateHeader");

    if (makeOptional(http, fn, "oauth") === 0) {
      throw new KitError(`${HTTP}: no oauth.… in getWWWAuthenticateHeader`);
    }

    fn = findFunction(http, "getWWWAuthenticateHeader");
    const empty = findIf(
      http,
      fn,
      ["params.length === 0"],
      "getWWWAuthenticateHeader",
    );
    const comments =
      ts.getLeadingCommentRanges(http.text, empty.getFullStart()) ?? [];
    http.splice(
      comments[0]?.pos ?? empty.getStart(),
      empty.getEnd(),
      at(http, empty, EVERY_401_FALLBACK).trimStart(),
    );
    fn = findFunction(http, "getWWWAuthenticateHeader");
    const type = http.expect(
      fn.type,
      "the return type of getWWWAuthenticateHeader",
    );

    if (type.getText() !== "string | undefined") {
      throw new KitError(
        `${HTTP}: getWWWAuthenticateHeader returns ${type.getText()}`,
      );
    }

    http.replace(type, "string");

    const auth = tree.file(AUTH);
    let method = findMethod(
      auth,
      "AuthenticationMiddleware",
      "getUnauthorizedResponse",
    );
    const withOauth = findIf(
      auth,
      method,
      ["this.config.oauth"],
      "getUnauthorizedResponse",
    );

    if (withOauth.expression.getText() !== "this.config.oauth") {
      throw new KitError(
        `${AUTH}: getUnauthorizedResponse no longer starts with if (this.config.oauth)`,
      );
    }

    makeOptional(auth, withOauth.thenStatement, "this.config.oauth");
    method = findMethod(
      auth,
      "AuthenticationMiddleware",
      "getUnauthorizedResponse",
    );
    unwrapIf(
      auth,
      findIf(auth, method, ["this.config.oauth"], "getUnauthorizedResponse"),
      at(
        auth,
        findIf(auth, method, ["this.config.oauth"], "getUnauthorizedResponse"),
        "// RFC 9110 §15.5.2: every 401 carries a challenge, oauth or not;\n// oauth only adds auth-params.\n",
      ),
    );

    rewriteTest(
      tree.file(AUTH_TEST),
      "should not include WWW-Authenticate header without OAuth config",
      'expect(response.headers["WWW-Authenticate"]).toBeUndefined();',
      `expect(response.headers["WWW-Authenticate"]).toBe(
        'Bearer error="invalid_token", error_description="Unauthorized: Invalid or missing API key"',
      );`,
      "should include a bare Bearer challenge without OAuth config",
    );
    rewriteTest(
      tree.file(HTTP_TEST),
      "does not include WWW-Authenticate header in 401 response without OAuth config",
      "expect(wwwAuthHeader).toBeNull();",
      `expect(wwwAuthHeader).toBe(
    'Bearer error="invalid_token", error_description="Authentication required"',
  );`,
      "includes WWW-Authenticate header in 401 response without OAuth config",
    );
  },
  body: `RFC 9110 §15.5.2: a 401 MUST carry a WWW-Authenticate with at least
one challenge, and the MCP authorization spec (2025-06-18 §2.3.1) starts
OAuth discovery from it. getWWWAuthenticateHeader and
getUnauthorizedResponse built one only when oauth was passed, so every
other 401 (the API key, authenticate, createServer) carried none; FastMCP,
the main consumer, never passes oauth.

Both now always build a Bearer challenge, oauth only adding its
auth-params, as 6.7.13 does. Two of upstream's tests asserted the missing
header and now assert the challenge.`,
  subject: "fix(auth): send a challenge on every 401",
  tests: ["src/challengeWithoutOauth.test.ts"],
};

export const metadataUrl: Change = {
  apply: (tree) => {
    const auth = tree.file(AUTH);
    auth.insertBeforeStatement(
      findTopLevel(auth, "AuthenticationMiddleware"),
      `${METADATA_URL}\n`,
    );

    const rewrite = (file: SourceText, find: () => ts.Node, where: string) => {
      const templates = descendants(find()).filter(
        (node): node is ts.TemplateExpression =>
          ts.isTemplateExpression(node) &&
          node.templateSpans.some((span) =>
            span.literal.text.startsWith(
              "/.well-known/oauth-protected-resource",
            ),
          ),
      );

      if (templates.length === 0) {
        throw new KitError(
          `${file.path}: no appended /.well-known/oauth-protected-resource in ${where}`,
        );
      }

      for (const template of templates.reverse()) {
        let text = template.getText();

        for (const span of template.templateSpans) {
          if (
            span.literal.text.startsWith(
              "/.well-known/oauth-protected-resource",
            )
          ) {
            const expression = span.expression.getText();
            text = text.replace(
              `\${${expression}}/.well-known/oauth-protected-resource`,
              `\${getProtectedResourceMetadataUrl(${expression})}`,
            );
          }
        }

        file.replace(template, text);
      }
    };

    rewrite(
      auth,
      () =>
        findMethod(auth, "AuthenticationMiddleware", "getUnauthorizedResponse"),
      "getUnauthorizedResponse",
    );
    rewrite(
      auth,
      () =>
        findMethod(
          auth,
          "AuthenticationMiddleware",
          "getScopeChallengeResponse",
        ),
      "getScopeChallengeResponse",
    );

    const http = tree.file(HTTP);
    rewrite(
      http,
      () => findFunction(http, "getWWWAuthenticateHeader"),
      "getWWWAuthenticateHeader",
    );
    addNamedImport(
      http,
      "./authentication.js",
      "getProtectedResourceMetadataUrl",
    );

    rewriteTest(
      tree.file(AUTH_TEST),
      "should handle OAuth config with trailing slash in resource URL",
      `expect(response.headers["WWW-Authenticate"]).toBe(
        'Bearer resource_metadata="https://example.com//.well-known/oauth-protected-resource", error="invalid_token", error_description="Unauthorized: Invalid or missing API key"',
      );`,
      `expect(response.headers["WWW-Authenticate"]).toBe(
        'Bearer resource_metadata="https://example.com/.well-known/oauth-protected-resource", error="invalid_token", error_description="Unauthorized: Invalid or missing API key"',
      );`,
    );
  },
  body: `RFC 9728 §3.1 builds the metadata URL of a resource by putting
/.well-known/oauth-protected-resource between its host and its path:
https://h/mcp publishes at https://h/.well-known/oauth-protected-resource/mcp,
and MCP authorization 2025-11-25 §4.2 probes that URL first. The
challenges appended the segment after the path instead
(https://h/mcp/.well-known/oauth-protected-resource), a URL nothing
serves, and a resource written with a trailing slash got a double slash.

getProtectedResourceMetadataUrl builds the §3.1 URL; an origin-only
resource keeps exactly the URL it had. Upstream's test of the trailing
slash asserted the double slash and now asserts the §3.1 URL. 6.7.19
carries the same fix.`,
  subject:
    "fix(auth): build the RFC 9728 metadata URL with the resource's path",
  tests: ["src/protectedResourceMetadata.test.ts"],
};

export const authenticateEveryStreamRequest: Change = {
  apply: (tree) => {
    const http = tree.file(HTTP);
    let stream = findFunction(http, "handleStreamRequest");
    const statelessOnly = findIf(
      http,
      stream,
      ["stateless"],
      "handleStreamRequest",
    );

    if (
      statelessOnly.expression.getText() !== "stateless" ||
      !statelessOnly.thenStatement.getText().includes("authenticateRequest(")
    ) {
      throw new KitError(
        `${HTTP}: expected if (stateless) { authenticateRequest(…) } in handleStreamRequest`,
      );
    }

    const comments =
      ts.getLeadingCommentRanges(http.text, statelessOnly.getFullStart()) ?? [];
    http.splice(
      comments[0]?.pos ?? statelessOnly.getStart(),
      statelessOnly.getEnd(),
      at(http, statelessOnly, EVERY_REQUEST_AUTHENTICATION).trimStart(),
    );

    // GET and DELETE: before the session is looked up.
    for (const method of ['req.method === "DELETE"', 'req.method === "GET"']) {
      stream = findFunction(http, "handleStreamRequest");
      const branch = findIf(http, stream, [method], "handleStreamRequest");

      if (!ts.isBlock(branch.thenStatement)) {
        throw new KitError(`${HTTP}: the ${method} branch is not a block`);
      }

      const first = branch.thenStatement.statements[0];
      http.insertBeforeStatement(
        first,
        at(http, first, STREAM_AUTHENTICATION).trimStart() +
          http.indentOf(first),
      );
    }

    rewriteTest(
      tree.file(HTTP_TEST),
      "does not call authenticate on subsequent requests in stateful mode",
      "expect(authenticate).not.toHaveBeenCalled();",
      `// initialize, the initialized notification and two listResources, at
  // least: every request is authenticated, stateful ones included.
  expect(authenticate.mock.calls.length).toBeGreaterThanOrEqual(4);`,
      "calls authenticate on every request in stateful mode",
    );
  },
  body: `The MCP authorization spec (2025-06-18 §2.6.1 and §2.6.2) has the
client send its token on every HTTP request and the server validate it,
answering an invalid or expired one with 401. authenticate ran only for
stateless POSTs: in stateful mode a session id was enough, so a revoked
token kept working until the session ended, and GET and DELETE on the
stream endpoint never checked credentials at all.

authenticate now runs on every POST, GET and DELETE of the stream
endpoint, before the session is looked up, as 6.4.0 and 6.7.17 do.
Upstream's test that asserted authenticate is not called in stateful mode
now asserts that it is.`,
  breaking: `in stateful mode, authenticate now runs on every
request, not only on stateless ones: a client that sent credentials only
with initialize gets 401 on its later requests, and an authenticate that
returns a falsy value for them rejects them.`,
  subject: "fix(auth): authenticate every stream request",
  tests: ["src/statefulAuthentication.test.ts"],
};

export const v5: Line = {
  changes: [
    shareFailureHelpers,
    challengeOnEvery401,
    metadataUrl,
    escapeBackslashes,
    authenticateEveryStreamRequest,
    sendCallbackChallenge,
    challengeThrownResponse,
    validScopeChallenge,
    authenticateSse,
    exposeChallenge,
    exportAuthResult,
  ],
  intro: V5_INTRO,
  name: "5.x",
  paths: V5_PATHS,
};
