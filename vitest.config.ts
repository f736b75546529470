import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{protocol,server,agent,provisioning,kiosk-ui,tests}/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Whole-stack tests start real brokers and servers; two cores, so keep parallelism modest.
    maxWorkers: 2,
  },
});
