import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { reversePatch, type ConfigBackup } from '../config/backup.js';
import { ConfigEditError } from '../config/config-edit-error.js';
import { applyConfigEntry, configTarget, sha256, type ConfigTarget } from '../config/edit.js';
import { removeLeftTemporaries, writeFileAtomic } from '../config/atomic.js';
import { configBackupsFromCreated } from '../config/restore.js';
import { maskLine } from '../config/mask.js';
import { outsideProblem } from '../config/inside.js';
import { StepFailedError } from '../errors.js';
import { scrub } from '../secrets/scrubber.js';
import type { ConfigEdit, RepointConfigStep } from '../plan/model.js';
import type { StepContext, StepHandler } from './handler.js';
import { probeWrite, type WriteProbe } from '../online/write-probe.js';
import { fileWritten, nextWrite, underFileLock } from '../config/file-turn.js';

export { restoreConfigFiles, configBackupsFromCreated, type RestoreReport } from '../config/restore.js';
export type { ConfigBackup } from '../config/backup.js';

/** The journal detail of a done `repoint_config` step: one backup per file it repointed. */
export interface RepointConfigDetail {
  files: ConfigBackup[];
  /** Online mode: the first write the service's new database accepted after the repoint (and restart). */
  probe?: WriteProbe;
}

/**
 * `repoint_config`: writes the reviewed config edits of one service, then runs its
 * restart command. A file is written only when it still holds what the plan saw
 * (its hash is the first edit's `beforeHash`) and the edits reproduce the planned
 * `afterHash`es; a file already holding the planned result is left as is. Each file
 * is written atomically after its backup is in the journal, so a crash at any
 * instant leaves every file either original or repointed, and restorable.
 */
export const repointConfig: StepHandler<'repoint_config'> = {
  render(step) {
    const lines: string[] = [];
    for (const e of step.edits) {
      lines.push(`-- config ${e.file}: ${e.entry}`);
      if (!e.diff) lines.push('--   (no change: it already points to the new database)');
      else for (const l of e.diff.replace(/\n$/, '').split('\n')) lines.push(`-- ${maskLine(l)}`);
    }
    if (step.restart) lines.push(`-- then run: ${step.restart}`);
    return lines;
  },

  async run(ctx, step) {
    const t0 = Date.now();
    // The journal read once: inside the cutover window every round trip counts.
    const [results, created] = await Promise.all([doneResults(ctx), ctx.journal.created()]);
    const recorded = configBackupsFromCreated(created);
    checkPendingFiles(step, recorded, await readPending(ctx, step, results));
    const checkMs = Date.now() - t0;
    const target = configTarget(step.target, (server) => ctx.pools.serverUrl(server));
    // Different files side by side (each is written atomically after its own backup is recorded); one file's edits in order.
    const files: ConfigBackup[] = await Promise.all(byFile(ctx.baseDir, step.edits).map((group) => repointFile(ctx, step, target, group, recorded)));
    const filesMs = Date.now() - t0 - checkMs;
    if (step.restart) await restart(ctx, step, step.restart);
    const detail: RepointConfigDetail = { files };
    const t1 = Date.now();
    // Online: when the new database accepted the service's first write (cutover's client-visible downtime ends there).
    if (ctx.plan.mode === 'online') {
      const probe = await probeWrite(ctx.pools, ctx.plan, step.target, step.service ?? step.target.service, ctx.signal);
      if (probe.acceptedAt === null && probe.table !== null) {
        ctx.progress.emit({ type: 'log', level: 'warn', message: `${step.target.database} did not accept a write as ${probe.role ?? 'the admin'} into ${probe.table ?? '?'}: ${probe.error ?? ''}` });
      }
      detail.probe = probe;
    }
    return { detail: { ...detail, checkMs, filesMs, probeMs: Date.now() - t1 } };
  },
};

