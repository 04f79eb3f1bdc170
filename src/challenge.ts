// The challenges a failed authentication carries (RFC 9110 §11.6.1): the
// checks a challenge must pass to go on the wire, and the Bearer challenges
// the fork builds from the `oauth` option. Which one a 401 gets is
// decided by `getWWWAuthenticateHeader`, in startHTTPServer.ts.

/** The `oauth` option (`AuthConfig["oauth"]`): what the static challenge says. */
export type OAuthConfig = {
  error?: string;
  error_description?: string;
  error_uri?: string;
  protectedResource?: {
    resource?: string;
  };
  realm?: string;
  scope?: string;
};

/** What a caller of `getUnauthorizedResponse` knows about the failure. */
export type UnauthorizedResponseOptions = {
  error?: string;
  error_description?: string;
  error_uri?: string;
  scope?: string;
};

// RFC 6750 §3: a Bearer challenge carries at least one auth-param.
export const BARE_CHALLENGE = 'Bearer realm="mcp-proxy"';

const MAX_CHALLENGE_LENGTH = 8192;

/**
 * What keeps a challenge off the wire, or `undefined` if nothing does. Only
 * printable ASCII, space and HTAB pass: Node's `setHeader` throws on CR, LF,
 * NUL, other controls and anything above U+00FF, and clients misread the
 * rest (RFC 9110 §5.5).
 */
export const getChallengeProblem = (value: unknown): string | undefined => {
  if (typeof value !== "string") {
    return `is ${value === null ? "null" : `a ${typeof value}`}, not a string`;
  }

  if (value.trim() === "") {
    return "is empty";
  }

  if (value.length > MAX_CHALLENGE_LENGTH) {
    return `is ${value.length} characters long, over ${MAX_CHALLENGE_LENGTH}`;
  }

  const index = value.search(/[^\t\x20-\x7e]/);

  return index === -1
    ? undefined
    : `has a character that is not printable ASCII at index ${index}`;
};

const getChallengeListProblem = (values: unknown[]): string | undefined => {
  if (values.length === 0) {
    return "is an empty array";
  }

  for (const [index, value] of values.entries()) {
    const problem = getChallengeProblem(value);

    if (problem) {
      return `has an entry ${index} that ${problem}`;
    }
  }

  return undefined;
};

/**
 * The challenge the app computed, from `authResult.wwwAuthenticate`: a string,
 * or a non-empty array of strings sent as one field line each.
 */
export const getDynamicChallenge = (
  authResult: unknown,
): string | string[] | undefined => {
  let value: unknown;
  let problem: string | undefined;

  try {
    value = (authResult as { wwwAuthenticate?: unknown } | null | undefined)
      ?.wwwAuthenticate;
    // A copy, so that what is checked is what is sent.
    value = Array.isArray(value) ? [...value] : value;
  } catch {
    problem = "cannot be read";
  }

  if (value === undefined && !problem) {
    return undefined;
  }

  problem ??= Array.isArray(value)
    ? getChallengeListProblem(value)
    : getChallengeProblem(value);

  if (!problem) {
    return value as string | string[];
  }

  console.warn(`[mcp-proxy] ignoring wwwAuthenticate: it ${problem}`);

  return undefined;
};

/**
 * The RFC 9728 §3.1 metadata URL of a resource: the well-known segment goes
 * between the host and the path, and a path of "/" counts as none. Any
 * scheme with a host will do (FastMCP's own tests use `mcp://test-server`);
 * a URL without a host (`urn:x`) has nowhere to put the segment.
 */
export const getResourceMetadataUrl = (
  resource: string,
): string | undefined => {
  let url: URL;

  try {
    url = new URL(resource);
  } catch {
    return undefined;
  }

  if (url.host === "") {
    return undefined;
  }

  // RFC 9728 §3.1: a terminating "/" right after the host goes; a path
  // keeps its own.
  const path = url.pathname === "/" ? "" : url.pathname;

  // Not `url.origin`: it is "null" for schemes the URL standard does not
  // know, such as mcp:.
  return `${url.protocol}//${url.host}/.well-known/oauth-protected-resource${path}${url.search}`;
};

