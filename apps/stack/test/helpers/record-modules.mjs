// Loaded with `node --import` (through NODE_OPTIONS) by tests that check
// which modules an app process loads: registers record-modules-hooks.mjs.
import { register } from 'node:module';

register('./record-modules-hooks.mjs', import.meta.url);
