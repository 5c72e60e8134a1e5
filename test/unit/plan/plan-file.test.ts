import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadCommands, main } from '../../../src/cli/main.js';
import { parsePlan, readPlanFile, serializePlan, writePlanFile } from '../../../src/plan/plan-file.js';
import type { Plan } from '../../../src/plan/model.js';

// The commands load with this file, as the CLI loads the one it runs: not inside the first test's time limit.
await loadCommands();

const EXAMPLE = join(import.meta.dirname, '../../../plans/cloudphone.plan.json');

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

type Json = Record<string, unknown> & { steps: Array<Record<string, unknown>> };

/** Each corruption of a valid plan file, and the path its error must name. */
const CORRUPTIONS: Array<[string, (text: string, plan: Json) => string, RegExp]> = [
  ['truncated', (text) => text.slice(0, Math.floor(text.length / 2)), /is not a plan file: .*JSON/],
  ['wrong format version', (_t, p) => JSON.stringify({ ...p, formatVersion: 2 }), /formatVersion: is 2, this tool reads format 1/],
  ['no name', (_t, p) => JSON.stringify({ ...p, name: undefined }), /^\s+name: missing$/m],
  ['no steps', (_t, p) => JSON.stringify({ ...p, steps: undefined }), /^\s+steps: missing$/m],
  ['SQL as a string', (_t, p) => edit(p, 3, { sql: 'SELECT 1' }), /steps\[3\]\.sql: expected an array of strings/],
  ['a step without SQL', (_t, p) => edit(p, 5, { sql: undefined }), /steps\[5\]\.sql: missing/],
  ['a number in the SQL', (_t, p) => edit(p, 2, { sql: ['SELECT 1', 42] }), /steps\[2\]\.sql\[1\]: expected a string/],
  ['an unknown step kind', (_t, p) => edit(p, 4, { kind: 'drop_everything' }), /steps\[4\]\.kind: unknown step kind "drop_everything"/],
  ['a target that is not an object', (_t, p) => edit(p, 7, { target: 'cloudphone_user' }), /steps\[7\]\.target: expected an object/],
  ['a database name that is a number', (_t, p) => edit(p, 7, { target: { ...(p.steps[7]!.target as object), database: 7 } }), /steps\[7\]\.target\.database: expected a string/],
  ['a dependency on a later step', (_t, p) => edit(p, 1, { dependsOn: [p.steps[9]!.id] }), /steps\[1\]\.dependsOn\[0\]: .* is not an earlier step/],
  ['an unknown mode', (_t, p) => JSON.stringify({ ...p, mode: 'fast' }), /mode: expected "offline" or "online"/],
  ['services not a list', (_t, p) => JSON.stringify({ ...p, services: {} }), /services: expected an array of services/],
  ['not an object', () => '[1, 2]', /is not a plan file: expected a JSON object/],
];

function edit(p: Json, i: number, change: Record<string, unknown>): string {
  const steps = p.steps.map((s, j) => (j === i ? { ...s, ...change } : s));
  return JSON.stringify({ ...p, steps }, null, 2);
}

describe('plan files', () => {
  let dir: string;
  let text: string;
  let plan: Json;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'plan-file-'));
    text = await readFile(EXAMPLE, 'utf8');
    plan = JSON.parse(text) as Json;
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('reads the committed example, and writes it back byte for byte', () => {
    const read = parsePlan(text, EXAMPLE);
    expect(serializePlan(read)).toBe(text);
  });

  it.each(CORRUPTIONS)('%s: apply exits 2 naming where the problem is', async (_name, corrupt, expected) => {
    const file = join(dir, `${_name.replace(/\W+/g, '-')}.plan.json`);
    await writeFile(file, corrupt(text, plan));
    const stdout = new Sink();
    const stderr = new Sink();
    const code = await main(['node', 'cloudphone-split', 'apply', file, '--yes'], { stdout, stderr, env: {} });
    expect(code, stderr.text).toBe(2);
    expect(stderr.text).toMatch(expected);
    expect(stderr.text).toContain(file);
    expect(stderr.text).not.toMatch(/TypeError|is not iterable|at .*\.js:\d+/);
  });

  it('reports a hand edit that keeps the file valid', async () => {
    const p = JSON.parse(text) as Json;
    const sql = p.steps[1]!.sql as string[];
    const edited = edit(p, 1, { sql: [...sql, 'DROP DATABASE cloudphone_core'] });
    await expect(async () => parsePlan(edited, 'x.plan.json')).rejects.toThrow(/was changed after it was written: its digest does not match/);
    // Moving the files changes only where the manifest is: not a change of what runs.
    expect(parsePlan(JSON.stringify({ ...p, manifest: { ...(p.manifest as object), path: '../elsewhere/split.yaml' } }, null, 2), 'x').name).toBe(p.name);
  });

  it('is written atomically: no temporary file is left, and a reader sees the whole plan', async () => {
    const file = join(dir, 'atomic', 'p.plan.json');
    const read = parsePlan(text, EXAMPLE) as Plan;
    await writePlanFile(file, read);
    await writePlanFile(file, { ...read, warnings: ['second'] });
    expect((await readPlanFile(file)).warnings).toEqual(['second']);
    expect(await readdir(join(dir, 'atomic'))).toEqual(['p.plan.json']);
  });
});
