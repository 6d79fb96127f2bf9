// Rewrites systemd/kaiser.service and systemd/kaiser@.service from the unit renderer (src/systemd/unit-file.ts).
// Run after `npm run build`: node scripts/systemd-units.js (test/systemd/units.test.ts checks they are current).
import {writeFileSync} from 'node:fs';
import {shippedUnits} from '../dist/systemd/unit-file.js';

for (const [name, text] of Object.entries(shippedUnits())) writeFileSync(new URL(`../systemd/${name}`, import.meta.url), text);
