/** `kiosk-agent --config FILE`: parses the config and the environment, starts the agent, stops it on SIGTERM/SIGINT. */
import { type AgentConfig, AgentConfigError, loadAgentConfig } from './config.js';
import { createAgent } from './create-agent.js';

let config: AgentConfig;
try {
  config = loadAgentConfig(process.argv.slice(2), process.env);
} catch (err) {
  // A bad config is an operator's mistake: one line per problem (field and file named), no stack trace; exit 2.
  const problems = err instanceof AgentConfigError ? err.problems : [(err as Error).message];
  for (const problem of problems) console.error(`kiosk-agent: ${problem}`);
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
