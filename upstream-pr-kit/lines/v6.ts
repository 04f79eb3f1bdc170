// mcp-proxy 6.x (SDK v2 packages), written against 6.7.19. 6.7.19 already
// authenticates every stream request, sends a challenge on every 401 and
// builds the RFC 9728 §3.1 metadata URL; these commits carry what it lacks.
import ts from "typescript";

import { Change, Line } from "../lib/change.js";
import {
  addNamedExport,
  addObjectParameter,
  bodyOf,
  descendants,
  findCalls,
  findCallsOrFail,
  findFunction,
  findIf,
  findMethod,
  findProperty,
  findTopLevel,
  insertSorted,
  KitError,
  objectArgument,
  rewriteTest,
  SourceText,
} from "../lib/source.js";
import {
  at,
  AUTH_RESULT_TYPE,
  CALLBACK_CHALLENGE_FIRST,
  CALLBACK_CHALLENGE_HELPERS,
  ESCAPE_HELPER,
  escapeQuotedValues,
  importEscapeHelper,
  RESPONSE_CHALLENGE,
  SCOPE_CHALLENGE_HEADER,
  SCOPE_FAILURE_HELPERS,
  scopeFailureGuard,
  SSE_AUTHENTICATION,
} from "./shared.js";
import { V6_INTRO, V6_PATHS } from "./text.js";

const AUTH = "src/authentication.ts";
const AUTH_TEST = "src/authentication.test.ts";
const HTTP = "src/startHTTPServer.ts";
const INDEX = "src/index.ts";

/** The statement in `block` that contains `node`. */
const statementOf = (block: ts.Block, node: ts.Node): ts.Statement => {
  const statement = block.statements.find(
    (candidate) =>
      candidate.getStart() <= node.getStart() &&
      node.getEnd() <= candidate.getEnd(),
  );

  if (!statement) {
    throw new KitError(`no statement holds ${node.getText()}`);
  }

  return statement;
};

const catchOf = (node: ts.Node): ts.CatchClause | undefined => {
  for (let parent = node.parent; parent; parent = parent.parent) {
    if (ts.isCatchClause(parent)) {
      return parent;
    }
  }

  return undefined;
};

/** `if (await handleResponseError(…)) { … }` in `scope`. */
const responseErrorGuard = (
  file: SourceText,
  scope: ts.Node,
  where: string,
): ts.IfStatement => findIf(file, scope, ["handleResponseError("], where);

export const escapeBackslashes: Change = {
  apply: (tree) => {
    const auth = tree.file(AUTH);
    auth.insertBeforeStatement(
      findTopLevel(auth, "AuthenticationMiddleware"),
      `${ESCAPE_HELPER}\n`,
    );
    escapeQuotedValues(
      auth,
      () =>
        findMethod(auth, "AuthenticationMiddleware", "getUnauthorizedResponse"),
      "AuthenticationMiddleware.getUnauthorizedResponse",
    );
    escapeQuotedValues(
      auth,
      () =>
        findMethod(
          auth,
          "AuthenticationMiddleware",
          "getScopeChallengeResponse",
        ),
      "AuthenticationMiddleware.getScopeChallengeResponse",
    );

    const http = tree.file(HTTP);
    escapeQuotedValues(
      http,
      () => findFunction(http, "getWWWAuthenticateHeader"),
      "getWWWAuthenticateHeader",
    );
    importEscapeHelper(http);
  },
  body: `RFC 9110 §5.6.4 makes a backslash inside a quoted-string the start of
a quoted-pair. The challenge builders escaped only the double quote, so an
error_description such as C:\\keys\\ ended in a quoted-pair that swallowed
the closing quote, and one holding \\" closed the string early: the whole
WWW-Authenticate field became unparsable and the client lost the
challenge.

escapeQuotedString escapes the backslash first, then the quote, and every
value the builders put between quotes goes through it (realm, error,
error_description, error_uri, scope, resource_metadata).`,
  subject: "fix(auth): escape backslashes in challenge values",
  tests: ["src/challengeQuoting.test.ts"],
};

