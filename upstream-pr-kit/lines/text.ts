// The pull request's own words for each line. The kit adds the commits,
// breaking changes and measured test counts around them.

export const V6_INTRO = `# fix(auth): send the challenge authenticate returns, and a valid one on every 401 and 403

A 401 MUST carry a \`WWW-Authenticate\` challenge (RFC 9110 §15.5.2 and
§11.6.1, RFC 6750 §3), and MCP clients start OAuth discovery from its
\`resource_metadata\` (RFC 9728 §5.1; MCP authorization 2025-06-18 §2.3.1,
2025-11-25 §4.2). 6.7.19 sends a challenge on the 401s it builds itself, but
it ignores the one an app's \`authenticate\` computed (\`wwwAuthenticate\`),
answers a thrown 401 \`Response\` without one, sends an unparsable
\`Bearer, error="insufficient_scope"\` on 403 (and only with \`oauth\`), never
authenticates \`GET /sse\` and \`POST /messages\`, hides the header from
browser clients, and escapes only \`"\` inside quoted values.

## What changes

- \`getWWWAuthenticateHeader(oauth, options, authResult?)\`: a third, optional
  argument takes what \`authenticate\` returned or threw (or what
  \`createServer\` threw). Its \`wwwAuthenticate\`, a string or a non-empty
  array of strings (one field line each), each non-empty, at most 8 KiB and
  made of printable ASCII, space and tab, is sent unchanged; anything else is
  ignored with a \`[mcp-proxy]\` warning that never logs the value.
- \`handleResponseError\`: a thrown 401 \`Response\` without
  \`WWW-Authenticate\` gets the challenge the server sends on its own 401s;
  status, headers and body are otherwise passed through as before.
- \`getScopeChallengeResponse\`: \`Bearer error="insufficient_scope", scope=…,
  resource_metadata=…, error_description=…\`, with or without \`oauth\`; an
  \`InsufficientScopeError\` (or a failure with \`statusCode: 403\`) from
  \`authenticate\` or \`createServer\` now reaches it and answers 403.
- \`escapeQuotedString\`: every quoted value escapes \`\\\` before \`"\`.
- \`handleSSERequest\`: \`GET /sse\` and \`POST /messages\` run \`authenticate\`
  first, and a \`createServer\` auth error on \`GET /sse\` goes through
  \`handleCreateServerError\` as on the stream endpoint.
- CORS: the default \`Access-Control-Expose-Headers\` is
  \`Mcp-Session-Id, WWW-Authenticate\`.
- \`AuthResult\` is exported from the package root.

Left alone: upstream's word list for \`createServer\` errors, the
\`error="invalid_token"\` the 401s built from \`oauth\` carry (an app that can
tell a missing token from a bad one says so through \`wwwAuthenticate\`), and
everything about sessions, the 2026-07-28 leg and non-auth errors.`;

export const V6_PATHS = `| path | request | 6.7.19 | with this series |
| --- | --- | --- | --- |
| P1 | \`apiKey\` set, \`X-API-Key\` missing or wrong | 401 \`Bearer error="invalid_token", error_description="Unauthorized: Invalid or missing API key"\` | the same, quoted values escaped |
| P2 | stream request, \`authenticate\` returns falsy or \`{ authenticated: false }\` | 401 \`Bearer error="invalid_token", error_description="<error>"\`; \`wwwAuthenticate\` ignored | the returned \`wwwAuthenticate\` when valid, else as before |
| P3 | \`authenticate\` throws an \`Error\` (with or without \`wwwAuthenticate\`) | 401 as P2, the error's challenge ignored | the error's challenge when valid, else as before |
| P3 | \`authenticate\` throws a 401 \`Response\` without \`WWW-Authenticate\` | passed through: 401 without a challenge | passed through, plus \`Bearer\` (with \`oauth\`'s auth-params) |
| P4 | stateful GET or DELETE, \`authenticate\` fails | 401 (since 6.7.17), callback's challenge ignored | the callback's challenge |
| P5/P6 | \`createServer\` throws an auth error | 401 by the word list, challenge from \`oauth\` only | the error's \`wwwAuthenticate\` when valid |
| P7 | \`GET /sse\`, \`POST /messages\` with \`authenticate\` set | not called: the stream opens without credentials; a \`createServer\` auth error on \`/sse\` is a 500 | \`authenticate\` runs first: 401 with a challenge; the auth error is a 401 |
| P8 | \`InsufficientScopeError\` or \`statusCode: 403\` from \`authenticate\` or \`createServer\` | 401 \`invalid_token\` (or 500); from a handler, 403 with \`Bearer, error=…\` and only with \`oauth\` | 403 \`Bearer error="insufficient_scope", scope="…"[, resource_metadata="…"][, error_description="…"]\` |
| CORS | any cross-origin response | \`Access-Control-Expose-Headers: Mcp-Session-Id\` | \`Mcp-Session-Id, WWW-Authenticate\` |

Unchanged, byte for byte: every 401 whose \`authenticate\` result carries no
\`wwwAuthenticate\`, and every quoted value without a backslash.`;

