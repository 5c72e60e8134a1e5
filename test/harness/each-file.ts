import { scrubber } from '../../src/secrets/scrubber.js';

/**
 * Run before each test file (vitest's setupFiles). A worker runs one file after another
 * in one module graph (`isolate: false` in vitest.config.ts: re-importing the CLI's
 * modules for every file cost a fifth of the integration run's time), so what a module
 * keeps for the whole process starts each file as it would in a fresh process.
 */
scrubber.clear();
