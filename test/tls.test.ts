/**
 * HTTPS: `startHTTPServer`'s `sslCa`, `sslCert` and `sslKey`, the PEM file
 * paths FastMCP 3.35 passes on. Every client here verifies the server
 * against the test's own CA, for 127.0.0.1; a bad configuration rejects and
 * leaves nothing listening, plain HTTP included.
 */
import { extractWWWAuthenticateParams } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import {
  afterAll,
  beforeAll,
  describe,
  expect,
  it,
  onTestFinished,
} from "vitest";

import { startHTTPServer } from "../src/startHTTPServer.js";
import {
  type Certificates,
  createCertificates,
  fetchTrusting,
} from "./certificates.js";
import { createTestServer } from "./compat-helpers.js";
import {
  byName,
  getFreePort,
  initializeRequest,
  streamHeaders,
} from "./helpers.js";

type Options = Partial<Parameters<typeof startHTTPServer>[0]>;

let certificates: Certificates;

beforeAll(async () => {
  certificates = await createCertificates();
}, 60_000);

afterAll(async () => {
  await certificates?.remove();
});

/** Starts a server on 127.0.0.1 that the test closes when it ends. */
const start = async (options: Options) => {
  const port = await getFreePort();
  const server = await startHTTPServer({
    createServer: createTestServer,
    host: "127.0.0.1",
    port,
    ...options,
  });

  onTestFinished(() => server.close());

  return { port, url: (path: string) => `https://127.0.0.1:${port}${path}` };
};

const startHTTPS = (options: Options = {}) =>
  start({
    sslCert: certificates.certPath,
    sslKey: certificates.keyPath,
    ...options,
  });

const escapeRegExp = (text: string) =>
  text.replace(/[$()*+.?[\\\]^{|}]/g, "\\$&");

/** Whether anything accepts a TCP connection on 127.0.0.1:`port`. */
const isListening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1");

    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });

const postInitialize = (url: string, ca: Buffer) =>
  fetchTrusting({ ca })(url, {
    body: JSON.stringify(initializeRequest()),
    headers: streamHeaders,
    method: "POST",
  });

