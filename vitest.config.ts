import { defineConfig } from 'vitest/config';
import LongestFirstSequencer from './test/harness/sequencer.js';

export default defineConfig({
  test: {
    // The JSON report is what CI judges (.ci/check-test-report.mjs), not vitest's exit code.
    reporters: ['default', ['json', { outputFile: process.env.TEST_REPORT_FILE ?? '.tmp/test-report.json' }]],
    // Longest integration files first (known durations), so both workers end together.
    sequence: { sequencer: LongestFirstSequencer },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          // One module graph per worker, not per file (test/harness/each-file.ts resets what a process keeps).
          isolate: false,
          setupFiles: ['test/harness/each-file.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/harness/global-setup.ts'],
          // One module graph per worker, not per file: importing the CLI's modules again for each
          // of ~95 files left a worker idle 3–8 s between files (test/harness/each-file.ts resets
          // what a process keeps, so each file still starts as in a fresh process).
          isolate: false,
          setupFiles: ['test/harness/each-file.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Every file gets its own databases; two workers match a 2-core machine.
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
          fileParallelism: true,
        },
      },
    ],
  },
});
