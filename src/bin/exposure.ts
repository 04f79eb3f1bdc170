// What the CLI tells its user at start: where it listens, what guards it,
// and a warning when anyone on the network can run the wrapped command.
import { isIP } from "node:net";

/** Whether `host` only takes connections from this machine. */
export const isLoopbackHost = (host: string) => {
  const address = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();

  if (address === "localhost") {
    return true;
  }

  if (isIP(address) === 4) {
    return address.startsWith("127.");
  }

  return address === "::1" || /^::ffff:127\./.test(address);
};

const isAllInterfaces = (host: string) =>
  ["::", "[::]", "0.0.0.0"].includes(host);

/**
 * The lines the CLI prints at start. Never the API key itself: only
 * whether there is one.
 */
export const describeExposure = ({
  allowedHosts,
  allowedOrigins,
  command,
  hasApiKey,
  host,
  port,
  sseEndpoint,
  streamEndpoint,
}: {
  /** The hosts listed, or undefined: any. */
  allowedHosts?: string[];
  /** The origins listed, "loopback" (the default), or undefined: any. */
  allowedOrigins: "loopback" | string[] | undefined;
  command: string;
  hasApiKey: boolean;
  host: string;
  port: number;
  sseEndpoint: null | string;
  streamEndpoint: null | string;
}) => {
  const address = `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  const scope = isAllInterfaces(host)
    ? "all interfaces"
    : isLoopbackHost(host)
      ? "this machine only"
      : "this address";
  const endpoints = [
    streamEndpoint && `streamable HTTP at ${streamEndpoint}`,
    sseEndpoint && `SSE at ${sseEndpoint}`,
  ].filter(Boolean);

  const info = [
    `[mcp-proxy] listening on ${address} (${scope}): ${endpoints.join(", ")}`,
    hasApiKey
      ? "[mcp-proxy] API key: required in the X-API-Key header"
      : "[mcp-proxy] API key: none (--apiKey not set)",
    allowedOrigins === undefined
      ? "[mcp-proxy] browser origins allowed: any (--allowedOrigins *)"
      : allowedOrigins === "loopback"
        ? "[mcp-proxy] browser origins allowed: loopback pages only (http(s)://localhost, 127.0.0.1, [::1], any port); --allowedOrigins adds others"
        : `[mcp-proxy] browser origins allowed: ${allowedOrigins.join(", ") || "none"}`,
    allowedHosts === undefined
      ? "[mcp-proxy] Host headers allowed: any (--allowedHosts not set)"
      : `[mcp-proxy] Host headers allowed: ${allowedHosts.join(", ") || "none"}`,
  ];

  const warnings: string[] = [];

  if (!hasApiKey && !isLoopbackHost(host)) {
    warnings.push(
      `[mcp-proxy] warning: listening on ${scope} without --apiKey: anyone who can reach port ${port} can run the wrapped command (${command}) through its tools`,
    );
  }

  // A page whose name resolves to 127.0.0.1 (DNS rebinding) is refused by
  // the Origin check on every POST; the Host check refuses its GETs too.
  if (allowedHosts === undefined && isLoopbackHost(host)) {
    info.push(
      `[mcp-proxy] to refuse DNS rebinding outright, add --allowedHosts localhost:${port},127.0.0.1:${port},[::1]:${port}`,
    );
  }

  return { info, warnings };
};
