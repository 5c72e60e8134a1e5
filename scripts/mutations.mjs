#!/usr/bin/env node
// @ts-check
/**
 * The mutation check (`npm run test:mutations`): applies each deliberate bug of
 * scripts/mutation-list.mjs to src/, one at a time, builds, runs the test files that
 * mutation names (or the whole suite with --full) and judges the run by vitest's JSON
 * report (.ci/check-test-report.mjs): a mutation is *killed* when at least one test
 * fails, *survived* otherwise. src/ is restored after each one, also on Ctrl-C, and on
 * the next start if a previous run was killed outright. Every search text must occur
 * exactly once in its file, checked for the whole list before anything runs: a stale
 * entry stops the check loudly. The result is written to docs/mutations.md.
 *
 *   npm run test:mutations                 # every mutation, its own test files
 *   npm run test:mutations -- --full       # every mutation, the whole suite (slow)
 *   npm run test:mutations -- --only a,b   # some mutations by id
 *   npm run test:mutations -- --check      # only check that the list still applies
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { judge, summaryLine } from '../.ci/check-test-report.mjs';
import { MUTATIONS } from './mutation-list.mjs';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const tmp = join(root, '.tmp', 'mutations');
/** Originals of the file being mutated, so that a run killed outright is undone by the next one. */
const pending = join(tmp, 'pending.json');

const { values } = parseArgs({
  options: {
    full: { type: 'boolean', default: false },
    only: { type: 'string' },
    check: { type: 'boolean', default: false },
    'no-doc': { type: 'boolean', default: false },
  },
});

/** @param {string} file @param {string} text */
function restore(file, text) {
  writeFileSync(join(root, file), text);
}

function restorePending() {
  if (!existsSync(pending)) return;
  const { file, text } = JSON.parse(readFileSync(pending, 'utf8'));
  restore(file, text);
  rmSync(pending);
  console.error(`restored ${file} left mutated by an interrupted run`);
}

/** @param {string} text @param {string} search */
function occurrences(text, search) {
  let n = 0;
  for (let i = text.indexOf(search); i !== -1; i = text.indexOf(search, i + 1)) n++;
  return n;
}

/** @type {import('node:child_process').ChildProcess | null} */
let running = null;

/**
 * @param {string} cmd @param {string[]} args @param {NodeJS.ProcessEnv} env
 * @returns {Promise<{ code: number | null; out: string }>}
 */
function run(cmd, args, env = process.env) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    running = child;
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      running = null;
      resolvePromise({ code, out });
    });
  });
}

