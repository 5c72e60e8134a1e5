import { STEP_KINDS, type Plan, type Step, type StepKind } from '../../../src/plan/model.js';
import type { StepHandler, StepHandlers, StepContext, StepResult } from '../../../src/steps/handler.js';

/** What a toy step needs; the kind-specific fields of real steps are irrelevant to the engine. */
export interface ToyStep {
  id: string;
  kind?: StepKind;
  dependsOn?: string[];
  service?: string;
  table?: string;
  bytes?: number;
}

export function toySteps(steps: ToyStep[]): Step[] {
  return steps.map(
    (s) =>
      ({
        id: s.id,
        kind: s.kind ?? 'grant',
        service: s.service,
        table: s.table,
        description: `toy step ${s.id}`,
        sql: [`SELECT ${JSON.stringify(s.id).replaceAll('"', "'")}`],
        dependsOn: s.dependsOn ?? [],
        bytes: s.bytes ?? 0,
        rowsEstimate: 0,
      }) as unknown as Step,
  );
}

/** A plan holding only what the engine reads: name, steps, and a manifest text for secret scrubbing. */
export function toyPlan(name: string, steps: ToyStep[], manifestText = `name: ${name}\n`): Plan {
  return {
    formatVersion: 1,
    toolVersion: 'test',
    name,
    mode: 'offline',
    manifest: { path: 'split.yaml', text: manifestText },
    sourceFingerprint: 'f'.repeat(64),
    tableFingerprints: {},
    source: { database: 'toy', serverVersion: '18' },
    services: [],
    steps: toySteps(steps),
    warnings: [],
    errors: [],
  };
}

/** A StepHandlers record whose every kind runs the same function. */
export function toyHandlers(run: (ctx: StepContext, step: Step) => Promise<StepResult>): StepHandlers {
  const one: StepHandler<StepKind> = { render: (step) => step.sql, run };
  return Object.fromEntries(STEP_KINDS.map((k) => [k, one])) as unknown as StepHandlers;
}
