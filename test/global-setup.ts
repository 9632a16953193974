// Processes the tests start (control planes, data planes) are recorded in a directory shared with
// the test workers; whatever still runs when the whole run ends is killed, so a test file that
// fails before its afterAll (a timed-out hook) leaves nothing behind.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function setup(): () => void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skein-test-pids-'));
  process.env['SKEIN_TEST_PID_DIR'] = dir;
  return () => {
    for (const file of fs.readdirSync(dir)) {
      try {
        process.kill(Number(file), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
}
