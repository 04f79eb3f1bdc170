/**
 * Which origins the CORS headers let read an answer. A page may only read
 * a cookie-credentialed answer when Access-Control-Allow-Origin names its
 * own origin and Access-Control-Allow-Credentials is true, so the fork
 * echoes an origin only when the app allowed that origin by name or by
 * function.
 */
import { afterEach, describe, expect, it } from "vitest";

import type { CorsOptions } from "../src/cors.js";

import { startServer } from "./compat-helpers.js";

const toClose: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of toClose.splice(0)) {
    await close();
  }
});

const corsHeadersFor = async (
  cors: boolean | CorsOptions | undefined,
  origin: string,
) => {
  const server = await startServer("ours", cors === undefined ? {} : { cors });
  toClose.push(server.close);

  const { headers } = await fetch(`${server.url}/ping`, {
    headers: { Origin: origin },
  });

  return {
    allowCredentials: headers.get("access-control-allow-credentials"),
    allowOrigin: headers.get("access-control-allow-origin"),
    vary: headers.get("vary"),
  };
};

describe("Access-Control-Allow-Origin", () => {
  it.each([
    {
      cors: undefined,
      expected: { allowCredentials: "true", allowOrigin: "*", vary: null },
      name: "default",
    },
    {
      cors: true,
      expected: { allowCredentials: "true", allowOrigin: "*", vary: null },
      name: "cors: true",
    },
    {
      cors: { origin: "*" },
      expected: { allowCredentials: "true", allowOrigin: "*", vary: null },
      name: "origin '*'",
    },
    {
      cors: { credentials: false },
      expected: { allowCredentials: "false", allowOrigin: "*", vary: null },
      name: "credentials false",
    },
    {
      cors: { origin: "https://app.example" },
      expected: {
        allowCredentials: "true",
        allowOrigin: "https://app.example",
        vary: null,
      },
      name: "one origin, sent as it is",
    },
    {
      cors: { origin: ["https://evil.example"] },
      expected: {
        allowCredentials: "true",
        allowOrigin: "https://evil.example",
        vary: "Origin",
      },
      name: "listed origin, echoed",
    },
    {
      cors: { origin: ["https://app.example"] },
      expected: { allowCredentials: "true", allowOrigin: null, vary: "Origin" },
      name: "unlisted origin, not echoed",
    },
    {
      cors: { origin: () => true },
      expected: {
        allowCredentials: "true",
        allowOrigin: "https://evil.example",
        vary: "Origin",
      },
      name: "function allows, echoed",
    },
    {
      cors: { origin: () => false },
      expected: { allowCredentials: "true", allowOrigin: null, vary: "Origin" },
      name: "function refuses, not echoed",
    },
  ])("$name", async ({ cors, expected }) => {
    expect(await corsHeadersFor(cors, "https://evil.example")).toEqual(
      expected,
    );
  });

  it("the defaults never pair an echoed origin with credentials", async () => {
    for (const origin of [
      "https://evil.example",
      "http://127.0.0.1:1",
      "https://app.example:8443",
    ]) {
      const { allowCredentials, allowOrigin } = await corsHeadersFor(
        undefined,
        origin,
      );

      expect(
        allowCredentials === "true" && allowOrigin === origin,
        origin,
      ).toBe(false);
    }
  });
});
