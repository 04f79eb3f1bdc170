import { readFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";

/**
 * Where an HTTPS server's PEM files are, by path: FastMCP 3.35 passes its
 * `httpStream` options of these names on, and the CLI's `--sslCa`,
 * `--sslCert` and `--sslKey` fill them.
 */
export type TLSOptions = {
  /** CA certificates to trust, replacing Node's defaults. */
  sslCa?: null | string;
  /** The server's certificate chain. */
  sslCert?: null | string;
  /** The private key of `sslCert`. */
  sslKey?: null | string;
};

// An empty path counts as none, as in upstream 6.x, where an unset
// MCP_PROXY_SSL_* variable can arrive as "".
const isSet = (value: unknown) =>
  value !== undefined && value !== null && value !== "";

const readPem = async ({
  name,
  path,
}: {
  name: keyof TLSOptions;
  path: unknown;
}) => {
  if (typeof path !== "string") {
    throw new TypeError(`${name} must be a file path, not a ${typeof path}`);
  }

  try {
    return await readFile(path);
  } catch (error) {
    throw new Error(
      `could not read the ${name} file "${path}": ${(error as Error).message}`,
      { cause: error },
    );
  }
};

/**
 * The server of `listener`: HTTPS when any of `sslCa`, `sslCert` and
 * `sslKey` is set, else plain HTTP. Rejects, rather than fall back to plain
 * HTTP, when a certificate comes without its key (or a key without its
 * certificate), a file cannot be read, or Node cannot use what it holds.
 */
export const createHTTPServer = async ({
  listener,
  sslCa,
  sslCert,
  sslKey,
}: {
  listener: http.RequestListener;
} & TLSOptions): Promise<http.Server | https.Server> => {
  if (!isSet(sslCa) && !isSet(sslCert) && !isSet(sslKey)) {
    return http.createServer(listener);
  }

  if (!isSet(sslCert) || !isSet(sslKey)) {
    const given = Object.entries({ sslCa, sslCert, sslKey })
      .filter(([, value]) => isSet(value))
      .map(([name]) => name)
      .join(" and ");

    throw new Error(
      `HTTPS needs both sslCert and sslKey, but only ${given} ${given.includes(" and ") ? "are" : "is"} set`,
    );
  }

  const [ca, cert, key] = await Promise.all([
    isSet(sslCa) ? readPem({ name: "sslCa", path: sslCa }) : undefined,
    readPem({ name: "sslCert", path: sslCert }),
    readPem({ name: "sslKey", path: sslKey }),
  ]);

  try {
    return https.createServer({ ca, cert, key }, listener);
  } catch (error) {
    // Not PEM, or a key that does not match the certificate.
    const files = Object.entries({ sslCa, sslCert, sslKey })
      .filter(([, path]) => isSet(path))
      .map(([name, path]) => `${name} "${path}"`)
      .join(", ");

    throw new Error(
      `could not serve HTTPS with ${files}: ${(error as Error).message}`,
      { cause: error },
    );
  }
};
