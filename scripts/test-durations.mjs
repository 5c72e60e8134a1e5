#!/usr/bin/env node
// Writes test/harness/durations.json (seconds per test file) from vitest's JSON report,
// so that test/harness/sequencer.ts starts the longest files first on a fresh clone.
// Usage: node scripts/test-durations.mjs [.tmp/test-report.json]
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const report = JSON.parse(readFileSync(process.argv[2] ?? resolve(root, '.tmp/test-report.json'), 'utf8'));
const durations = {};
for (const file of report.testResults) {
  const seconds = Math.round((file.endTime - file.startTime) / 100) / 10;
  // The report may come from another clone: keep the path from test/ on.
  const path = /(?:^|\/)(test\/.+)$/.exec(file.name)?.[1];
  if (path && seconds >= 1) durations[path] = seconds;
}
const sorted = Object.fromEntries(Object.entries(durations).sort((a, b) => b[1] - a[1]));
writeFileSync(resolve(root, 'test/harness/durations.json'), `${JSON.stringify(sorted, null, 2)}\n`);
console.log(`${Object.keys(sorted).length} files with their durations written to test/harness/durations.json`);
