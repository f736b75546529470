/**
 * `npm run fuzz [-- --seed N] [--count N] [--mqtt N] [--http N] [--rss-limit MiB] [--replay mqtt:12,http:40]`:
 * 10 000 mutated MQTT sessions and 10 000 mutated HTTP requests against a real server; prints the counts and
 * exits non-zero when the server crashed, bloated, answered 5xx or failed the well-behaved device.
 */
import { parseArgs } from 'node:util';
import { formatReport, problems } from './report.js';
import { runFuzz } from './run.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    count: { type: 'string', default: '10000' },
    mqtt: { type: 'string' },
    http: { type: 'string' },
    'rss-limit': { type: 'string', default: '512' },
    replay: { type: 'string' },
  },
});

function int(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`--${what} must be a non-negative integer, not ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return n;
}

const seed = int(values.seed, 'seed') ?? Date.now() % 1_000_000_000;
const count = int(values.count, 'count') as number;
const replay = values.replay?.split(',').map((s) => s.trim());
if (replay?.some((id) => !/^(mqtt|http):\d+$/.test(id))) {
  console.error('--replay takes case ids like mqtt:12,http:40');
  process.exit(2);
}
console.log(`fuzzing with seed ${seed}${replay ? `, replaying ${replay.join(', ')}` : ''}…`);
const report = await runFuzz({
  seed,
  mqttCount: int(values.mqtt, 'mqtt') ?? count,
  httpCount: int(values.http, 'http') ?? count,
  rssLimitMiB: int(values['rss-limit'], 'rss-limit') as number,
  ...(replay ? { replay } : {}),
  log: (line) => console.log(line),
});
console.log(formatReport(report));
process.exit(problems(report).length ? 1 : 0);
