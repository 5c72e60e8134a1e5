import type { Column, Table } from '../catalog/model.js';
import { ident } from '../pg/quote.js';

/**
 * xml columns (xml through domains and arrays). PostgreSQL's xml output, which COPY
 * (binary or text) and logical replication use, drops a leading `<?xml version="1.0"?>`
 * declaration that the stored value keeps: only a copy that reads the column as text
 * carries the value unchanged.
 */
export function xmlColumns(t: Table): Column[] {
  return t.columns.filter((c) => !c.generated && c.typeFlags.includes('xml'));
}

/** The column read as its stored text (`alias.col::text`, or `::text[]` for an array). */
export function xmlAsText(c: Column, alias?: string): string {
  return `${alias ? `${alias}.` : ''}${ident(c.name)}::text${c.typeFlags.includes('array') ? '[]' : ''}`;
}

/** Column name → the expression that reads it as text, for every xml column of the table. */
export function xmlReadAs(t: Table, alias?: string): Record<string, string> {
  return Object.fromEntries(xmlColumns(t).map((c) => [c.name, xmlAsText(c, alias)]));
}