export const sendCallbackChallenge: Change = {
  apply: (tree) => {
    const http = tree.file(HTTP);

    http.insertBeforeStatement(
      findTopLevel(http, "getWWWAuthenticateHeader"),
      `${CALLBACK_CHALLENGE_HELPERS}\n`,
    );

    // getWWWAuthenticateHeader(oauth, options) gains authResult, third and
    // optional, so its existing callers keep their meaning.
    let fn = findFunction(http, "getWWWAuthenticateHeader");
    const returnType = http.expect(
      fn.type,
      "the return type of getWWWAuthenticateHeader",
    );
    if (returnType.getText() !== "string") {
      throw new KitError(
        `${HTTP}: getWWWAuthenticateHeader returns ${returnType.getText()}, expected string`,
      );
    }
    http.replace(returnType, "string | string[]");

    fn = findFunction(http, "getWWWAuthenticateHeader");
    const last = http.expect(
      fn.parameters.at(-1),
      "the parameters of getWWWAuthenticateHeader",
    );
    if (
      fn.parameters.some(
        (parameter) => parameter.name.getText() === "authResult",
      )
    ) {
      throw new KitError(
        `${HTTP}: getWWWAuthenticateHeader already takes authResult`,
      );
    }
    http.insertAfter(last, `,\n${http.indentOf(last)}authResult?: unknown`);

    fn = findFunction(http, "getWWWAuthenticateHeader");
    const first = http.expect(
      bodyOf(http, fn).statements[0],
      "the body of getWWWAuthenticateHeader",
    );
    http.insertBeforeStatement(
      first,
      at(http, first, CALLBACK_CHALLENGE_FIRST).trimStart() +
        http.indentOf(first),
    );

    // authenticateRequest: the returned result on its failure branch, the
    // thrown value in its catch.
    const calls = findCallsOrFail(
      http,
      findFunction(http, "authenticateRequest"),
      "getWWWAuthenticateHeader",
      "authenticateRequest",
    );
    for (const call of [...calls].reverse()) {
      const clause = catchOf(call);
      const argument = clause
        ? http.expect(
            clause.variableDeclaration?.name.getText(),
            "the catch variable in authenticateRequest",
          )
        : "authResult";
      http.insertAfter(call.arguments.at(-1)!, `, ${argument}`);
    }

    // handleCreateServerError: the error createServer threw.
    const createServerError = findFunction(http, "handleCreateServerError");
    const [call] = findCallsOrFail(
      http,
      createServerError,
      "getWWWAuthenticateHeader",
      "handleCreateServerError",
      1,
    );
    http.insertAfter(call.arguments.at(-1)!, ", error");
  },
  body: `authenticate() may return or throw the challenge for this very
request in wwwAuthenticate (an error code, a scope, a metadata URL for a
resource mounted elsewhere, another scheme). getWWWAuthenticateHeader
never read it, so every 401 carried the challenge built from the oauth
option instead, and an app that knows why it rejected a token could not
say so (RFC 6750 §3, RFC 9728 §5.1).

getWWWAuthenticateHeader takes the auth result (or the thrown error) as a
third, optional argument; when its wwwAuthenticate is a string or a
non-empty array of strings, each non-empty, at most 8 KiB and made of
printable ASCII, space and tab, it is sent unchanged (an array gives one
field line per entry, RFC 9110 §11.6.1). Anything else is ignored with a
warning that says what was wrong and never logs the value, and the
existing challenge is sent as before.`,
  subject: "fix(auth): send the challenge authenticate returned",
  tests: ["src/callbackChallenge.test.ts"],
};

