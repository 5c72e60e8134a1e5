import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Plan } from './model.js';
import { STEP_KINDS } from './model.js';
import { BadInputError } from '../errors.js';

export const PLAN_FORMAT_VERSION = 1;

/** The bytes of a plan file: stable key order, two-space indent, final newline. */
export function serializePlan(plan: Plan): string {
  return `${JSON.stringify(plan, null, 2)}\n`;
}

export async function writePlanFile(file: string, plan: Plan): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, serializePlan(plan));
}

export function parsePlan(text: string, file: string): Plan {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new BadInputError(`${file} is not a plan file: ${(err as Error).message}`, 'write one with `cloudphone-split plan -o <file>`');
  }
  const p = data as Partial<Plan>;
  const problems: string[] = [];
  if (typeof p !== 'object' || p === null) problems.push('not a JSON object');
  else {
    if (p.formatVersion !== PLAN_FORMAT_VERSION) problems.push(`formatVersion is ${String(p.formatVersion)}, this tool reads ${PLAN_FORMAT_VERSION}`);
    if (typeof p.name !== 'string') problems.push('missing name');
    if (typeof p.sourceFingerprint !== 'string') problems.push('missing sourceFingerprint');
    if (!Array.isArray(p.steps)) problems.push('missing steps');
    else {
      const ids = new Set<string>();
      p.steps.forEach((s, i) => {
        if (!s || typeof s.id !== 'string' || !(STEP_KINDS as readonly string[]).includes(s.kind)) problems.push(`steps[${i}]: bad id or kind`);
        else if (ids.has(s.id)) problems.push(`steps[${i}]: duplicate id ${s.id}`);
        else {
          for (const d of s.dependsOn ?? []) if (!ids.has(d)) problems.push(`steps[${i}] (${s.id}) depends on ${d}, which is not an earlier step`);
          ids.add(s.id);
        }
      });
    }
  }
  if (problems.length > 0) {
    throw new BadInputError(`${file} is not a valid plan file:\n  ${problems.join('\n  ')}`, 'regenerate it with `cloudphone-split plan`');
  }
  return p as Plan;
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
