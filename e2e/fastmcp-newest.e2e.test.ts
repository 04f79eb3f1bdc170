// The newest FastMCP 3.x, unmodified, on the newest SDK 1.x its range takes,
// in an app that puts the packed fork in with `overrides` (FastMCP asks for
// mcp-proxy ^6.4.0, which no 5.x satisfies, so an alias would not do):
// - the reported scenario's curl plan: initialize without a token gets 401,
//   JSON, and exactly the app's challenge; with the token, tools/list works;
// - FastMCP's own `oauth` option reaches mcp-proxy, and a failed
//   authentication gets `Bearer resource_metadata="<RFC 9728 §3.1 URL>"`;
// - FastMCP's sslCa, sslCert and sslKey make mcp-proxy serve HTTPS, which a
//   client that trusts only the test's CA verifies;
// - FastMCP's session features, as with FastMCP 3.22.0.
import type { StreamableHTTPClientTransportOptions } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, inject, it } from "vitest";

import { type Certificates, makeCertificates } from "./support/certificates.js";
import {
  APP_CHALLENGE,
  type FastMCPApp,
  fieldValues,
  GOOD_TOKEN,
  jsonRpcMessage,
  loadProjectSdkClient,
  rawRequest,
  sendReportedInitialize,
  startFastMCPApp,
} from "./support/fastmcpApp.js";
import {
  cleanEnvironment,
  getFreePort,
  run,
  waitForPortClosed,
} from "./support/processes.js";
import {
  FASTMCP_NEWEST_VERSION,
  installedSdkVersions,
  NEWEST_SDK_VERSION,
} from "./support/projects.js";
import { describeSessionFeatures } from "./support/sessionFeatures.js";

const { fork, newestForkApp: app } = inject("e2e");

const LABEL = `FastMCP ${FASTMCP_NEWEST_VERSION} on the fork`;

const apps = new Set<FastMCPApp>();
const cleanups: (() => void)[] = [];

const start = async (
  stateless: boolean,
  name: string,
  options: { env?: Record<string, string>; port?: number } = {},
) => {
  const started = await startFastMCPApp({
    directory: app,
    name,
    stateless,
    ...options,
  });
  apps.add(started);
  return started;
};

const stopAll = async () => {
  await Promise.all([...apps].map((each) => each.stop()));
};

afterAll(async () => {
  await stopAll();

  for (const cleanup of cleanups) {
    cleanup();
  }
});

const modes = [
  { mode: "stateless", stateless: true },
  { mode: "stateful", stateless: false },
] as const;

const mcpHeaders = (extra: Record<string, string> = {}) => ({
  Accept: "application/json, text/event-stream",
  "Content-Type": "application/json",
  ...extra,
});

type ToolList = { result?: { tools: { name: string }[] } };

const TOOLS = ["add", "count", "session", "whoami"];

describe("the consumer project", () => {
  it("takes the packed fork in place of FastMCP's mcp-proxy ^6.4.0 (npm explain)", async () => {
    const explained = JSON.parse(
      await run("npm", ["explain", "mcp-proxy", "--json"], {
        cwd: app,
        env: cleanEnvironment(),
      }),
    ) as {
      dependents: {
        from: { name: string; version: string };
        overridden: boolean;
        rawSpec: string;
        spec: string;
      }[];
      location: string;
      version: string;
    }[];

    // One copy, FastMCP's, whose ^6.4.0 the override turned into the tarball.
    expect(explained).toHaveLength(1);
    expect(explained[0].version).toBe(fork.version);
    expect(explained[0].location).toBe("node_modules/mcp-proxy");
    expect(explained[0].dependents).toEqual([
      expect.objectContaining({
        from: expect.objectContaining({
          name: "fastmcp",
          version: FASTMCP_NEWEST_VERSION,
        }),
        overridden: true,
        rawSpec: "^6.4.0",
        spec: `file:${fork.path}`,
      }),
    ]);
  });

  it(`holds the SDK at ${NEWEST_SDK_VERSION} everywhere (npm ls)`, async () => {
    expect(await installedSdkVersions(app)).toEqual(
      new Set([`@modelcontextprotocol/sdk@${NEWEST_SDK_VERSION}`]),
    );
  });
});

