// What the benchmark's parent (run.ts) and its server processes (server.ts)
// agree on.

export const SCENARIOS = ["S1", "S2", "S3", "S4"] as const;

export type Scenario = (typeof SCENARIOS)[number];

/**
 * The servers: the fork, upstream 5.10.0, and two bare `node:http` ceilings
 * that replay the fork's answer: `bare` at once, `bare-body` once it has
 * read and parsed the request's JSON body (as S1's answer needs its id).
 */
export const IMPLEMENTATIONS = [
  "fork",
  "upstream",
  "bare",
  "bare-body",
] as const;

export type Implementation = (typeof IMPLEMENTATIONS)[number];

/** S1: the challenge `authenticate` computes (upstream drops it). */
export const DYNAMIC_CHALLENGE = 'Bearer realm="x", error="invalid_token"';

/** S2: the key the server wants; the benchmark's requests send none. */
export const API_KEY = "bench-api-key";

/** S3: the token `authenticate` accepts. */
export const TOKEN = "bench-token";

export const PROTOCOL_VERSION = "2025-03-26";

/** The response the bare `node:http` ceilings send to every request. */
export type CannedResponse = {
  body: string;
  headers: Record<string, string | string[]>;
  status: number;
};
