/**
 * `npx tsx server/tls/cli.ts <command>` with the server's settings (environment / CONFIG_FILE):
 *   fingerprint       prints the SHA-256 fingerprint of the CA devices pin (makes CA and certificate on first use)
 *   renew             re-issues the server certificate from the same CA in DATA_DIR/tls/; then send the running
 *                     server SIGHUP (`systemctl reload`, `kill -HUP <pid>`) and it serves the new one, no kiosk touched.
 * Moving kiosks to a new CA (docs/deployment.md): new-ca|import-ca → `kiosk-provision keys tls-cas add` → switch-ca
 * → SIGHUP → `kiosk-provision keys tls-cas retire`:
 *   new-ca            makes the next CA (DATA_DIR/tls/next-ca.pem) and prints its fingerprint and file
 *   import-ca C K     takes a CA made elsewhere (certificate C, key K, PEM) as the next CA
 *   switch-ca         makes the next CA the CA (old one kept as retired-ca-….pem) and issues the server certificate
 *                     from it; then SIGHUP. Only once `keys status` shows the kiosks hold the new CA.
 */
import { readFileSync } from 'node:fs';
import { loadConfig } from '../config.js';
import {
  certificateFingerprint,
  importNextCa,
  loadTlsMaterial,
  makeNextCa,
  nextCaFiles,
  switchToNextCa,
} from './certificates.js';
import { tlsSettings } from './index.js';

const USAGE = 'usage: server/tls/cli.ts fingerprint | renew | new-ca | import-ca <ca.pem> <ca-key.pem> | switch-ca';
const [command, ...args] = process.argv.slice(2);
try {
  const settings = tlsSettings(loadConfig(process.env));
  if (command === 'fingerprint' || command === 'renew') {
    if (command === 'renew' && settings.certFile) {
      throw new Error('the server certificate is the operator\u2019s (TLS_CERT_FILE): renew it at its CA, then send SIGHUP');
    }
    const material = await loadTlsMaterial(settings, command === 'renew');
    if (command === 'fingerprint')
      console.log(material.caFingerprint ?? 'no CA to pin (operator certificate without TLS_CA_FILE)');
    else {
      console.log(`server certificate re-issued from CA ${material.caFingerprint}
  valid until ${material.notAfter.toISOString()} for ${material.names.join(', ')}
  send the running server SIGHUP to serve it`);
    }
  } else if (command === 'new-ca' || command === 'import-ca') {
    let made: { fingerprint: string; created?: boolean };
    if (command === 'new-ca') made = await makeNextCa(settings.dataDir);
    else {
      const [certFile, keyFile] = args;
      if (!certFile || !keyFile) throw new Error(USAGE);
      made = importNextCa(settings.dataDir, readFileSync(certFile, 'utf8'), readFileSync(keyFile, 'utf8'));
    }
    const file = nextCaFiles(settings.dataDir).cert;
    console.log(`next CA ${made.created === false ? '(already made) ' : ''}${made.fingerprint}
  file ${file}
  1. publish it beside the current CA:  kiosk-provision keys tls-cas add ${file}
  2. when \`kiosk-provision keys status\` shows the kiosks hold it: server/tls/cli.ts switch-ca, then SIGHUP
  3. kiosk-provision keys tls-cas retire <old fingerprint>`);
  } else if (command === 'switch-ca') {
    const material = await switchToNextCa(settings);
    const old = certificateFingerprint(readFileSync(material.retiredCaFile, 'utf8'));
    console.log(`the CA is now ${material.caFingerprint} (the old one, ${old}, kept as ${material.retiredCaFile})
  server certificate issued from it, valid until ${material.notAfter.toISOString()} for ${material.names.join(', ')}
  send the running server SIGHUP to serve it; then retire the old CA: kiosk-provision keys tls-cas retire ${old.replaceAll(':', '')}`);
  } else throw new Error(USAGE);
} catch (error) {
  console.error(`tls: ${(error as Error).message}`);
  process.exit(1);
}
