// TLS material for the HTTPS tests, made with the system's openssl: a CA,
// a server certificate it signs for 127.0.0.1, and a fetch that trusts
// only that CA, so every test that reaches the server has verified it.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { promisify } from "node:util";

const run = promisify(execFile);

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

export type Certificates = {
  /** The CA that signed `cert`: what a client trusts. */
  ca: Buffer;
  /** Path of `ca` in PEM. */
  caPath: string;
  /** Path of the server certificate, for 127.0.0.1. */
  certPath: string;
  directory: string;
  /** Path of the server certificate's private key. */
  keyPath: string;
  /** A CA that signed nothing here. */
  otherCa: Buffer;
  remove: () => Promise<void>;
};

/** A CA, and a certificate it signs with 127.0.0.1 in its subjectAltName. */
export const createCertificates = async (): Promise<Certificates> => {
  const directory = await mkdtemp(join(tmpdir(), "mcp-proxy-tls-"));
  const path = (name: string) => join(directory, name);
  const openssl = (args: string[]) => run("openssl", args, { cwd: directory });
  const selfSigned = (name: string) =>
    openssl([
      "req",
      "-x509",
      ...EC_KEY,
      "-nodes",
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
      "-keyout",
      path(`${name}.key`),
      "-out",
      path(`${name}.pem`),
    ]);

  await Promise.all([selfSigned("ca"), selfSigned("other-ca")]);
  await openssl([
    "req",
    ...EC_KEY,
    "-nodes",
    "-subj",
    "/CN=127.0.0.1",
    "-keyout",
    path("server.key"),
    "-out",
    path("server.csr"),
  ]);
  await writeFile(
    path("server.ext"),
    [
      "basicConstraints=CA:FALSE",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=IP:127.0.0.1",
      "",
    ].join("\n"),
  );
  await openssl([
    "x509",
    "-req",
    "-in",
    path("server.csr"),
    "-CA",
    path("ca.pem"),
    "-CAkey",
    path("ca.key"),
    "-set_serial",
    "1",
    "-days",
    "2",
    "-extfile",
    path("server.ext"),
    "-out",
    path("server.pem"),
  ]);

  return {
    ca: await readFile(path("ca.pem")),
    caPath: path("ca.pem"),
    certPath: path("server.pem"),
    directory,
    keyPath: path("server.key"),
    otherCa: await readFile(path("other-ca.pem")),
    remove: () => rm(directory, { force: true, recursive: true }),
  };
};

/**
 * A `fetch` over node:https that trusts `ca` alone and checks the server's
 * name, as the global fetch would, streaming the response body (the SDK
 * reads event streams from it).
 */
export const fetchTrusting =
  ({ ca }: { ca: Buffer }) =>
  (input: Request | string | URL, init: RequestInit = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : input);
      const body = init.body;

      if (body !== undefined && body !== null && typeof body !== "string") {
        reject(new TypeError("fetchTrusting sends string bodies only"));
        return;
      }

      const outgoing = request(
        url,
        {
          ca,
          headers: Object.fromEntries(new Headers(init.headers)),
          method: init.method ?? "GET",
          signal: init.signal ?? undefined,
        },
        (incoming) => {
          const headers = new Headers();

          for (const [name, value] of Object.entries(incoming.headers)) {
            for (const line of [value ?? []].flat()) {
              headers.append(name, line);
            }
          }

          const status = incoming.statusCode ?? 500;
          const hasBody = ![204, 205, 304].includes(status);

          resolve(
            new Response(
              hasBody
                ? (Readable.toWeb(incoming) as ReadableStream<Uint8Array>)
                : null,
              { headers, status, statusText: incoming.statusMessage },
            ),
          );

          if (!hasBody) {
            incoming.resume();
          }
        },
      );

      outgoing.on("error", reject);
      outgoing.end(body ?? undefined);
    });
