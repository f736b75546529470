/**
 * server/main.ts under a CPU profiler that the bench switches on and off (so the profile covers one load
 * window, not start-up and the connect storm): SIGUSR2 starts the V8 sampling profiler on the main thread,
 * the next SIGUSR2 stops it and writes the .cpuprofile to $CPU_PROFILE_OUT (then `<that>.done`, so the bench
 * knows it is complete). Read it with bench/lib/fold-profile.ts or Chrome DevTools.
 *   node --import tsx bench/lib/profiled-server.ts   (environment as for server/main.ts, plus CPU_PROFILE_OUT)
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

const out = process.env.CPU_PROFILE_OUT;
if (!out) throw new Error('CPU_PROFILE_OUT must name the .cpuprofile file to write');
const session = new Session();
session.connect();
let running = false;
process.on('SIGUSR2', () => {
  const toggle = running
    ? session.post('Profiler.stop').then(({ profile }) => {
        writeFileSync(out, JSON.stringify(profile));
        writeFileSync(`${out}.done`, '');
      })
    : session
        .post('Profiler.enable')
        .then(() => session.post('Profiler.setSamplingInterval', { interval: 250 }))
        .then(() => session.post('Profiler.start'));
  running = !running;
  toggle.catch((error: Error) => console.error(`profiler: ${error.message}`));
});
await import('../../server/main.js');
