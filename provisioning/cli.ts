#!/usr/bin/env node
/** `kiosk-provision` / `npm run provision --`: the technicians' CLI (see run-cli.ts). */
import { readPassword } from './read-password.js';
import { runCli } from './run-cli.js';

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  readPassword,
  io: { out: (text) => process.stdout.write(`${text}\n`), err: (text) => process.stderr.write(`${text}\n`) },
});
