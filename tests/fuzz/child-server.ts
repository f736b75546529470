/**
 * The server under fuzz, run as a child process (`node --import tsx tests/fuzz/child-server.ts`) so a crash
 * is an exit the harness sees and its memory is its own (/proc/<pid>/status). Prints one line
 * `FUZZ_SERVER {json}` with its pid and URLs once it listens; SIGTERM closes it cleanly.
 */
import { testConfig } from '../../server/config.js';
import { createServer } from '../../server/create-server.js';

const dataDir = process.env.FUZZ_DATA_DIR;
const adminPassword = process.env.FUZZ_ADMIN_PASSWORD;
if (!dataDir || !adminPassword) {
  console.error('FUZZ_DATA_DIR and FUZZ_ADMIN_PASSWORD must be set');
  process.exit(2);
}
const server = await createServer(
  testConfig({
    DATA_DIR: dataDir,
    ADMIN_PASSWORD: adminPassword,
    LOG_LEVEL: (process.env.FUZZ_LOG_LEVEL ?? 'error') as 'error',
    // The harness logs in once; a short base delay keeps a fuzzed admin name from locking it out for long.
    LOGIN_DELAY: 100,
  }),
);
console.log(
  `FUZZ_SERVER ${JSON.stringify({ pid: process.pid, httpUrl: server.httpUrl, mqttUrl: server.mqttUrl, wsUrl: server.wsUrl })}`,
);
process.on('SIGTERM', () => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
