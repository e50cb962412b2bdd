import type { Reporter, TestCase, TestResult } from "@playwright/test/reporter";

// Ends the output with each failed test and the first lines of its error, so that the tail of a
// CI log (often all that is kept) says why every failure happened, not only the last one.
export default class FailureSummary implements Reporter {
  private failed: string[] = [];

  onTestEnd(test: TestCase, result: TestResult) {
    if (result.status === "failed" || result.status === "timedOut") {
      const error = (result.error?.message ?? result.status).replace(/\u001b\[[0-9;]*m/g, "");
      const lines = error.split("\n").filter((l) => l.trim()).slice(0, 4).map((l) => `    ${l.slice(0, 300)}`);
      const where = result.error?.location ? ` (${result.error.location.file.split("/").pop()}:${result.error.location.line})` : "";
      this.failed.push(`  ${test.titlePath().slice(1).join(" › ")}${where}\n${lines.join("\n")}`);
    }
  }

  onEnd() {
    if (this.failed.length) console.log(`\nWhy each test failed:\n${this.failed.join("\n")}`);
  }
}