async function main() {
  mkdirSync(tmp, { recursive: true });
  restorePending();

  const ids = new Set(MUTATIONS.map((m) => m.id));
  if (ids.size !== MUTATIONS.length) throw new Error('two mutations share an id');
  const only = values.only ? values.only.split(',').map((s) => s.trim()) : null;
  for (const id of only ?? []) if (!ids.has(id)) throw new Error(`no mutation ${id}: the ids are ${[...ids].join(', ')}`);

  // The whole list must still apply before anything runs.
  const stale = [];
  for (const m of MUTATIONS) {
    const path = join(root, m.file);
    const n = existsSync(path) ? occurrences(readFileSync(path, 'utf8'), m.search) : -1;
    if (n !== 1) stale.push(`${m.id}: ${m.file}: the search text ${n === -1 ? 'is in no file (the file is gone)' : `occurs ${n} times (must be once)`}:\n    ${m.search}`);
    for (const t of m.tests) if (!existsSync(join(root, t))) stale.push(`${m.id}: test file ${t} does not exist`);
  }
  if (stale.length > 0) {
    console.error(`!!! the mutation list no longer matches the code: update scripts/mutation-list.mjs\n  ${stale.join('\n  ')}`);
    process.exit(2);
  }
  console.log(`${MUTATIONS.length} mutations, every search text found once`);
  if (values.check) return;

  const chosen = MUTATIONS.filter((m) => !only || only.includes(m.id));
  /** @type {Array<{ id: string; title: string; file: string; tests: string[]; verdict: string; detail: string; seconds: number }>} */
  const results = [];
  /** @type {{ file: string; text: string } | null} */
  let current = null;
  const onSignal = (/** @type {NodeJS.Signals} */ sig) => {
    // src/ first, at once; then let the test run stop its servers (SIGKILL would orphan them).
    if (current) restore(current.file, current.text);
    rmSync(pending, { force: true });
    console.error(`\ninterrupted (${sig}): src/ restored`);
    const child = running;
    if (!child) process.exit(130);
    child.once('close', () => process.exit(130));
    child.kill('SIGTERM');
    setTimeout(() => process.exit(130), 20_000).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const started = Date.now();
  for (const m of chosen) {
    const t0 = Date.now();
    const text = readFileSync(join(root, m.file), 'utf8');
    current = { file: m.file, text };
    writeFileSync(pending, JSON.stringify(current));
    const tests = values.full ? [] : m.tests;
    let verdict = 'survived';
    let detail = '';
    try {
      writeFileSync(join(root, m.file), text.replace(m.search, m.replace));
      const build = await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json']);
      if (build.code !== 0) {
        verdict = 'invalid';
        detail = `does not compile: ${build.out.split('\n').find((l) => l.includes('error')) ?? build.out.slice(0, 200)}`;
      } else {
        const report = join(tmp, `${m.id}.json`);
        rmSync(report, { force: true });
        await run(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--bail=1', ...tests], { ...process.env, TEST_REPORT_FILE: report, NO_COLOR: '1' });
        const parsed = existsSync(report) ? JSON.parse(readFileSync(report, 'utf8')) : null;
        const v = judge(parsed, [], root);
        if (!parsed) {
          verdict = 'error';
          detail = 'no test report';
        } else if (v.failed > 0) {
          verdict = 'killed';
          const first = v.problems.find((p) => p.includes('FAILED')) ?? v.problems[0] ?? '';
          detail = `${v.failed} failed of ${v.passed + v.failed}: ${first.slice(0, 160)}`;
        } else {
          detail = `${summaryLine(v)}: no test noticed`;
        }
      }
    } finally {
      restore(m.file, text);
      rmSync(pending, { force: true });
      current = null;
    }
    const seconds = Math.round((Date.now() - t0) / 1000);
    results.push({ id: m.id, title: m.title, file: m.file, tests, verdict, detail, seconds });
    console.log(`${verdict === 'killed' ? 'killed  ' : `${verdict.toUpperCase()}`} ${m.id} (${seconds}s): ${detail}`);
  }
  // dist/ back to the unmutated code.
  await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json']);

  const killed = results.filter((r) => r.verdict === 'killed').length;
  const others = results.length - killed;
  if (!values['no-doc'] && !only) writeDoc(results, values.full ?? false, Math.round((Date.now() - started) / 1000));
  console.log(`mutations: ${killed} passed, ${others} failed`);
  process.exit(others === 0 ? 0 : 1);
}

/**
 * docs/mutations.md: the list, and what the last full run of it found.
 * @param {Array<{ id: string; title: string; file: string; tests: string[]; verdict: string; detail: string; seconds: number }>} results
 * @param {boolean} full @param {number} seconds
 */
function writeDoc(results, full, seconds) {
  const esc = (/** @type {string} */ s) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');
  const byId = new Map(MUTATIONS.map((m) => [m.id, m]));
  const lines = [
    '# Mutation check',
    '',
    '`npm run test:mutations` applies each deliberate bug below to `src/`, one at a time,',
    'builds, runs the test files the bug names (`-- --full`: the whole suite), stopping at the first failure, and judges the',
    'run by its JSON report: the bug is *killed* when a test fails. `src/` is restored after',
    'each one (also on Ctrl-C). The list lives in `scripts/mutation-list.mjs` (file, exact',
    'search text, replacement, test files); a search text that no longer occurs exactly once',
    'stops the check before anything runs, so the list stays maintained. It is not part of',
    '`npm test`: it takes a while.',
    '',
    `## Last run: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${full ? 'whole suite per mutation' : 'named test files per mutation'}, ${Math.round(seconds / 60)} min`,
    '',
    `${results.filter((r) => r.verdict === 'killed').length} of ${results.length} killed.`,
    '',
    '| id | the bug | file | tests run | verdict |',
    '|---|---|---|---|---|',
    ...results.map((r) => `| ${r.id} | ${esc(r.title)} | \`${r.file}\` | ${r.tests.length ? r.tests.map((t) => `\`${t.replace('test/integration/', '').replace('test/unit/', 'unit/')}\``).join(', ') : 'all'} | **${r.verdict}** (${r.seconds}s): ${esc(r.detail)} |`),
    '',
    '## The mutations',
    '',
    ...results.flatMap((r) => {
      const m = byId.get(r.id);
      if (!m) return [];
      return [`### ${m.id}: ${m.title}`, '', `\`${m.file}\`: replaces`, '', '```ts', m.search, '```', '', 'with', '', '```ts', m.replace, '```', ''];
    }),
  ];
  writeFileSync(join(root, 'docs', 'mutations.md'), lines.join('\n'));
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});