describe.each(modes)(
  `${LABEL}, $mode: the reported scenario's curl plan`,
  ({ mode, stateless }) => {
    let started: FastMCPApp;

    it("starts", async () => {
      started = await start(stateless, `fastmcp-newest-${mode}`);
    });

    it("POST initialize without a token: 401, JSON, exactly the app's challenge", async () => {
      const response = await sendReportedInitialize(started.url);

      expect(response.status).toBe(401);
      expect(response.headers["content-type"]).toMatch(/^application\/json/);
      expect(fieldValues(response, "WWW-Authenticate")).toEqual([
        APP_CHALLENGE,
      ]);
      expect(JSON.parse(response.body)).toEqual({
        error: {
          code: -32000,
          message: "Authentication required: missing bearer token",
        },
        id: 1,
        jsonrpc: "2.0",
      });
    });

    it("with the token: initialize, then tools/list", async () => {
      const authorization = { Authorization: `Bearer ${GOOD_TOKEN}` };
      const initialized = await sendReportedInitialize(started.url, GOOD_TOKEN);

      expect(initialized.status).toBe(200);
      expect(jsonRpcMessage(initialized.body)).toMatchObject({
        id: 1,
        result: { serverInfo: { name: "e2e-fastmcp-app" } },
      });

      const sessionId = fieldValues(initialized, "Mcp-Session-Id");

      if (stateless) {
        expect(sessionId).toEqual([]);
      } else {
        expect(sessionId).toHaveLength(1);
      }

      const session: Record<string, string> = stateless
        ? {}
        : { "Mcp-Session-Id": sessionId[0] };

      if (!stateless) {
        const notified = await rawRequest(started.url, {
          body: '{"jsonrpc":"2.0","method":"notifications/initialized"}',
          headers: mcpHeaders({ ...authorization, ...session }),
          method: "POST",
        });
        expect(notified.status).toBe(202);
      }

      const listed = await rawRequest(started.url, {
        body: '{"jsonrpc":"2.0","method":"tools/list","id":2}',
        headers: mcpHeaders({ ...authorization, ...session }),
        method: "POST",
      });

      expect(listed.status).toBe(200);
      expect(
        (jsonRpcMessage(listed.body) as ToolList).result?.tools
          .map((tool) => tool.name)
          .sort(),
      ).toEqual(TOOLS);
    });
  },
);

describe.each(modes)(
  `${LABEL}, $mode: FastMCP's oauth option`,
  ({ mode, stateless }) => {
    it("an http resource with a path: the challenge points at its RFC 9728 §3.1 metadata, which FastMCP serves", async () => {
      const port = await getFreePort();
      const resource = `http://127.0.0.1:${port}/mcp`;
      const metadata = `http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`;
      const started = await start(stateless, `fastmcp-newest-oauth-${mode}`, {
        env: { E2E_OAUTH_RESOURCE: resource },
        port,
      });

      const response = await sendReportedInitialize(started.url);

      expect(response.status).toBe(401);
      expect(response.headers["content-type"]).toMatch(/^application\/json/);
      expect(fieldValues(response, "WWW-Authenticate")).toEqual([
        `Bearer resource_metadata="${metadata}"`,
      ]);

      // A client follows the challenge to the metadata, and finds the resource.
      const document = await rawRequest(metadata);

      expect(document.status).toBe(200);
      expect(JSON.parse(document.body)).toMatchObject({ resource });

      await started.stop();
    });

    it("mcp://test-server: the challenge points at mcp://test-server/.well-known/oauth-protected-resource", async () => {
      const started = await start(
        stateless,
        `fastmcp-newest-oauth-mcp-${mode}`,
        { env: { E2E_OAUTH_RESOURCE: "mcp://test-server" } },
      );

      const response = await sendReportedInitialize(started.url);

      expect(response.status).toBe(401);
      expect(fieldValues(response, "WWW-Authenticate")).toEqual([
        'Bearer resource_metadata="mcp://test-server/.well-known/oauth-protected-resource"',
      ]);

      await started.stop();
    });
  },
);

