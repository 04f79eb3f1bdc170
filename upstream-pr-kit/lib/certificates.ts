import fs from "node:fs";
import path from "node:path";

import { run } from "./run.js";

// The files upstream's "supports creating an SSL server" test reads.
const FIXTURE_DIRECTORY = path.join("src", "fixtures", "certs");
const FIXTURES = [
  "ca-cert.pem",
  "client-cert.pem",
  "client-key.pem",
  "server-cert.pem",
  "server-key.pem",
];

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

/**
 * Upstream's repository holds test certificates under src/fixtures/certs/
 * that its npm tarball leaves out, so its SSL test cannot run on the
 * published source. When a release's tests read them and they are missing,
 * this makes them with openssl: a CA, a server certificate for localhost
 * and a client certificate, both signed by it. Returns the directory made,
 * relative to `repo`, or undefined when nothing was needed.
 */
export const makeFixtureCertificates = (repo: string) => {
  const directory = path.join(repo, FIXTURE_DIRECTORY);
  const tests = path.join(repo, "src", "startHTTPServer.test.ts");

  if (
    fs.existsSync(directory) ||
    !fs.existsSync(tests) ||
    !fs.readFileSync(tests, "utf8").includes(FIXTURE_DIRECTORY)
  ) {
    return undefined;
  }

  fs.mkdirSync(directory, { recursive: true });

  const openssl = (args: string[]) =>
    run(["openssl", ...args], { cwd: directory, label: "openssl" });
  const signed = (name: string, extensions: string[]) => {
    openssl([
      "req",
      ...EC_KEY,
      "-nodes",
      "-subj",
      `/CN=${name}`,
      "-keyout",
      `${name}-key.pem`,
      "-out",
      `${name}.csr`,
    ]);
    fs.writeFileSync(
      path.join(directory, `${name}.ext`),
      `${extensions.join("\n")}\n`,
    );
    openssl([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca-cert.pem",
      "-CAkey",
      "ca-key.pem",
      "-set_serial",
      String(Date.now()),
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}-cert.pem`,
    ]);
  };

  openssl([
    "req",
    "-x509",
    ...EC_KEY,
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=mcp-proxy test CA",
    "-keyout",
    "ca-key.pem",
    "-out",
    "ca-cert.pem",
  ]);
  signed("server", [
    "basicConstraints=CA:FALSE",
    "extendedKeyUsage=serverAuth",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
  ]);
  signed("client", [
    "basicConstraints=CA:FALSE",
    "extendedKeyUsage=clientAuth",
  ]);

  for (const file of FIXTURES) {
    if (!fs.existsSync(path.join(directory, file))) {
      throw new Error(`openssl did not write ${file}`);
    }
  }

  return FIXTURE_DIRECTORY;
};
