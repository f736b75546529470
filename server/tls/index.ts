/** The server's TLS (docs/deployment.md): material, its live state, the listeners. */
import type { ServerConfig } from '../config.js';
import { type TlsSettings, tlsNames } from './certificates.js';

export {
  certificateFingerprint,
  importNextCa,
  loadTlsMaterial,
  makeNextCa,
  nextCaFiles,
  switchToNextCa,
  type TlsMaterial,
  type TlsSettings,
  tlsFiles,
  tlsNames,
} from './certificates.js';
export {
  addressOf,
  closeTlsListener,
  isLoopbackHost,
  listenHttps,
  listenMqtts,
  type PlaintextMode,
  plaintextHost,
} from './listeners.js';
export { TLS_MIN_VERSION, TlsState } from './tls-state.js';

/** How often a running server checks whether its generated certificate is due for renewal. */
export const RENEWAL_CHECK_INTERVAL_MS = 6 * 3_600_000;

/** The TLS settings of a server config. */
export function tlsSettings(config: ServerConfig): TlsSettings {
  return {
    dataDir: config.DATA_DIR,
    names: tlsNames(config.TLS_NAMES, config.PUBLIC_URL),
    certFile: config.TLS_CERT_FILE,
    keyFile: config.TLS_KEY_FILE,
    caFile: config.TLS_CA_FILE,
    renewBeforeMs: config.TLS_RENEW_BEFORE,
  };
}
