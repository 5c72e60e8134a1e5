import { readFile, mkdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import type { Plan } from './model.js';
import { BadInputError } from '../errors.js';
import { writeFileAtomic } from '../config/atomic.js';
import { planSchemaProblems } from './plan-schema.js';

export const PLAN_FORMAT_VERSION = 1;

/**
 * sha256 of the plan's JSON as written, without its digest and without `manifest.path`
 * (where the manifest is, which moving the files may change; not what runs): a hand
 * edit of anything else no longer matches.
 */
function digestOf(plan: Record<string, unknown>): string {
  const manifest = plan.manifest !== null && typeof plan.manifest === 'object' ? { ...plan.manifest, path: '' } : plan.manifest;
  const body = JSON.stringify({ ...plan, manifest }, null, 2);
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

/**
 * The bytes of a plan file: stable key order, two-space indent, final newline, and a
 * last field `digest` over everything before it.
 */
export function serializePlan(plan: Plan): string {
  // A plan read from a file still carries that file's digest: it is computed anew, never over itself.
  const { digest: _read, ...rest } = plan as Plan & { digest?: unknown };
  return `${JSON.stringify({ ...rest, digest: digestOf({ ...rest }) }, null, 2)}\n`;
}

/** Written atomically (a temporary file renamed over it): a reader never sees half a plan. */
export async function writePlanFile(file: string, plan: Plan): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFileAtomic(file, serializePlan(plan));
}

const REPLAN = 'make a new one with `cloudphone-split plan` (plan files are not meant to be edited by hand)';

/**
 * Reads a plan file: JSON, checked against the plan schema (every problem named by its
 * path in the file: `steps[3].sql: expected an array of strings`), its digest, and the
 * order of its steps. Any problem is BadInputError (exit 2); nothing of it runs.
 */
export function parsePlan(text: string, file: string): Plan {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new BadInputError(`${file} is not a plan file: ${(err as Error).message}`, REPLAN);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new BadInputError(`${file} is not a plan file: expected a JSON object`, REPLAN);
  }
  const { digest, ...rest } = data as Record<string, unknown>;
  const { plan: checked, problems } = planSchemaProblems(rest);
  if (!checked) {
    const shown = problems.slice(0, 20);
    const more = problems.length > shown.length ? `\n  ... and ${problems.length - shown.length} more` : '';
    throw new BadInputError(`${file} is not a valid plan file:\n  ${shown.join('\n  ')}${more}`, REPLAN);
  }
  // The file's own object (checked above), so that its keys keep their order.
  const plan = rest as unknown as Plan;
  const order: string[] = [];
  const ids = new Set<string>();
  plan.steps.forEach((s, i) => {
    if (ids.has(s.id)) order.push(`steps[${i}].id: duplicate id ${s.id}`);
    for (const [j, d] of s.dependsOn.entries()) {
      if (!ids.has(d)) order.push(`steps[${i}].dependsOn[${j}]: ${d} is not an earlier step`);
    }
    ids.add(s.id);
  });
  if (order.length > 0) throw new BadInputError(`${file} is not a valid plan file:\n  ${order.join('\n  ')}`, REPLAN);
  if (digest !== undefined && digest !== digestOf(rest)) {
    throw new BadInputError(
      `${file} was changed after it was written: its digest does not match its content`,
      `${REPLAN}; a reviewed plan is exactly what runs`,
    );
  }
  return plan;
}

export async function readPlanFile(file: string): Promise<Plan> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new BadInputError(`cannot read plan file ${file}: ${(err as Error).message}`, 'write one with `cloudphone-split plan -o <file>`');
  }
  return parsePlan(text, file);
}
