// Jest reporter: prints the plain closing line "N passed, N failed" (and writes it to $KAISER_TEST_SUMMARY if set),
// so .ci/run can end with it whatever jest's own summary looks like.
const {writeFileSync} = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const line = `${results.numPassedTests} passed, ${failed} failed` +
      (results.numPendingTests ? `, ${results.numPendingTests} skipped` : '');
    process.stdout.write(`\n${line}\n`);
    if (process.env.KAISER_TEST_SUMMARY) writeFileSync(process.env.KAISER_TEST_SUMMARY, `${line}\n`);
  }
}

module.exports = SummaryReporter;
