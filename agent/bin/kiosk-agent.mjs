#!/usr/bin/env node
// The `kiosk-agent` bin: the agent is TypeScript run through tsx (a dependency), as `npm start` runs the server.
import { register } from 'tsx/esm/api';

register();
await import('../main.ts');
