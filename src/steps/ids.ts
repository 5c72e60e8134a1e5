/** Stable step ids (they key the journal): `kind:database[:schema.table]`. */
export function stepId(kind: string, database: string, object?: string): string {
  return object === undefined ? `${kind}:${database}` : `${kind}:${database}:${object}`;
}

export function copyStepId(database: string, table: string, range?: { index: number; of: number }): string {
  return stepId('copy_data', database, range ? `${table}#${range.index + 1}/${range.of}` : table);
}
