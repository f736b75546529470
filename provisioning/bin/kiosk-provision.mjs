#!/usr/bin/env node
// The `kiosk-provision` bin: the CLI is TypeScript run through tsx (a dependency), like the server and agent.
import { register } from 'tsx/esm/api';

register();
await import('../cli.ts');