/** The results of the split's done steps, read at once where the journal can (else one step at a time). */
async function doneResults(ctx: StepContext): Promise<ReadonlyMap<string, unknown>> {
  if (ctx.journal.results) return ctx.journal.results();
  const others = ctx.plan.steps.filter((s): s is RepointConfigStep => s.kind === 'repoint_config');
  const results = await Promise.all(others.map((s) => ctx.journal.result(s.id)));
  return new Map(others.flatMap((s, i) => (results[i] === undefined ? [] : [[s.id, results[i]] as const])));
}

/** The edits that repoint_config steps not yet done will write (this step's among them). */
function pendingEdits(ctx: StepContext, step: RepointConfigStep, results: ReadonlyMap<string, unknown>): ConfigEdit[] {
  const pending: ConfigEdit[] = [];
  for (const s of ctx.plan.steps) {
    if (s.kind === 'repoint_config' && (s.id === step.id || !results.has(s.id))) pending.push(...s.edits);
  }
  if (!ctx.plan.steps.some((s) => s.id === step.id)) pending.push(...step.edits);
  return pending;
}

interface PendingFile {
  group: ConfigEdit[];
  outside: string | null;
  bytes: Buffer | null;
}

/** Reads every file pending edits will write, and whether each entry stays inside the manifest's folder. */
async function readPending(ctx: StepContext, step: RepointConfigStep, results: ReadonlyMap<string, unknown>): Promise<PendingFile[]> {
  return Promise.all(
    byFile(ctx.baseDir, pendingEdits(ctx, step, results)).map(async (group): Promise<PendingFile> => {
      let outside: string | null = null;
      for (const e of group) {
        outside = await outsideProblem(ctx.baseDir, e.spec);
        if (outside) break;
      }
      const bytes = await readFile(resolve(ctx.baseDir, group[0]!.file)).catch(() => null);
      return { group, outside, bytes };
    }),
  );
}

/**
 * Before any file is written: every file that a repoint_config step of the plan not yet
 * done will write is still inside the manifest's folder (unless its entry says
 * `outside: true`) and holds a content the plan knows (as planned, or as left by an
 * earlier edit of the chain, or already repointed). Otherwise nothing is written and
 * every such file is named, so a refused file never leaves the others half done.
 */
function checkPendingFiles(step: RepointConfigStep, recorded: ConfigBackup[], files: PendingFile[]): void {
  const found = files.map(({ group, outside, bytes }): string[] => {
    const problems: string[] = [];
    const file = group[0]!.file;
    if (outside) problems.push(`${outside}; the manifest must say outside: true for it`);
    const known = new Set<string | null>([...group.map((e) => e.beforeHash), group[group.length - 1]!.afterHash]);
    for (const b of recorded) if (b.file === file && known.has(b.beforeHash)) known.add(b.afterHash);
    if (bytes === null) problems.push(`${file} cannot be read: it must exist as when the plan was made`);
    else if (!known.has(sha256(bytes))) problems.push(`${file} changed since the plan showed its diff`);
    return problems;
  });
  const problems = found.flat();
  if (problems.length > 0) {
    throw new StepFailedError(
      step.id,
      `no config file was written:\n  ${problems.join('\n  ')}\nput the file back as the plan saw it and rerun apply, or plan again (cloudphone-split apply -m <manifest> does), review the new diff, and apply it`,
    );
  }
}

function byFile(baseDir: string, edits: ConfigEdit[]): ConfigEdit[][] {
  const groups = new Map<string, ConfigEdit[]>();
  for (const e of edits) {
    const path = resolve(baseDir, e.file);
    groups.set(path, [...(groups.get(path) ?? []), e]);
  }
  return [...groups.values()];
}

/** How long a step waits for the repoint of an earlier service to write a file they share, before it fails. */
export const FILE_TURN_WAIT_MS = 30_000;

/**
 * The contents a shared file holds before the edits of an earlier repoint_config step
 * of the plan (the chain states that come before this step's): while the file holds
 * one of them, it is not this step's turn yet.
 */