export const challengeThrownResponse: Change = {
  apply: (tree) => {
    const http = tree.file(HTTP);
    let fn = findFunction(http, "handleResponseError");
    const names = descendants(fn)
      .filter(ts.isVariableDeclaration)
      .map((declaration) => declaration.name.getText());

    for (const name of ["responseError", "fixedHeaders"]) {
      if (!names.includes(name)) {
        throw new KitError(`${HTTP}: handleResponseError has no "${name}"`);
      }
    }

    const copy = http.expect(
      descendants(fn).find(
        (node): node is ts.ExpressionStatement =>
          ts.isExpressionStatement(node) &&
          node.getText().startsWith("responseError.headers.forEach("),
      ),
      "the header copy (responseError.headers.forEach) in handleResponseError",
    );
    const next = http.expect(
      (copy.parent as ts.Block).statements[
        (copy.parent as ts.Block).statements.indexOf(copy) + 1
      ],
      "a statement after the header copy in handleResponseError",
    );
    http.insertBeforeStatement(
      next,
      at(http, next, RESPONSE_CHALLENGE).trimStart() + http.indentOf(next),
    );

    fn = findFunction(http, "handleResponseError");
    const last = http.expect(
      fn.parameters.at(-1),
      "the parameters of handleResponseError",
    );
    http.insertAfter(
      last,
      `,\n${http.indentOf(last)}oauth?: AuthConfig["oauth"]`,
    );

    for (const caller of ["handleCreateServerError", "authenticateRequest"]) {
      const [call] = findCallsOrFail(
        http,
        findFunction(http, caller),
        "handleResponseError",
        caller,
        1,
      );
      http.insertAfter(call.arguments.at(-1)!, ", oauth");
    }
  },
  body: `RFC 9110 §15.5.2: a server sending 401 MUST send a WWW-Authenticate
challenge. An app that rejects a request by throwing a Response from
authenticate or createServer (FastMCP's own tests throw
new Response(null, { status: 401 })) got that Response passed through as
it was, so its 401 carried no challenge and the client had nothing to
start OAuth discovery from (RFC 9728 §5.1).

handleResponseError still sends the thrown Response's status, headers and
body unchanged, and only fills the gap: a 401 without WWW-Authenticate
gets the challenge this server sends on its own 401s. A Response that has
its own challenge keeps it.`,
  subject: "fix(auth): give a thrown 401 Response a challenge",
  tests: ["src/thrownResponseChallenge.test.ts"],
};

export const validScopeChallenge: Change = {
  apply: (tree) => {
    const auth = tree.file(AUTH);
    const method = findMethod(
      auth,
      "AuthenticationMiddleware",
      "getScopeChallengeResponse",
    );
    const old = findIf(
      auth,
      method,
      ["protectedResource"],
      "getScopeChallengeResponse",
    );
    if (!old.thenStatement.getText().includes("WWW-Authenticate")) {
      throw new KitError(
        `${AUTH}: the protectedResource branch of getScopeChallengeResponse no longer builds WWW-Authenticate`,
      );
    }
    auth.replaceStatement(old, at(auth, old, SCOPE_CHALLENGE_HEADER));

    // Upstream's own tests asserted the two answers this changes.
    const authTest = tree.file(AUTH_TEST);
    rewriteTest(
      authTest,
      "should not include WWW-Authenticate header without OAuth config",
      'expect(response.headers["WWW-Authenticate"]).toBeUndefined();',
      `expect(response.headers["WWW-Authenticate"]).toBe(
        'Bearer error="insufficient_scope", scope="admin"',
      );`,
      "should include WWW-Authenticate header without OAuth config",
    );
    rewriteTest(
      authTest,
      "should handle empty scopes array",
      `expect(response.headers["WWW-Authenticate"]).toContain('scope=""');`,
      'expect(response.headers["WWW-Authenticate"]).not.toContain("scope=");',
    );

    const http = tree.file(HTTP);
    http.insertAfter(
      findTopLevel(http, "isScopeChallengeError"),
      `\n\n${SCOPE_FAILURE_HELPERS.trimEnd()}`,
    );

    // createServer throws: before upstream's word list turns it into a 401.
    let scope: ts.Node = findFunction(http, "handleCreateServerError");
    let guard = responseErrorGuard(http, scope, "handleCreateServerError");
    http.insertAfter(
      guard,
      `\n\n${at(http, guard, scopeFailureGuard("error", "")).trimEnd()}`,
    );

    // authenticate throws.
    scope = findFunction(http, "authenticateRequest");
    guard = responseErrorGuard(http, scope, "authenticateRequest");
    const clause = http.expect(
      catchOf(guard),
      "the catch of authenticateRequest",
    );
    const thrown = http.expect(
      clause.variableDeclaration?.name.getText(),
      "the catch variable of authenticateRequest",
    );
    http.insertAfter(
      guard,
      `\n\n${at(http, guard, scopeFailureGuard(thrown, " { rejected: true }")).trimEnd()}`,
    );

    // authenticate returns a failure.
    scope = findFunction(http, "authenticateRequest");
    const failure = findIf(http, scope, ["!authResult"], "authenticateRequest");
    if (
      !ts.isBlock(failure.thenStatement) ||
      failure.thenStatement.statements.length === 0
    ) {
      throw new KitError(
        `${HTTP}: the failure branch of authenticateRequest is not a block`,
      );
    }
    const first = failure.thenStatement.statements[0];
    http.insertBeforeStatement(
      first,
      at(
        http,
        first,
        scopeFailureGuard("authResult", " { rejected: true }"),
      ).trimStart() + http.indentOf(first),
    );
  },
  body: `RFC 6750 §3.1 answers a token that lacks a scope with 403 and an
insufficient_scope challenge, and MCP 2025-11-25 §10.1.1 builds step-up
authorization on it. getScopeChallengeResponse joined the scheme and its
first auth-param with a comma ("Bearer, error=..."), which RFC 9110 §11.3
does not allow, so clients could not parse the challenge; it also sent
none at all unless oauth.protectedResource was set. And only errors
thrown while a request was being handled reached it: an
InsufficientScopeError thrown by authenticate or createServer became a
401 "invalid_token", which sends the client to re-authorize with the
same scopes.

The scope challenge is now "Bearer error=\\"insufficient_scope\\", ..."
with or without oauth, and leaves scope out when no scope is named (RFC
6750 §3: scope holds at least one scope-token, so scope="" is invalid).
An InsufficientScopeError, or a failure with statusCode: 403, from
authenticate or createServer answers 403 through it. A wwwAuthenticate
the app supplied wins here as on a 401. Two of upstream's tests asserted
the old answers (no challenge without oauth, scope="" for no scopes) and
now assert the new ones.`,
  subject: "fix(auth): send a valid insufficient_scope challenge",
  tests: ["src/insufficientScope.test.ts"],
};