export const V5_INTRO = `# fix(auth): every 401 carries a challenge, the one authenticate returns first (5.x)

A 401 MUST carry a \`WWW-Authenticate\` challenge (RFC 9110 §15.5.2 and
§11.6.1, RFC 6750 §3), and MCP clients start OAuth discovery from its
\`resource_metadata\` (RFC 9728 §5.1; MCP authorization 2025-06-18 §2.3.1,
2025-11-25 §4.2). 5.12.5 sends one only when \`oauth\` is passed (FastMCP
never passes it), appends the well-known segment after the resource's path,
runs \`authenticate\` only for stateless POSTs, and shares 6.7.19's remaining
gaps: the callback's \`wwwAuthenticate\` is ignored, a thrown 401 \`Response\`
has no challenge, the 403 challenge is unparsable, the SSE endpoints are
never authenticated, browsers cannot read the header, and \`\\\` is not
escaped. This series backports what 6.x fixed since (6.4.0, 6.7.13, 6.7.17,
6.7.19) and carries the rest, one concern per commit.

## What changes

- \`authenticateRequest\` and \`handleCreateServerError\` (a refactor, no
  change on the wire): the inline authentication and the two copies of the
  \`createServer\` catch get one helper each, in the shape 6.x gave them.
- \`getWWWAuthenticateHeader\` and \`getUnauthorizedResponse\` always build a
  \`Bearer\` challenge; \`oauth\` only adds auth-params (as 6.7.13).
- \`getProtectedResourceMetadataUrl\`: the RFC 9728 §3.1 URL (as 6.7.19).
- \`authenticate\` runs on every POST, GET and DELETE of the stream endpoint,
  before the session is looked up (as 6.4.0 and 6.7.17).
- Then the 6.x series: the callback's challenge, a challenge for a thrown 401
  \`Response\`, a valid \`insufficient_scope\` 403, \`authenticate\` on the SSE
  endpoints, \`WWW-Authenticate\` exposed to browsers, \`\\\` escaped, and
  \`AuthResult\` exported.

Left alone: the word list for \`createServer\` errors, the
\`error="invalid_token"\` of the 401s this server builds, and everything about
sessions and non-auth errors.`;

export const V5_PATHS = `| path | request | 5.12.5 | with this series |
| --- | --- | --- | --- |
| P1 | \`apiKey\` set, \`X-API-Key\` missing or wrong | 401, a challenge only with \`oauth\` | 401 \`Bearer error="invalid_token", error_description="Unauthorized: Invalid or missing API key"\` (plus \`oauth\`'s auth-params) |
| P2 | stream POST, \`authenticate\` returns falsy or \`{ authenticated: false }\` | stateless: 401, a challenge only with \`oauth\`; stateful: not called, the session serves the request | 401 in both modes: the returned \`wwwAuthenticate\` when valid, else \`Bearer error="invalid_token", error_description="<error>"\` |
| P3 | \`authenticate\` throws an \`Error\` | stateless: 401 as P2; stateful: not called | 401 in both modes, the error's challenge when valid |
| P3 | \`authenticate\` throws a 401 \`Response\` without \`WWW-Authenticate\` | passed through without a challenge | passed through, plus \`Bearer\` (with \`oauth\`'s auth-params) |
| P4 | stateful GET or DELETE with a live session, bad credentials | not called: the session is served | 401 before the session lookup |
| P5/P6 | \`createServer\` throws an auth error | 401 by the word list, a challenge only with \`oauth\` | 401 with a challenge, the error's \`wwwAuthenticate\` when valid |
| P7 | \`GET /sse\`, \`POST /messages\` with \`authenticate\` set | not called; a \`createServer\` auth error on \`/sse\` is a 500 | \`authenticate\` runs first: 401 with a challenge; the auth error is a 401 |
| P8 | \`InsufficientScopeError\` or \`statusCode: 403\` | from \`authenticate\`/\`createServer\`: 401 or 500; from a handler: 403 with \`Bearer, error=…\`, only with \`oauth\` | 403 \`Bearer error="insufficient_scope", scope="…"[, resource_metadata="…"][, error_description="…"]\` |
| \`oauth\` resource with a path | \`resource: "https://h/mcp"\` | \`resource_metadata="https://h/mcp/.well-known/oauth-protected-resource"\` | \`resource_metadata="https://h/.well-known/oauth-protected-resource/mcp"\` |
| CORS | any cross-origin response | \`Access-Control-Expose-Headers: Mcp-Session-Id\` | \`Mcp-Session-Id, WWW-Authenticate\` |

Unchanged, byte for byte: an origin-only resource's \`resource_metadata\`
(\`https://h\` gives \`https://h/.well-known/oauth-protected-resource\`) and every
answer with \`oauth\` set whose values hold no backslash.`;
