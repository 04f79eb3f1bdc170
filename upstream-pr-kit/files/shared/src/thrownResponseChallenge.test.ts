import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { getRandomPort } from "get-port-please";
import { expect, it } from "vitest";

import { startHTTPServer } from "./startHTTPServer.js";

const initializeRequest = {
  id: 1,
  jsonrpc: "2.0",
  method: "initialize",
  params: {
    capabilities: {},
    clientInfo: { name: "test", version: "1.0.0" },
    protocolVersion: "2025-03-26",
  },
};

const postInitialize = (port: number) =>
  fetch(`http://localhost:${port}/mcp`, {
    body: JSON.stringify(initializeRequest),
    headers: {
      Accept: "application/json, text/event-stream",
      "Content-Type": "application/json",
    },
    method: "POST",
  });

it("gives a 401 Response thrown by authenticate a Bearer challenge", async () => {
  const port = await getRandomPort();

  const httpServer = await startHTTPServer({
    authenticate: async () => {
      throw new Response(null, { status: 401 });
    },
    createServer: async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
    port,
    stateless: true,
  });

  try {
    const response = await postInitialize(port);

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe("Bearer");
    expect(await response.text()).toBe("");
  } finally {
    await httpServer.close();
  }
});

it("puts the oauth metadata URL in the challenge of a thrown 401 Response", async () => {
  const port = await getRandomPort();

  const httpServer = await startHTTPServer({
    authenticate: async () => {
      throw new Response("token expired", { status: 401 });
    },
    createServer: async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
    oauth: {
      protectedResource: { resource: "https://example.com/mcp" },
    },
    port,
    stateless: true,
  });

  try {
    const response = await postInitialize(port);

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(
      'Bearer resource_metadata="https://example.com/.well-known/oauth-protected-resource/mcp"',
    );
    expect(await response.text()).toBe("token expired");
  } finally {
    await httpServer.close();
  }
});

it("gives a 401 Response thrown by createServer a Bearer challenge", async () => {
  const port = await getRandomPort();

  const httpServer = await startHTTPServer({
    createServer: async () => {
      throw new Response(null, { status: 401 });
    },
    port,
    stateless: true,
  });

  try {
    const response = await postInitialize(port);

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe("Bearer");
  } finally {
    await httpServer.close();
  }
});

it("keeps the challenge a thrown Response carries", async () => {
  const port = await getRandomPort();

  const httpServer = await startHTTPServer({
    authenticate: async () => {
      throw new Response(null, {
        headers: { "WWW-Authenticate": 'Basic realm="intranet"' },
        status: 401,
      });
    },
    createServer: async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
    port,
    stateless: true,
  });

  try {
    const response = await postInitialize(port);

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(
      'Basic realm="intranet"',
    );
  } finally {
    await httpServer.close();
  }
});

it("adds no challenge to a thrown Response that is not a 401", async () => {
  const port = await getRandomPort();

  const httpServer = await startHTTPServer({
    authenticate: async () => {
      throw new Response("slow down", { status: 429 });
    },
    createServer: async () =>
      new Server({ name: "test", version: "1.0.0" }, { capabilities: {} }),
    port,
    stateless: true,
  });

  try {
    const response = await postInitialize(port);

    expect(response.status).toBe(429);
    expect(response.headers.get("WWW-Authenticate")).toBeNull();
  } finally {
    await httpServer.close();
  }
});