describe.each(modes)(
  `${LABEL}, $mode: HTTPS from sslCa, sslCert, sslKey`,
  ({ mode, stateless }) => {
    let certificates: Certificates;
    let started: FastMCPApp;

    it("starts with a certificate for 127.0.0.1 from the test's own CA", async () => {
      certificates = await makeCertificates();
      cleanups.push(() => void certificates.remove());

      started = await start(stateless, `fastmcp-newest-https-${mode}`, {
        env: {
          E2E_SSL_CA: certificates.caPath,
          E2E_SSL_CERT: certificates.certPath,
          E2E_SSL_KEY: certificates.keyPath,
        },
      });

      expect(started.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/mcp$/);
    });

    it("initialize without a token over verified HTTPS: 401 with the app's challenge", async () => {
      const response = await sendReportedInitialize(
        started.url,
        undefined,
        certificates.ca,
      );

      expect(response.status).toBe(401);
      expect(fieldValues(response, "WWW-Authenticate")).toEqual([
        APP_CHALLENGE,
      ]);
    });

    it("a client that does not trust the CA is refused by its own TLS check", async () => {
      await expect(sendReportedInitialize(started.url)).rejects.toMatchObject({
        code: expect.stringMatching(
          /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/,
        ),
      });
    });

    it("the SDK client over verified HTTPS lists and calls tools", async () => {
      // undici (FastMCP's own dependency) carries the CA; the SDK takes a fetch.
      const undici = (await import(
        pathToFileURL(join(app, "node_modules", "undici", "index.js")).href
      )) as {
        Agent: new (options: { connect: { ca: Buffer } }) => unknown;
        fetch: (
          input: unknown,
          init?: Record<string, unknown>,
        ) => Promise<Response>;
      };
      const dispatcher = new undici.Agent({ connect: { ca: certificates.ca } });
      const fetchTrustingCa = ((input: unknown, init?: RequestInit) =>
        undici.fetch(input, {
          ...init,
          dispatcher,
        })) as unknown as NonNullable<
        StreamableHTTPClientTransportOptions["fetch"]
      >;

      const { Client, StreamableHTTPClientTransport } =
        await loadProjectSdkClient(app);
      const transport = new StreamableHTTPClientTransport(
        new URL(started.url),
        {
          fetch: fetchTrustingCa,
          requestInit: { headers: { Authorization: `Bearer ${GOOD_TOKEN}` } },
        },
      );
      const client = new Client({ name: "e2e-https-client", version: "1.0.0" });

      await client.connect(transport);

      try {
        const { tools } = await client.listTools();

        expect(tools.map((tool) => tool.name).sort()).toEqual(TOOLS);
        expect(
          await client.callTool({ arguments: { a: 2, b: 3 }, name: "add" }),
        ).toMatchObject({ content: [{ text: "5", type: "text" }] });

        if (!stateless) {
          await transport.terminateSession();
        }
      } finally {
        await client.close();
      }
    });
  },
);

describeSessionFeatures({
  directory: app,
  label: LABEL,
  start: (stateless, name) => start(stateless, name),
});

describe("afterwards", () => {
  it("leaves no process and no port behind", async () => {
    await stopAll();

    for (const each of apps) {
      expect(each.child.exitCode ?? each.child.signalCode).not.toBeNull();
      expect(await waitForPortClosed(each.port)).toBe(true);
    }
  });
});
