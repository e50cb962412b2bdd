import * as fs from "node:fs";
import * as path from "node:path";

// Caddy and the bouncer run detached from the console (so restarting it never takes sites down);
// the test run stops them itself.
export default async function teardown() {
  const dir = process.env.E2E_DATA_DIR;
  if (!dir) return;
  for (const pidFile of ["caddy/caddy.pid", "bouncer/bouncer.pid"]) {
    try {
      const pid = Number(fs.readFileSync(path.join(dir, pidFile), "utf8").trim());
      if (pid > 0) process.kill(pid, "SIGTERM");
    } catch {
      // not running
    }
  }
}
