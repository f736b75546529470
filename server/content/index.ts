/** The content library's public surface, for the server's composition root. */
export { createContentRoutes } from './content-routes.js';
export { createFileRoutes } from './file-routes.js';
export { createKeyRoutes } from './key-routes.js';
export { type ContentServiceDeps, type ContentServices, createContentServices } from './services.js';
export { enrollmentKeys, type Keyring, loadOrCreateSigningKeys, openKeyring, SIGNING_KEY_FILE } from './signing-keys.js';
export { DEFAULT_MAX_UPLOAD_BYTES } from './store.js';
