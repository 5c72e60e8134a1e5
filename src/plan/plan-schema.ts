import { z } from 'zod';
import { STEP_PHASES, type Plan } from './model.js';

/**
 * The schema of a plan file (model.ts is the type; this is what a file read from disk
 * is checked against before anything runs). Objects accept fields they do not know, so
 * that a plan written by a later minor version still reads; every field they know is
 * checked.
 */
const str = z.string({ required_error: 'missing', invalid_type_error: 'expected a string' });
const bool = z.boolean({ required_error: 'missing', invalid_type_error: 'expected true or false' });
const int = z.number({ required_error: 'missing', invalid_type_error: 'expected a number' }).int('expected a whole number');
const count = int.nonnegative('expected a number >= 0');
const strings = z.array(str, { required_error: 'missing', invalid_type_error: 'expected an array of strings' });
const nullableStr = z.string({ invalid_type_error: 'expected a string or null' }).nullable();
const obj = <T extends z.ZodRawShape>(shape: T) =>
  z.object(shape, { required_error: 'missing', invalid_type_error: 'expected an object' }).passthrough();
const arrayOf = <T extends z.ZodTypeAny>(item: T, what: string) =>
  z.array(item, { required_error: 'missing', invalid_type_error: `expected an array of ${what}` });

const qualified = obj({ schema: str, name: str });
const target = obj({ service: str, server: str, database: str });

const base = {
  id: str.min(1, 'expected a step id'),
  service: str.optional(),
  table: str.optional(),
  description: str,
  sql: strings,
  dependsOn: strings,
  phase: z.enum(STEP_PHASES, { errorMap: () => ({ message: `expected one of ${STEP_PHASES.map((p) => `"${p}"`).join(', ')}` }) }).optional(),
};
const step = <K extends string, T extends z.ZodRawShape>(kind: K, shape: T) => obj({ ...base, kind: z.literal(kind), ...shape });

const configEntry = z.union([obj({ file: str, key: str, value: str }), obj({ file: str, replace: str, with: str })], {
  errorMap: () => ({ message: 'expected { file, key, value } or { file, replace, with }' }),
});
const configEdit = obj({ file: str, entry: str, beforeHash: nullableStr, afterHash: nullableStr, diff: str, spec: configEntry });
const fill = obj({
  target,
  table: str,
  column: str,
  fromTable: str,
  fromColumn: str,
  on: arrayOf(obj({ local: str, remote: str }), 'column pairs'),
});
const counted = obj({ name: str, rowsEstimate: z.number({ invalid_type_error: 'expected a number' }), bytes: z.number({ invalid_type_error: 'expected a number' }) });

export const stepSchema = z.discriminatedUnion('kind', [
  step('preflight', { targets: arrayOf(target, 'targets'), roles: strings, online: bool }),
  step('create_role', { server: str, role: str, password: nullableStr }),
  step('create_database', {
    target,
    owner: nullableStr,
    encoding: str,
    collate: str,
    ctype: str,
    localeProvider: str,
    icuLocale: nullableStr,
  }),
  step('create_schema', { target }),
  step('start_replication', {
    target,
    publication: str,
    subscription: str,
    slot: str,
    tables: strings,
    sameServer: bool,
    leaves: arrayOf(obj({ table: str, source: qualified, columns: strings }), 'tables').optional(),
  }),
  step('wait_sync', { target, subscription: str }),
  step('fence_source', { tables: strings }),
  step('catch_up', { targets: arrayOf(target, 'targets'), slots: strings, fills: arrayOf(fill, 'fills').optional() }),
  step('copy_data', {
    target,
    source: qualified,
    columns: strings,
    extraColumns: strings,
    copyOut: str,
    copyIn: str,
    freeze: bool,
    binary: bool,
    rowsEstimate: z.number({ required_error: 'missing', invalid_type_error: 'expected a number' }),
    bytes: z.number({ required_error: 'missing', invalid_type_error: 'expected a number' }),
    range: obj({ index: count, of: count, where: str }).nullable(),
    lookupWorkMemKb: count.optional(),
  }),
  step('start_server_copy', {
    target,
    publication: str,
    subscription: str,
    slot: str,
    tables: arrayOf(obj({ table: str, source: qualified, columns: strings, rowsEstimate: z.number({ invalid_type_error: 'expected a number' }), bytes: z.number({ invalid_type_error: 'expected a number' }) }), 'tables'),
  }),
  step('wait_server_copy', { target, subscription: str, tables: strings }),
  step('stop_server_copy', { target, publication: str, subscription: str, slot: str }),
  step('create_indexes', {
    target,
    afterCommit: strings.optional(),
    superuserPublications: arrayOf(obj({ name: str, scope: z.enum(['FOR ALL TABLES', 'FOR TABLES IN SCHEMA'], { errorMap: () => ({ message: 'expected "FOR ALL TABLES" or "FOR TABLES IN SCHEMA"' }) }) }), 'publications').optional(),
  }),
  step('sync_sequences', { target, sequences: arrayOf(obj({ source: qualified, target: qualified }), 'sequence pairs') }),
  step('grant', { target, role: nullableStr, owners: strings.optional() }),
  step('verify_rowcounts', { target, tables: strings }),
  step('stop_replication', { target, publication: str, subscription: str, slot: str }),
  step('release_replication', { target, publication: str, subscription: str, slot: str }),
  step('repoint_config', { target, edits: arrayOf(configEdit, 'config edits'), restart: nullableStr }),
  step('start_reverse_replication', {
    target,
    publication: str,
    subscription: str,
    slot: str,
    tables: arrayOf(obj({ table: str, partitioned: bool, columns: strings.nullable() }), 'tables'),
    sourceDatabase: str,
  }),
  step('fence_target', { target, tables: strings, sourceDatabase: str }),
  step('reverse_catch_up', { target, slot: str }),
  step('sync_sequences_back', { target, sequences: arrayOf(obj({ source: qualified, target: qualified }), 'sequence pairs') }),
  step('unfence_source', { database: str, tables: strings }),
  step('restore_config', { restarts: arrayOf(obj({ service: str, command: str }), 'restarts') }),
  step('stop_reverse_replication', { target, publication: str, subscription: str, slot: str }),
  step('copy_back', { target, leaves: arrayOf(obj({ table: str, columns: strings, readAs: z.record(str).optional() }), 'tables') }),
  step('schedule_retention', {
    database: str,
    days: z.number({ required_error: 'missing', invalid_type_error: 'expected a number' }),
    roles: strings,
    // Plans written before source.retire existed retired the whole database.
    retire: bool.default(true),
    tables: strings.default([]),
  }),
]);

