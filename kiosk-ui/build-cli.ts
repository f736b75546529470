/** `npm run build:kiosk-ui`: builds kiosk-ui/dist (the root `prepare` script runs it on `npm ci`/`npm install`). */
import { buildKioskUi } from './build-kiosk-ui.js';

await buildKioskUi();
