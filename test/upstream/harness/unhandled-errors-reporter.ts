// A vitest reporter for `npm run test:upstream`: writes the errors thrown
// outside any test while the tests ran (an uncaught exception, an unhandled
// rejection, in a test's leftovers or in the code under test) to the file
// named by UPSTREAM_TESTS_ERRORS_FILE. vitest's JSON report leaves them out,
// and the gate cannot read them from vitest's exit code, which the expected
// failures already make non-zero.
import { writeFileSync } from "node:fs";

type SerializedError = { message?: string; name?: string; stack?: string };

export default class UnhandledErrorsReporter {
  onTestRunEnd(_testModules: unknown, unhandledErrors: readonly unknown[]) {
    const path = process.env.UPSTREAM_TESTS_ERRORS_FILE;

    if (!path) {
      return;
    }

    writeFileSync(
      path,
      JSON.stringify(
        unhandledErrors.map((error) => {
          const { message, name, stack } = (error ?? {}) as SerializedError;

          return { message, name, stack };
        }),
      ),
    );
  }
}