// RFC 9110 §5.6.4: escape `\` first, then `"`.
const quote = (value: string) =>
  `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;

/** What reading `get` gives, or `undefined` when a getter throws. */
const readSafely = ({ get }: { get: () => unknown }) => {
  try {
    return get();
  } catch {
    return undefined;
  }
};

/**
 * A Bearer challenge of these auth-params, in this order, or `undefined`
 * when none is left. Each value goes out as a quoted-string; one that is not
 * a string fit for the wire (non-empty printable ASCII) is left out, so a
 * bad field costs only itself.
 */
const getBearerChallenge = ({
  params,
}: {
  params: [name: string, value: unknown][];
}): string | undefined => {
  const parts = params.flatMap(([name, value]) =>
    typeof value === "string" && !getChallengeProblem(value)
      ? [`${name}=${quote(value)}`]
      : [],
  );

  // RFC 6750 §3: the scheme is followed by at least one auth-param.
  if (parts.length === 0) {
    return undefined;
  }

  const challenge = `Bearer ${parts.join(", ")}`;

  return getChallengeProblem(challenge) ? undefined : challenge;
};

/** `oauth`'s fields, each `undefined` when reading it throws. */
const readOAuth = ({ oauth }: { oauth?: OAuthConfig }) => ({
  error: readSafely({ get: () => oauth?.error }),
  error_description: readSafely({ get: () => oauth?.error_description }),
  error_uri: readSafely({ get: () => oauth?.error_uri }),
  realm: readSafely({ get: () => oauth?.realm }),
  resource: readSafely({ get: () => oauth?.protectedResource?.resource }),
  scope: readSafely({ get: () => oauth?.scope }),
});

const getMetadataUrlOf = ({ resource }: { resource: unknown }) =>
  typeof resource === "string" ? getResourceMetadataUrl(resource) : undefined;

/**
 * The challenge of rule 2, or `undefined` when `oauth` gives none: the
 * app's `realm`, the RFC 9728 §3.1 metadata URL of its resource, then its
 * `error`, `error_description`, `error_uri` and `scope` (5.12.5's order),
 * each only if configured; `options` win over `oauth`'s own values.
 * `AuthenticationMiddleware` builds its 401 headers with it too.
 */
export const getStaticChallenge = ({
  oauth,
  options,
}: {
  oauth?: OAuthConfig;
  options?: UnauthorizedResponseOptions;
}): string | undefined => {
  const configured = readOAuth({ oauth });
  const given = (name: keyof UnauthorizedResponseOptions) =>
    readSafely({ get: () => options?.[name] }) || configured[name];

  return getBearerChallenge({
    params: [
      ["realm", configured.realm],
      // RFC 9728 §5.1: where the client finds the authorization server.
      ["resource_metadata", getMetadataUrlOf(configured)],
      ["error", given("error")],
      ["error_description", given("error_description")],
      ["error_uri", given("error_uri")],
      ["scope", given("scope")],
    ],
  });
};

/**
 * The challenge of a 403 for a token without the scopes needed (MCP
 * authorization, "Runtime Insufficient Scope Errors"): the app's `realm`,
 * `error="insufficient_scope"`, the scopes, the metadata URL of `oauth`'s
 * resource and the description, in the MCP specification's order.
 */
export const getScopeChallenge = ({
  errorDescription,
  oauth,
  requiredScopes,
}: {
  errorDescription?: string;
  oauth?: OAuthConfig;
  requiredScopes: string[];
}): string => {
  const configured = readOAuth({ oauth });
  const scopes = Array.isArray(requiredScopes)
    ? requiredScopes.filter(
        (scope) => typeof scope === "string" && scope.trim() !== "",
      )
    : [];

  return (
    getBearerChallenge({
      params: [
        ["realm", configured.realm],
        // RFC 6750 §3.1: a token lacking scope gets insufficient_scope, and
        // MAY be told the scope needed.
        ["error", "insufficient_scope"],
        ["scope", scopes.join(" ")],
        ["resource_metadata", getMetadataUrlOf(configured)],
        ["error_description", errorDescription],
      ],
    }) ?? 'Bearer error="insufficient_scope"'
  );
};