function earlierStates(ctx: StepContext, step: RepointConfigStep, path: string, own: string): Set<string> {
  const out = new Set<string>();
  for (const s of ctx.plan.steps) {
    if (s.id === step.id) break;
    if (s.kind !== 'repoint_config') continue;
    for (const e of s.edits) if (e.beforeHash !== null && e.beforeHash !== own && resolve(ctx.baseDir, e.file) === path) out.add(e.beforeHash);
  }
  return out;
}

/**
 * The contents a shared file holds once the edits of a repoint_config step later in the
 * plan were written: a later step writes only after this one did (earlierStates), so
 * the file holding one of them means this step's edits are in it (a rerun after a kill
 * that came once every service had written it, before the journal recorded them).
 */
function laterStates(ctx: StepContext, step: RepointConfigStep, path: string, own: string): Set<string> {
  const out = new Set<string>();
  let after = false;
  for (const s of ctx.plan.steps) {
    if (s.id === step.id) after = true;
    else if (after && s.kind === 'repoint_config') {
      for (const e of s.edits) {
        if (resolve(ctx.baseDir, e.file) !== path) continue;
        for (const h of [e.beforeHash, e.afterHash]) if (h !== null && h !== own) out.add(h);
      }
    }
  }
  return out;
}

/**
 * Applies the edits of one file (in plan order) and returns its backup. A file shared
 * with services earlier in the plan is written after theirs (see file-turn.ts): the
 * steps run side by side, and only their writes of the shared file take turns.
 */
async function repointFile(
  ctx: StepContext,
  step: RepointConfigStep,
  target: ConfigTarget,
  edits: ConfigEdit[],
  recorded: ConfigBackup[],
): Promise<ConfigBackup> {
  const first = edits[0]!;
  const file = first.file;
  const path = resolve(ctx.baseDir, file);
  const fail = (message: string, cause?: unknown): StepFailedError =>
    new StepFailedError(step.id, `config file ${file}: ${message}`, cause === undefined ? undefined : { cause });
  if (first.beforeHash === null) throw fail('the plan holds no content for it; plan again (cloudphone-split plan) and review the new diff');
  const earlier = earlierStates(ctx, step, path, first.beforeHash);
  const until = Date.now() + FILE_TURN_WAIT_MS;
  for (;;) {
    const outcome = await underFileLock(path, async (): Promise<{ backup: ConfigBackup } | { wait: Promise<boolean> }> => {
      const bytes = await readFile(path).catch((err: unknown) => {
        throw fail('cannot be read: it must exist as when the plan was made', err);
      });
      // Registered under the lock: a write that comes right after it is not missed.
      if (earlier.has(sha256(bytes))) return { wait: nextWrite(path, Math.max(0, until - Date.now()), ctx.signal) };
      try {
        return { backup: await editFile(ctx, step, target, edits, recorded, bytes, fail) };
      } finally {
        fileWritten(path);
      }
    });
    if ('backup' in outcome) return outcome.backup;
    const woken = await outcome.wait;
    if (!woken) {
      throw fail(
        `it still holds what it held before the repoint of a service earlier in the plan that edits it too, which did not write it within ${FILE_TURN_WAIT_MS / 1000} s; rerun cutover (or apply) once that step is done`,
      );
    }
  }
}

