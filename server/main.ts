/** `npm start`: parse the config, start the server, say where it listens, stop cleanly on SIGINT/SIGTERM. */
import { loadConfig } from './config.js';
import { createServer } from './create-server.js';

let config: ReturnType<typeof loadConfig>;
let server: Awaited<ReturnType<typeof createServer>>;
try {
  config = loadConfig(process.env);
  server = await createServer(config, {
    // The ingest writer logged why at fatal level; exit 1 so systemd restarts the server on what is on disk.
    onFatal: () => process.exit(1),
  });
} catch (error) {
  // A start-up failure (bad setting, port in use, unreadable data directory) is one line, not a stack trace.
  console.error(`The server could not start: ${(error as Error).message}`);
  process.exit(1);
}

console.log(`Border kiosk fleet server
  HTTP API and dashboard  ${server.httpUrl}
  MQTT (TCP)              ${server.mqttUrl}
  MQTT over WebSocket     ${server.wsUrl}
  HTTPS                   ${server.httpsUrl}
  MQTT over TLS           ${server.mqttsUrl}
  MQTT over secure WS     ${server.wssUrl}
  Handed to devices       ${server.publicUrl}
  Data directory          ${config.DATA_DIR}
  CA fingerprint (SHA-256) ${server.caFingerprint ?? 'none: the operator\u2019s certificate came without TLS_CA_FILE'}`);
if (server.initialAdminPassword) {
  console.log(`
  First admin account created. User name: admin   One-time password: ${server.initialAdminPassword}
  (shown only now; set ADMIN_PASSWORD to choose it in scripted set-ups)`);
}

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping (flushing the ingest queue)…`);
  try {
    await server.close();
    process.exit(0);
  } catch (error) {
    console.error('error while stopping', error);
    process.exit(1);
  }
}
process.on('SIGINT', () => void stop('SIGINT'));
// SIGHUP: pick up a new operator certificate (TLS_CERT_FILE/TLS_KEY_FILE) without dropping connected kiosks.
process.on('SIGHUP', () => {
  server.reloadTls().then(
    (tls) =>
      console.log(`SIGHUP: TLS certificate reloaded (valid until ${tls.notAfter.toISOString()}, for ${tls.names.join(', ')})`),
    (error: Error) => console.error(`SIGHUP: TLS certificate not reloaded, the previous one stays in use: ${error.message}`),
  );
});
process.on('SIGTERM', () => void stop('SIGTERM'));
