import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planConfigEdits, type ConfigTarget } from '../../../src/config/edit.js';
import { StepFailedError } from '../../../src/errors.js';
import type { Pools } from '../../../src/pg/pools.js';
import type { Plan, RepointConfigStep } from '../../../src/plan/model.js';
import type { CreatedObject, StepContext } from '../../../src/steps/handler.js';
import { repointConfig } from '../../../src/steps/repoint-config.js';

const SERVER = 'postgres://admin:adminpw@localhost:5432/cloudphone_core';
const ATLAS = ['env "a" { url = "postgres://x@h/cloudphone_core?app=a" }', 'env "b" { url = "postgres://x@h/cloudphone_core?app=b" }', 'env "c" { url = "postgres://x@h/cloudphone_core?app=c" }', ''].join('\n');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cps-turn-'));
  await writeFile(join(dir, 'atlas.hcl'), ATLAS);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Three services editing one shared file, planned as a chain in plan order (a, b, c). */
async function chainedSteps(): Promise<RepointConfigStep[]> {
  const items = ['a', 'b', 'c'].map((s) => ({
    entry: { file: 'atlas.hcl', replace: `/cloudphone_core?app=${s}"`, with: `/{database}?app=${s}"` },
    target: { database: `db_${s}`, serverUrl: SERVER, sameServer: true } satisfies ConfigTarget,
  }));
  const planned = await planConfigEdits(dir, items);
  return ['a', 'b', 'c'].map((s, i) => ({
    id: `repoint_config:db_${s}`,
    kind: 'repoint_config',
    service: s,
    description: 'repoint',
    sql: [],
    dependsOn: [],
    target: { service: s, server: 'source', database: `db_${s}` },
    edits: [planned[i]!.edit],
    restart: null,
  }));
}

function context(steps: RepointConfigStep[], created: CreatedObject[]): StepContext {
  return {
    plan: { steps, mode: 'offline' } as unknown as Plan, // repoint_config reads only the plan's repoint_config steps and mode
    pools: { serverUrl: () => SERVER } as unknown as Pools, // only serverUrl is used
    env: { ...process.env },
    journal: {
      result: () => Promise.resolve(undefined),
      recordCreated(o) {
        created.push(o);
        return Promise.resolve();
      },
      created: () => Promise.resolve([...created]),
    },
    snapshot: () => Promise.reject(new Error('not used')),
    progress: { emit: () => undefined },
    signal: new AbortController().signal,
    baseDir: dir,
    now: () => new Date(),
  };
}

describe('repoint_config steps sharing a file, run at once', () => {
  it('write it in plan order whatever order they start in: the last service first waits for the others', async () => {
    const steps = await chainedSteps();
    const created: CreatedObject[] = [];
    const ctx = context(steps, created);
    const order: string[] = [];
    const run = (s: RepointConfigStep) => repointConfig.run(ctx, s).then(() => order.push(s.service!));
    await Promise.all([run(steps[2]!), run(steps[1]!), run(steps[0]!)]);
    expect(order).toEqual(['a', 'b', 'c']);
    const text = await readFile(join(dir, 'atlas.hcl'), 'utf8');
    expect(text).toBe(ATLAS.replace('cloudphone_core?app=a', 'db_a?app=a').replace('cloudphone_core?app=b', 'db_b?app=b').replace('cloudphone_core?app=c', 'db_c?app=c'));
    // Each wrote from the state the plan showed it: one backup per step, chained.
    expect(created.map((c) => c.name)).toEqual(steps.map((s) => `atlas.hcl#${s.edits[0]!.beforeHash}`));
  });

  it('run again after every service wrote the file (a kill before the journal recorded them), each finds its edits in it', async () => {
    const steps = await chainedSteps();
    const created: CreatedObject[] = [];
    const ctx = context(steps, created);
    await Promise.all(steps.map((s) => repointConfig.run(ctx, s)));
    const after = await readFile(join(dir, 'atlas.hcl'), 'utf8');
    const again = await Promise.all(steps.map((s) => repointConfig.run(ctx, s)));
    expect(await readFile(join(dir, 'atlas.hcl'), 'utf8')).toBe(after);
    expect(created).toHaveLength(3);
    // Each rerun returns the backup its first run recorded: rollback restores the same chain.
    again.forEach((r, i) => expect((r.detail as { files: Array<{ beforeHash: string }> }).files[0]!.beforeHash).toBe(steps[i]!.edits[0]!.beforeHash));
  });

  it('a later service still refuses a file that changed since the plan (it does not wait for it)', async () => {
    const steps = await chainedSteps();
    await writeFile(join(dir, 'atlas.hcl'), `${ATLAS}# edited by hand\n`);
    const ctx = context(steps, []);
    await expect(repointConfig.run(ctx, steps[1]!)).rejects.toThrow(StepFailedError);
    await expect(repointConfig.run(ctx, steps[1]!)).rejects.toThrow(/changed since the plan/);
  });
});
