/** Reported in `status`; bump with agent releases. */
export const AGENT_VERSION = '0.1.0';
