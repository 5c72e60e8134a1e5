/**
 * A trigger function that refuses the write it fires on (SQLSTATE 25006), its message
 * naming the table and the trigger's two arguments: the source's fence, the fence of a
 * rolled-back target, a read-only copy. `message` is a format() string over
 * TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV[0] and TG_ARGV[1]; `before` runs first (a
 * writer let through). `fn` is the quoted, qualified name; `tag` the dollar quote.
 */
export function rejectWritesFunctionSql(fn: string, tag: string, message: string, hint: string, before = ''): string {
  return `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $${tag}$
BEGIN
${before}  RAISE EXCEPTION USING
    ERRCODE = 'read_only_sql_transaction',
    MESSAGE = format('${message}',
                     TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV[0], TG_ARGV[1]),
    HINT = '${hint}';
END
$${tag}$`;
}
