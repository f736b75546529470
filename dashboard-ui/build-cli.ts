/** `npm run build:dashboard-ui`: builds dashboard-ui/dist (the root `prepare` script runs it on `npm ci`/`npm install`). */
import { buildDashboardUi } from './build-dashboard-ui.js';

await buildDashboardUi();
