/**
 * `npx tsx server/tls/cli.ts fingerprint|renew` with the server's settings (environment / CONFIG_FILE):
 *   fingerprint  prints the SHA-256 fingerprint of the CA devices pin (makes CA and certificate on first use)
 *   renew        re-issues the server certificate from the same CA in DATA_DIR/tls/; then send the running
 *                server SIGHUP (`systemctl reload`, `kill -HUP <pid>`) and it serves the new one, no kiosk touched.
 */
import { loadConfig } from '../config.js';
import { loadTlsMaterial } from './certificates.js';
import { tlsSettings } from './index.js';

const command = process.argv[2];
try {
  if (command !== 'fingerprint' && command !== 'renew') throw new Error('usage: server/tls/cli.ts fingerprint|renew');
  const settings = tlsSettings(loadConfig(process.env));
  if (command === 'renew' && settings.certFile) {
    throw new Error('the server certificate is the operator\u2019s (TLS_CERT_FILE): renew it at its CA, then send SIGHUP');
  }
  const material = await loadTlsMaterial(settings, command === 'renew');
  if (command === 'fingerprint') console.log(material.caFingerprint ?? 'no CA to pin (operator certificate without TLS_CA_FILE)');
  else {
    console.log(`server certificate re-issued from CA ${material.caFingerprint}
  valid until ${material.notAfter.toISOString()} for ${material.names.join(', ')}
  send the running server SIGHUP to serve it`);
  }
} catch (error) {
  console.error(`tls: ${(error as Error).message}`);
  process.exit(1);
}