export const planSchema = obj({
  formatVersion: z.literal(1),
  toolVersion: str,
  name: str,
  mode: z.enum(['offline', 'online'], { errorMap: () => ({ message: 'expected "offline" or "online"' }) }),
  manifest: obj({ path: str, text: str }),
  sourceFingerprint: str,
  tableFingerprints: z.record(str, { required_error: 'missing', invalid_type_error: 'expected an object of strings' }),
  source: obj({ database: str, serverVersion: str }),
  movedEarlier: arrayOf(
    obj({
      table: str,
      split: str,
      service: nullableStr,
      database: nullableStr,
      movedAt: nullableStr,
      state: z.enum(['moved', 'moving'], { errorMap: () => ({ message: 'expected "moved" or "moving"' }) }),
      via: z.enum(['journal', 'fence', 'journal+fence'], { errorMap: () => ({ message: 'expected "journal", "fence" or "journal+fence"' }) }),
    }),
    'moved tables',
  ).optional(),
  remainingForeignKeys: arrayOf(
    obj({ table: str, constraint: str, columns: strings, references: str, referencedService: str, movedBy: nullableStr }),
    'foreign keys',
  ).optional(),
  services: arrayOf(
    obj({
      name: str,
      database: str,
      server: str,
      role: nullableStr,
      copy: z.enum(['relay', 'server'], { errorMap: () => ({ message: 'expected "relay" or "server"' }) }).optional(),
      tables: arrayOf(counted, 'tables'),
      copies: arrayOf(counted, 'tables'),
      views: strings,
      droppedForeignKeys: arrayOf(
        obj({
          table: str,
          constraint: str,
          columns: strings,
          references: str,
          referencedService: nullableStr,
          reason: z.enum(['cross-service', 'copy', 'ignored'], { errorMap: () => ({ message: 'expected "cross-service", "copy" or "ignored"' }) }),
          denormalizedBy: strings,
          suggestion: str,
          movedBy: str.optional(),
        }),
        'foreign keys',
      ),
      denormalize: arrayOf(obj({ table: str, column: str, from: str, on: strings, type: str }), 'columns'),
    }),
    'services',
  ),
  steps: arrayOf(stepSchema, 'steps'),
  warnings: strings,
  errors: strings,
});

/** Compile-time proof that what the schema accepts is a Plan: a field the type gains must be checked here too. */
export type CheckedPlan = z.infer<typeof planSchema>;
const _planShape = (p: CheckedPlan): Plan => p;
void _planShape;

/** `steps[3].sql` from a path of keys and indexes. */
export function formatPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out || '(top level)';
}

/** Every problem of a parsed plan file, as `path: what is wrong`. */
export function planSchemaProblems(data: unknown): { plan: Plan | null; problems: string[] } {
  const r = planSchema.safeParse(data);
  if (r.success) return { plan: r.data, problems: [] };
  const problems = r.error.issues.map((i) => {
    const at = formatPath(i.path);
    if (i.code === 'invalid_union_discriminator') {
      const got = (() => {
        let v: unknown = data;
        for (const p of i.path) v = (v as Record<string | number, unknown> | undefined)?.[p];
        return v;
      })();
      return `${at}: ${got === undefined ? 'missing' : `unknown step kind ${JSON.stringify(got)}`} (expected one of ${i.options.join(', ')})`;
    }
    if (i.code === 'invalid_literal' && i.path.length === 1 && i.path[0] === 'formatVersion') {
      return `formatVersion: is ${JSON.stringify(i.received) ?? 'missing'}, this tool reads format 1`;
    }
    if (i.code === 'invalid_type' && i.received === 'undefined') return `${at}: missing`;
    return `${at}: ${i.message}`;
  });
  return { plan: null, problems };
}