export const authenticateSse: Change = {
  apply: (tree) => {
    const http = tree.file(HTTP);

    addObjectParameter(
      http,
      "handleSSERequest",
      "authenticate",
      "?: (request: http.IncomingMessage) => Promise<unknown>",
    );
    addObjectParameter(
      http,
      "handleSSERequest",
      "oauth",
      '?: AuthConfig["oauth"]',
    );

    // POST /messages first, so the GET branch's positions stay valid.
    for (const method of ['req.method === "POST"', 'req.method === "GET"']) {
      const branch = findIf(
        http,
        findFunction(http, "handleSSERequest"),
        [method],
        "handleSSERequest",
      );
      if (!ts.isBlock(branch.thenStatement)) {
        throw new KitError(
          `${HTTP}: the ${method} branch of handleSSERequest is not a block`,
        );
      }
      const first = branch.thenStatement.statements[0];
      http.insertBeforeStatement(
        first,
        at(http, first, SSE_AUTHENTICATION).trimStart() + http.indentOf(first),
      );
    }

    // A createServer auth error on GET /sse: a 401 as on the stream
    // endpoint, not "Error creating server" with a 500.
    const sse = findFunction(http, "handleSSERequest");
    const get = findIf(http, sse, ['req.method === "GET"'], "handleSSERequest");
    const call = http.expect(
      findCalls(get, "createServer")[0],
      "createServer(req) in the GET branch of handleSSERequest",
    );
    let tryStatement: ts.Node | undefined = call;
    while (tryStatement && !ts.isTryStatement(tryStatement)) {
      tryStatement = tryStatement.parent;
    }
    const catchBlock = http.expect(
      tryStatement && ts.isTryStatement(tryStatement)
        ? tryStatement.catchClause
        : undefined,
      "the catch around createServer in handleSSERequest",
    );
    const text = catchBlock.block.getText();
    if (
      !text.includes("handleResponseError") ||
      !text.includes("Error creating server")
    ) {
      throw new KitError(
        `${HTTP}: the createServer catch of handleSSERequest changed shape`,
      );
    }
    const thrown = http.expect(
      catchBlock.variableDeclaration?.name.getText(),
      "the catch variable",
    );
    const inner = http.indentOf(catchBlock.block.statements[0]);
    http.replace(
      catchBlock.block,
      `{\n${inner}await handleCreateServerError({ body: undefined, ${thrown === "error" ? "error" : `error: ${thrown}`}, oauth, res });\n\n${inner}return true;\n${http.indentOf(catchBlock)}}`,
    );

    const listenerCall = http.expect(
      findCalls(findFunction(http, "startHTTPServer"), "handleSSERequest")[0],
      "the handleSSERequest({ … }) call in startHTTPServer",
    );
    insertSorted(
      http,
      objectArgument(http, listenerCall).properties,
      "authenticate",
      "authenticate",
      "the handleSSERequest call",
    );
    const again = http.expect(
      findCalls(findFunction(http, "startHTTPServer"), "handleSSERequest")[0],
      "the handleSSERequest({ … }) call in startHTTPServer",
    );
    insertSorted(
      http,
      objectArgument(http, again).properties,
      "oauth",
      "oauth",
      "the handleSSERequest call",
    );
  },
  body: `The MCP authorization spec (2025-06-18 §2.6.1, 2025-11-25 §9.1) has
the client send its credentials on every HTTP request, and the server
validate them. The stream endpoint does so on every verb, but GET /sse
and POST /messages never called authenticate: with authenticate set, a
client without credentials still got an SSE session, and a createServer
auth error on GET /sse was a 500 without a challenge, so OAuth discovery
never started (RFC 9110 §15.5.2, RFC 9728 §5.1).

Both SSE endpoints now run authenticate before anything else, through
the same authenticateRequest as the stream endpoint, and a createServer
failure on GET /sse goes through handleCreateServerError, as on the
stream endpoint.`,
  breaking: `with authenticate set, GET /sse and POST /messages now
call it, and a request it rejects gets 401 (or 403). An SSE client that
sent no credentials, or sent them only on GET /sse, must now send them on
every request, as the MCP authorization spec requires.`,
  subject: "fix(auth): authenticate GET /sse and POST /messages",
  tests: ["src/sseAuthentication.test.ts"],
};

