// Whose session is it: each session remembers the principal that created it,
// and a request from anyone else finds no session at all.
import type http from "node:http";

/**
 * Maps what `authenticate` returned (`undefined` without `authenticate`) to
 * a stable id of who is calling, such as the token's `sub`: a new token of
 * the same principal keeps its sessions. `undefined` means nobody in
 * particular: such a request only finds sessions created the same way.
 */
export type GetSessionOwner = (
  authResult: unknown,
  req: http.IncomingMessage,
) => string | undefined;

/** The sessions one request may use, and how it marks those it creates. */
export type OwnedSessions = {
  /** Remembers that this request's principal created `session`. */
  claim: <S extends object>(session: S) => S;
  /**
   * `session` if this request's principal created it, else `undefined`,
   * so that the request is answered as an unknown id is.
   */
  find: <S extends object>(session: S | undefined) => S | undefined;
};

// Without `getSessionOwner`, whoever holds a session id may use it, as in
// every upstream release.
const ANYONE: OwnedSessions = {
  claim: (session) => session,
  find: (session) => session,
};

/**
 * Returns, for each request, the sessions it may use. MCP security best
 * practices, "Session Hijacking": bind session ids to user-specific
 * information, and never treat one as authentication.
 */
export const createOwnedSessions = (getSessionOwner?: GetSessionOwner) => {
  // Keyed by the session's own object, so an owner is forgotten with it.
  const owners = new WeakMap<object, string | undefined>();

  return ({
    authResult,
    req,
  }: {
    authResult: unknown;
    req: http.IncomingMessage;
  }): OwnedSessions => {
    if (!getSessionOwner) {
      return ANYONE;
    }

    const owner: unknown = getSessionOwner(authResult, req);

    // Anything else (a number id, an object) would not compare stably.
    if (owner !== undefined && typeof owner !== "string") {
      throw new TypeError("getSessionOwner must return a string or undefined");
    }

    return {
      claim: (session) => {
        owners.set(session, owner);
        return session;
      },
      // Nothing tells another principal that the session exists: it is
      // answered exactly as an unknown id is.
      find: (session) =>
        session && owners.has(session) && owners.get(session) === owner
          ? session
          : undefined,
    };
  };
};

export type GetOwnedSessions = ReturnType<typeof createOwnedSessions>;