describe("serving HTTPS", () => {
  it.each([false, true])(
    "an MCP client verifies the server, initializes and lists tools (stateless: %s)",
    async (stateless) => {
      const { url } = await startHTTPS({ stateless });
      const client = new Client({ name: "tls-test", version: "1.0.0" });

      await client.connect(
        new StreamableHTTPClientTransport(new URL(url("/mcp")), {
          fetch: fetchTrusting({ ca: certificates.ca }),
        }),
      );

      try {
        expect(client.getServerVersion()).toEqual({
          name: "test",
          version: "1.0.0",
        });
        expect(
          (await client.listTools()).tools.map(({ name }) => name),
        ).toEqual(["ping"]);
      } finally {
        await client.close();
      }
    },
  );

  it("with sslCa too: the CA file is read, and the client still verifies", async () => {
    const { url } = await startHTTPS({ sslCa: certificates.caPath });
    const response = await postInitialize(url("/mcp"), certificates.ca);

    expect(response.status).toBe(200);
    await response.body?.cancel();
  });

  it("a client that trusts another CA cannot connect", async () => {
    const { url } = await startHTTPS();

    await expect(
      postInitialize(url("/mcp"), certificates.otherCa),
    ).rejects.toMatchObject({ code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
  });

  it("plain HTTP on the same port gets no answer at all", async () => {
    const { port } = await startHTTPS();

    // The TLS handshake fails, and the server closes the connection.
    await expect(
      fetch(`http://127.0.0.1:${port}/mcp`, {
        body: JSON.stringify(initializeRequest()),
        headers: streamHeaders,
        method: "POST",
      }),
    ).rejects.toThrow("fetch failed");
  });

  it("the 401 challenge goes out over HTTPS, and the SDK client reads it", async () => {
    const port = await getFreePort();
    const resource = `https://127.0.0.1:${port}/mcp`;

    await startHTTPServer({
      authenticate: async () => ({ authenticated: false }),
      createServer: createTestServer,
      host: "127.0.0.1",
      oauth: { protectedResource: { resource }, scope: "mcp:tools" },
      port,
      sslCert: certificates.certPath,
      sslKey: certificates.keyPath,
    }).then((server) => onTestFinished(() => server.close()));

    const response = await postInitialize(resource, certificates.ca);

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(
      `Bearer resource_metadata="https://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`,
    );
    expect(await response.text()).toBe(
      '{"error":{"code":-32000,"message":"Unauthorized: Authentication failed"},"id":1,"jsonrpc":"2.0"}',
    );
    expect(extractWWWAuthenticateParams(response)).toEqual({
      error: undefined,
      resourceMetadataUrl: new URL(
        `https://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`,
      ),
      scope: "mcp:tools",
    });
  });

  it("the API-key 401 goes out over HTTPS", async () => {
    const { url } = await startHTTPS({ apiKey: "secret" });
    const response = await postInitialize(url("/mcp"), certificates.ca);

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(
      'Bearer realm="mcp-proxy"',
    );
    expect(await response.text()).toBe(
      '{"error":{"code":401,"message":"Unauthorized: Invalid or missing API key"},"id":null,"jsonrpc":"2.0"}',
    );
  });
});

describe("plain HTTP when no TLS option is set", () => {
  // FastMCP 3.35 passes all three, undefined unless configured.
  it.each<[string, Options]>([
    [
      "undefined (FastMCP's default)",
      { sslCa: undefined, sslCert: undefined, sslKey: undefined },
    ],
    ["null", { sslCa: null, sslCert: null, sslKey: null }],
    ["empty strings", { sslCa: "", sslCert: "", sslKey: "" }],
  ])("%s", async (_, options) => {
    const { port } = await start(options);
    const response = await fetch(`http://127.0.0.1:${port}/ping`);

    expect(await response.text()).toBe("pong");
  });
});

describe("a TLS configuration that cannot serve HTTPS rejects", () => {
  type Row = {
    /** The whole message, or how it starts; read once certificates exist. */
    message: () => string;
    name: string;
    options: () => Options;
  };

  const file = (name: string) => join(certificates.directory, name);

  const rows: Row[] = [
    {
      message: () =>
        "HTTPS needs both sslCert and sslKey, but only sslCert is set",
      name: "sslCert without sslKey",
      options: () => ({ sslCert: certificates.certPath }),
    },
    {
      message: () =>
        "HTTPS needs both sslCert and sslKey, but only sslKey is set",
      name: "sslKey without sslCert",
      options: () => ({ sslKey: certificates.keyPath }),
    },
    {
      message: () =>
        "HTTPS needs both sslCert and sslKey, but only sslCa is set",
      name: "sslCa alone",
      options: () => ({ sslCa: certificates.caPath }),
    },
    {
      message: () =>
        "HTTPS needs both sslCert and sslKey, but only sslCa and sslCert are set",
      name: "sslCa and sslCert without sslKey",
      options: () => ({
        sslCa: certificates.caPath,
        sslCert: certificates.certPath,
      }),
    },
    {
      message: () =>
        `could not read the sslCert file "${file("missing.pem")}": ENOENT`,
      name: "a certificate file that does not exist",
      options: () => ({
        sslCert: file("missing.pem"),
        sslKey: certificates.keyPath,
      }),
    },
    {
      message: () =>
        `could not read the sslKey file "${file("missing.pem")}": ENOENT`,
      name: "a key file that does not exist",
      options: () => ({
        sslCert: certificates.certPath,
        sslKey: file("missing.pem"),
      }),
    },
    {
      message: () =>
        `could not read the sslCa file "${file("missing.pem")}": ENOENT`,
      name: "a CA file that does not exist",
      options: () => ({
        sslCa: file("missing.pem"),
        sslCert: certificates.certPath,
        sslKey: certificates.keyPath,
      }),
    },
    {
      message: () =>
        `could not read the sslCert file "${certificates.directory}": EISDIR`,
      name: "a directory for the certificate",
      options: () => ({
        sslCert: certificates.directory,
        sslKey: certificates.keyPath,
      }),
    },
    {
      message: () =>
        `could not serve HTTPS with sslCert "${file("not-pem.txt")}", sslKey "${certificates.keyPath}": `,
      name: "a certificate file that is not PEM",
      options: () => ({
        sslCert: file("not-pem.txt"),
        sslKey: certificates.keyPath,
      }),
    },
    {
      message: () =>
        `could not serve HTTPS with sslCert "${certificates.certPath}", sslKey "${file("ca.key")}": `,
      name: "a key that is not the certificate's",
      options: () => ({
        sslCert: certificates.certPath,
        sslKey: file("ca.key"),
      }),
    },
    {
      message: () => "sslCert must be a file path, not a number",
      name: "a path that is not a string",
      options: () => ({
        sslCert: 5 as unknown as string,
        sslKey: certificates.keyPath,
      }),
    },
  ];

  it.each(byName(rows))(
    "%s: the message names the option (and the path), nothing listens",
    async (_, { message, options }) => {
      await writeFile(file("not-pem.txt"), "not a certificate");
      const port = await getFreePort();
      const started = startHTTPServer({
        createServer: createTestServer,
        host: "127.0.0.1",
        port,
        ...options(),
      });

      onTestFinished(async () => {
        // Should it have started after all, it must not outlive the test.
        await started.then(({ close }) => close()).catch(() => {});
      });

      const error = await started.then(
        () => new Error("started"),
        (reason: Error) => reason,
      );

      expect(error.message).toMatch(new RegExp(`^${escapeRegExp(message())}`));
      expect(await isListening(port)).toBe(false);
    },
  );
});
