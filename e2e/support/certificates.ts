// A certificate authority and a server certificate for 127.0.0.1, made with
// Debian's openssl for one test run: the HTTPS tests serve the server
// certificate and verify it against the authority, as a client that trusts
// a private CA does.
import { existsSync } from "node:fs";

import {
  type Certificates,
  createCertificates,
} from "../../test/certificates.js";
import { cleanEnvironment, run } from "./processes.js";
import { repoRoot } from "./projects.js";

export type { Certificates };

export const OPENSSL = "/usr/bin/openssl";

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

/** The unit tests' CA and server certificate, once openssl is there. */
export const makeCertificates = async (): Promise<Certificates> => {
  await ensureOpenssl();

  return createCertificates();
};
