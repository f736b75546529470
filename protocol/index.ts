/** The contract between server, agent, kiosk UI and provisioning tools. Imports nothing of the project. */
export * from './canonical-json.js';
export * from './constants.js';
export * from './domain.js';
export * from './http.js';
export * from './keys.js';
export * from './limits.js';
export * from './local.js';
export * from './manifest.js';
export * from './messages.js';
export * from './provisioning.js';
export * from './release.js';
export * from './signature.js';
export * from './topics.js';
export * from './version.js';
