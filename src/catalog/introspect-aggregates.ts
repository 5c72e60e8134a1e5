import type pg from 'pg';
import { literal } from '../pg/quote.js';
import { rows } from './introspect-util.js';

/** One row of pg_aggregate, with every name already schema-qualified and quoted by the server. */
interface AggregateRow {
  oid: number;
  /** `"schema"."name"` */
  qname: string;
  /** pg_get_function_arguments: `text`, `double precision ORDER BY anyelement`, '' for `*`. */
  args: string;
  aggkind: 'n' | 'o' | 'h';
  sfunc: string;
  stype: string;
  sspace: number;
  finalfunc: string | null;
  finalextra: boolean;
  finalmodify: 'r' | 's' | 'w';
  combinefunc: string | null;
  serialfunc: string | null;
  deserialfunc: string | null;
  initcond: string | null;
  msfunc: string | null;
  minvfunc: string | null;
  mstype: string | null;
  msspace: number;
  mfinalfunc: string | null;
  mfinalextra: boolean;
  mfinalmodify: 'r' | 's' | 'w';
  minitcond: string | null;
  sortop: string | null;
  parallel: 's' | 'r' | 'u';
}

const MODIFY: Record<string, string> = { r: 'READ_ONLY', s: 'SHAREABLE', w: 'READ_WRITE' };

/** `CREATE OR REPLACE AGGREGATE` as pg_dump's dumpAgg writes it: only what differs from the defaults. */
export function aggregateDdl(a: AggregateRow): string {
  const opts = [`SFUNC = ${a.sfunc}`, `STYPE = ${a.stype}`];
  if (a.sspace !== 0) opts.push(`SSPACE = ${a.sspace}`);
  if (a.finalfunc) {
    opts.push(`FINALFUNC = ${a.finalfunc}`);
    if (a.finalextra) opts.push('FINALFUNC_EXTRA');
  }
  // Ordered-set aggregates default to READ_WRITE, the others to READ_ONLY.
  const defaultModify = a.aggkind === 'n' ? 'r' : 'w';
  if (a.finalmodify !== defaultModify) opts.push(`FINALFUNC_MODIFY = ${MODIFY[a.finalmodify]}`);
  if (a.combinefunc) opts.push(`COMBINEFUNC = ${a.combinefunc}`);
  if (a.serialfunc) opts.push(`SERIALFUNC = ${a.serialfunc}`);
  if (a.deserialfunc) opts.push(`DESERIALFUNC = ${a.deserialfunc}`);
  if (a.initcond !== null) opts.push(`INITCOND = ${literal(a.initcond)}`);
  if (a.msfunc) {
    opts.push(`MSFUNC = ${a.msfunc}`, `MINVFUNC = ${a.minvfunc}`, `MSTYPE = ${a.mstype}`);
    if (a.msspace !== 0) opts.push(`MSSPACE = ${a.msspace}`);
    if (a.mfinalfunc) {
      opts.push(`MFINALFUNC = ${a.mfinalfunc}`);
      if (a.mfinalextra) opts.push('MFINALFUNC_EXTRA');
    }
    if (a.mfinalmodify !== defaultModify) opts.push(`MFINALFUNC_MODIFY = ${MODIFY[a.mfinalmodify]}`);
    if (a.minitcond !== null) opts.push(`MINITCOND = ${literal(a.minitcond)}`);
  }
  if (a.sortop) opts.push(`SORTOP = ${a.sortop}`);
  if (a.parallel === 's') opts.push('PARALLEL = SAFE');
  else if (a.parallel === 'r') opts.push('PARALLEL = RESTRICTED');
  if (a.aggkind === 'h') opts.push('HYPOTHETICAL');
  return `CREATE OR REPLACE AGGREGATE ${a.qname}(${a.args === '' ? '*' : a.args}) (\n    ${opts.join(',\n    ')}\n)`;
}

const fn = (col: string) => `CASE WHEN a.${col} <> 0 THEN a.${col}::regproc::text END`;

/**
 * CREATE AGGREGATE of the given aggregates (pg_get_functiondef refuses them), by
 * OID. Read with search_path='' and quote_all_identifiers, so every function,
 * type and operator is schema-qualified.
 */
export async function readAggregateDdl(client: pg.ClientBase, oids: number[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  if (oids.length === 0) return out;
  const found = await rows<AggregateRow>(
    client,
    `SELECT a.aggfnoid::oid AS oid, quote_ident(n.nspname) || '.' || quote_ident(p.proname) AS qname,
        pg_get_function_arguments(a.aggfnoid) AS args, a.aggkind::text AS aggkind,
        a.aggtransfn::regproc::text AS sfunc, format_type(a.aggtranstype, NULL) AS stype, a.aggtransspace AS sspace,
        ${fn('aggfinalfn')} AS finalfunc, a.aggfinalextra AS finalextra, a.aggfinalmodify::text AS finalmodify,
        ${fn('aggcombinefn')} AS combinefunc, ${fn('aggserialfn')} AS serialfunc, ${fn('aggdeserialfn')} AS deserialfunc,
        a.agginitval AS initcond,
        ${fn('aggmtransfn')} AS msfunc, ${fn('aggminvtransfn')} AS minvfunc,
        CASE WHEN a.aggmtranstype <> 0 THEN format_type(a.aggmtranstype, NULL) END AS mstype, a.aggmtransspace AS msspace,
        ${fn('aggmfinalfn')} AS mfinalfunc, a.aggmfinalextra AS mfinalextra, a.aggmfinalmodify::text AS mfinalmodify,
        a.aggminitval AS minitcond,
        CASE WHEN a.aggsortop <> 0 THEN
          (SELECT 'OPERATOR(' || quote_ident(opn.nspname) || '.' || o.oprname || ')'
           FROM pg_operator o JOIN pg_namespace opn ON opn.oid = o.oprnamespace WHERE o.oid = a.aggsortop) END AS sortop,
        p.proparallel::text AS parallel
     FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE a.aggfnoid::oid = ANY($1::oid[])`,
    [oids],
  );
  for (const a of found) out.set(a.oid, aggregateDdl(a));
  return out;
}