/** Checks the file's content against the plan, applies the edits and writes it atomically (the backup recorded first). */
async function editFile(
  ctx: StepContext,
  step: RepointConfigStep,
  target: ConfigTarget,
  edits: ConfigEdit[],
  recorded: ConfigBackup[],
  bytes: Buffer,
  fail: (message: string, cause?: unknown) => StepFailedError,
): Promise<ConfigBackup> {
  const first = edits[0]!;
  const last = edits[edits.length - 1]!;
  const file = first.file;
  const path = resolve(ctx.baseDir, file);
  const hash = sha256(bytes);
  // Under the split's lock: a temporary beside the file is a killed run's, even one killed a moment ago.
  await removeLeftTemporaries(path);
  if (first.beforeHash === null) throw fail('the plan holds no content for it; plan again (cloudphone-split plan) and review the new diff');

  const mine = recorded.filter((b) => b.file === file && b.beforeHash === first.beforeHash);
  const previous = mine.find((b) => b.afterHash === hash);
  if (previous || hash === last.afterHash) {
    ctx.progress.emit({ type: 'log', level: 'info', message: `${file}: already repointed` });
    return previous ?? { file, beforeHash: first.beforeHash, afterHash: hash, hunks: hash === first.beforeHash ? [] : null };
  }
  if (laterStates(ctx, step, path, first.beforeHash).has(hash)) {
    ctx.progress.emit({ type: 'log', level: 'info', message: `${file}: already repointed (and by a later service since)` });
    // Without a recorded backup this step's edits changed nothing (a backup is recorded before every write that changes the file).
    return mine[0] ?? { file, beforeHash: first.beforeHash, afterHash: first.beforeHash, hunks: [] };
  }
  if (hash !== first.beforeHash) {
    throw fail(
      'it changed since the plan showed its diff, so it was left alone; plan again (cloudphone-split plan), review the new diff, then apply that plan',
    );
  }

  const original = bytes.toString('utf8');
  let text = original;
  for (const e of edits) {
    const next = edit(text, e, target, fail);
    const expected = sha256(text) === e.beforeHash ? next : e.beforeHash === first.beforeHash ? edit(original, e, target, fail) : null;
    if (expected === null || sha256(expected) !== e.afterHash) {
      throw fail(
        `the entry ${e.entry} no longer gives the change the plan showed (a server URL or a variable changed?); it was left alone; plan again and review the new diff`,
      );
    }
    text = next;
  }
  const backup: ConfigBackup = { file, beforeHash: first.beforeHash, afterHash: sha256(text), hunks: reversePatch(original, text) };
  if (text !== original) {
    await ctx.journal.recordCreated({ kind: 'config', server: step.target.server, name: `${file}#${first.beforeHash}`, detail: { ...backup } });
    await writeFileAtomic(path, text);
  }
  ctx.progress.emit({ type: 'log', level: 'info', message: `${file}: repointed ${edits.map((e) => e.entry).join(', ')}` });
  return backup;
}

function edit(text: string, e: ConfigEdit, target: ConfigTarget, fail: (m: string, cause?: unknown) => StepFailedError): string {
  try {
    return applyConfigEntry(text, e.spec, target);
  } catch (err) {
    if (err instanceof ConfigEditError) throw fail(`${err.problem} (${err.fix})`, err);
    throw err;
  }
}

/** Runs the service's restart command in the manifest's folder; its output goes to the progress log. */
async function restart(ctx: StepContext, step: RepointConfigStep, command: string): Promise<void> {
  ctx.progress.emit({ type: 'log', level: 'info', message: `${step.service ?? step.target.service}: running ${command}` });
  const { $ } = await import('zx/core');
  const sh = $({ shell: true, cwd: ctx.baseDir, env: ctx.env, prefix: '', postfix: '', quiet: true, verbose: false, nothrow: true, signal: ctx.signal });
  const out = await sh(Object.assign([command], { raw: [command] }));
  const clean = (text: string): string[] =>
    text
      .split(/\r?\n/)
      .filter((l) => l.trim() !== '')
      .map((l) => maskLine(scrub(l, [])));
  for (const line of clean(out.stdout)) ctx.progress.emit({ type: 'log', level: 'info', message: line });
  for (const line of clean(out.stderr)) ctx.progress.emit({ type: 'log', level: 'warn', message: line });
  if (out.exitCode !== 0) {
    const tail = clean(out.stderr).slice(-5).join('\n');
    const how = out.exitCode === null ? `was stopped (${out.signal ?? 'signal'})` : `exited with ${out.exitCode}`;
    throw new StepFailedError(
      step.id,
      `the restart command \`${command}\` ${how}${tail ? `:\n${tail}` : ''}\nthe config files are repointed; fix the command or the service, then rerun apply (it runs the command again)`,
    );
  }
}
