// A certificate authority and a server certificate for 127.0.0.1, made with
// Debian's openssl for one test run: the HTTPS tests serve the server
// certificate and verify it against the authority, as a client that trusts
// a private CA does.
import { randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

import { cleanEnvironment, run } from "./processes.js";
import { cacheRoot, repoRoot } from "./projects.js";

export const OPENSSL = "/usr/bin/openssl";

export type Certificates = {
  /** The authority's certificate, PEM: what a client trusts. */
  ca: string;
  /** File paths, as FastMCP's sslCa, sslCert and sslKey take them. */
  caPath: string;
  certPath: string;
  directory: string;
  keyPath: string;
  remove: () => void;
};

/** Installs Debian's openssl when it is missing; fails loudly otherwise. */
const ensureOpenssl = async () => {
  if (existsSync(OPENSSL)) {
    return;
  }

  const env = cleanEnvironment({ DEBIAN_FRONTEND: "noninteractive" });
  await run("apt-get", ["update"], { cwd: repoRoot, env });
  await run(
    "apt-get",
    ["install", "-y", "--no-install-recommends", "openssl"],
    {
      cwd: repoRoot,
      env,
    },
  );

  if (!existsSync(OPENSSL)) {
    throw new Error(`apt-get installed openssl, but ${OPENSSL} is missing`);
  }
};

export const makeCertificates = async (): Promise<Certificates> => {
  await ensureOpenssl();

  const directory = join(
    cacheRoot,
    "certificates",
    `${process.pid}-${randomBytes(4).toString("hex")}`,
  );
  mkdirSync(directory, { recursive: true });

  const path = (name: string) => join(directory, name);
  const openssl = (args: string[]) =>
    run(OPENSSL, args, { cwd: directory, env: cleanEnvironment() });
  const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

  await openssl([
    "req",
    "-x509",
    ...ecKey,
    "-nodes",
    "-keyout",
    path("ca.key"),
    "-out",
    path("ca.pem"),
    "-days",
    "2",
    "-subj",
    "/CN=mcp-proxy e2e test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await openssl([
    "req",
    ...ecKey,
    "-nodes",
    "-keyout",
    path("server.key"),
    "-out",
    path("server.csr"),
    "-subj",
    "/CN=127.0.0.1",
  ]);
  writeFileSync(
    path("server.ext"),
    [
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
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
    "-CAcreateserial",
    "-out",
    path("server.pem"),
    "-days",
    "2",
    "-extfile",
    path("server.ext"),
  ]);

  return {
    ca: readFileSync(path("ca.pem"), "utf8"),
    caPath: path("ca.pem"),
    certPath: path("server.pem"),
    directory,
    keyPath: path("server.key"),
    remove: () => rmSync(directory, { force: true, recursive: true }),
  };
};