export const exposeChallenge: Change = {
  apply: (tree) => {
    const http = tree.file(HTTP);
    const property = findProperty(
      http,
      findFunction(http, "applyCorsHeaders"),
      "exposedHeaders",
      "applyCorsHeaders",
    );
    const list = property.initializer;
    if (!ts.isArrayLiteralExpression(list) || list.elements.length === 0) {
      throw new KitError(`${HTTP}: the default exposedHeaders is not a list`);
    }
    if (list.getText().includes("WWW-Authenticate")) {
      throw new KitError(
        `${HTTP}: WWW-Authenticate is already exposed by default`,
      );
    }
    http.insertAfter(list.elements.at(-1)!, ', "WWW-Authenticate"');
  },
  body: `A browser lets a cross-origin script read only the CORS-safelisted
response headers and those named in Access-Control-Expose-Headers (Fetch
Standard, "CORS protocol"). The default list held only Mcp-Session-Id, so
a browser MCP client could see the 401 but not its WWW-Authenticate, and
could not find the resource_metadata URL that starts OAuth discovery
(MCP authorization 2025-06-18 §2.3.1, RFC 9728 §5.1).

The default is now "Mcp-Session-Id, WWW-Authenticate". An explicit
cors.exposedHeaders still replaces it.`,
  subject: "fix(cors): expose WWW-Authenticate by default",
  tests: ["src/corsExposeHeaders.test.ts"],
};

export const exportAuthResult: Change = {
  apply: (tree) => {
    const auth = tree.file(AUTH);
    auth.insertAfter(
      findTopLevel(auth, "AuthConfig"),
      `\n\n${AUTH_RESULT_TYPE.trimEnd()}`,
    );
    addNamedExport(tree.file(INDEX), "./authentication.js", "AuthResult", true);
  },
  body: `authenticate is typed as returning Promise<unknown>, so what it may
return (authenticated, error, statusCode, wwwAuthenticate) was only
written in the code that reads it. AuthResult names those fields, with
an index signature for the app's own session data, so an app can type
its callback with it. The option's type is unchanged: any existing
callback still compiles.`,
  subject: "feat: export AuthResult",
  tests: ["src/authResult.test.ts"],
};

// The shared test files import the SDK v1 server, as 5.x does; 6.x has it
// as a package of its own.
const SDK_V1_SERVER = '"@modelcontextprotocol/sdk/server/index.js"';

export const v6: Line = {
  adaptSharedTest: (text) => {
    if (!text.includes(SDK_V1_SERVER)) {
      throw new KitError(
        `a shared test file no longer imports ${SDK_V1_SERVER}, which the 6.x line rewrites`,
      );
    }

    return text.replaceAll(SDK_V1_SERVER, '"@modelcontextprotocol/server"');
  },
  changes: [
    escapeBackslashes,
    sendCallbackChallenge,
    challengeThrownResponse,
    validScopeChallenge,
    authenticateSse,
    exposeChallenge,
    exportAuthResult,
  ],
  intro: V6_INTRO,
  name: "6.x",
  paths: V6_PATHS,
};

// Re-exported for the 5.x line, which shares most of these edits.
export { catchOf, descendants, statementOf };
