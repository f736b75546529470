/** `kiosk-agent --config FILE`: parses the config and the environment, starts the agent, stops it on SIGTERM/SIGINT. */
import type { AgentConfig } from './config.js';
import { loadAgentConfig } from './config.js';
import { createAgent } from './create-agent.js';

let config: AgentConfig;
try {
  config = loadAgentConfig(process.argv.slice(2), process.env);
} catch (err) {
  // A bad config is an operator's mistake: say what is wrong, without a stack trace; exit 2 so systemd logs it.
  console.error(`kiosk-agent: ${(err as Error).message}`);
  process.exit(2);
}
const agent = await createAgent(config, { exit: () => process.exit(0) });
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void agent.close().then(() => process.exit(0));
  });
}
