/**
 * The body of a `WITH (...)` clause from pg_class.reloptions-style `name=value`
 * entries, written as pg_dump does: `name='value'` (the value is always a literal).
 */
export function reloptionsSql(options: string[]): string {
  return options
    .map((o) => {
      const eq = o.indexOf('=');
      const value = o.slice(eq + 1).replaceAll("'", "''");
      return `${o.slice(0, eq)}='${value}'`;
    })
    .join(', ');
}
