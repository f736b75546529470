#!/usr/bin/env node
/** `kiosk-provision` / `npm run provision --`: the technicians' CLI (see run-cli.ts). */
import { runCli } from './run-cli.js';

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  io: { out: (text) => process.stdout.write(`${text}\n`), err: (text) => process.stderr.write(`${text}\n`) },
});
