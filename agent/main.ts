/** `kiosk-agent --config FILE`: parses the config and the environment, starts the agent, stops it on SIGTERM/SIGINT. */

import { loadAgentConfig } from './config.js';
import { createAgent } from './create-agent.js';

const config = loadAgentConfig(process.argv.slice(2), process.env);
const agent = await createAgent(config, { exit: () => process.exit(0) });
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void agent.close().then(() => process.exit(0));
  });
}
