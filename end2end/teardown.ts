import * as fs from "node:fs";
import * as path from "node:path";

// Caddy and the bouncer run detached from the console (so restarting it never takes sites down);
// the test run stops them itself. Then the console's log is read: any panic fails the run.
export default async function teardown() {
  const dir = process.env.E2E_DATA_DIR;
  if (!dir) return;
  stopDataPlane(dir);
  let log = "";
  try {
    log = fs.readFileSync(path.join(dir, "console.log"), "utf8");
  } catch {
    throw new Error(`the console's log ${path.join(dir, "console.log")} is missing`);
  }
  const panics = log.split("\n").filter((line) => line.includes("panicked at"));
  if (panics.length > 0) {
    const at = log.indexOf(panics[0]);
    throw new Error(`the console panicked ${panics.length} time(s) during the run:\n${log.slice(at, at + 4000)}`);
  }
}

function stopDataPlane(dir: string) {
  for (const pidFile of ["caddy/caddy.pid", "bouncer/bouncer.pid"]) {
    try {
      const pid = Number(fs.readFileSync(path.join(dir, pidFile), "utf8").trim());
      if (pid > 0) process.kill(pid, "SIGTERM");
    } catch {
      // not running
    }
  }
}
