import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, query, servers, uniquePrefix } from '../harness/servers.js';
import { runCli } from './helpers/cli.js';

/**
 * Base types with their own input and output functions, operators and operator classes
 * made outside an extension (shapes of PostgreSQL's own pg_dump tests): no step makes
 * them in a new database, so a moved table using one failed in create_schema, after the
 * databases were made. The plan names them instead; an extension's stay fine.
 */
const prefix = uniquePrefix();
let source: string;
let dir: string;

beforeAll(async () => {
  source = await createDatabase(servers().main, `${prefix}uncarried`);
  await query(
    source,
    `CREATE TYPE public.int42;
     CREATE FUNCTION public.int42_in(cstring) RETURNS public.int42 AS 'int4in' LANGUAGE internal STRICT IMMUTABLE;
     CREATE FUNCTION public.int42_out(public.int42) RETURNS cstring AS 'int4out' LANGUAGE internal STRICT IMMUTABLE;
     CREATE TYPE public.int42 (internallength = 4, input = public.int42_in, output = public.int42_out, alignment = int4, passedbyvalue);
     CREATE DOMAIN public.small42 AS public.int42;
     CREATE OPERATOR public.=== (leftarg = int, rightarg = int, function = int4eq);
     CREATE OPERATOR FAMILY public.rev_ops USING btree;
     CREATE FUNCTION public.rev_cmp(int, int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT btint4cmp($2, $1)';
     CREATE OPERATOR CLASS public.rev_int_ops FOR TYPE int USING btree FAMILY public.rev_ops AS
       OPERATOR 1 >, OPERATOR 2 >=, OPERATOR 3 =, OPERATOR 4 <=, OPERATOR 5 <, FUNCTION 1 public.rev_cmp(int, int);
     CREATE EXTENSION btree_gist WITH SCHEMA public;
     CREATE TABLE scores (id int PRIMARY KEY, score public.int42);
     CREATE TABLE wrapped (id int PRIMARY KEY, v public.small42);
     CREATE TABLE ranks (id int PRIMARY KEY, r int CHECK (r === r));
     CREATE TABLE ladders (id int PRIMARY KEY, pos int);
     CREATE INDEX ladders_pos ON ladders (pos public.rev_int_ops);
     CREATE TABLE rooms (id int PRIMARY KEY, room int, during tsrange, EXCLUDE USING gist (room WITH =, during WITH &&));
     CREATE TABLE plain (id int PRIMARY KEY, n int);
     CREATE VIEW matching AS SELECT id FROM ranks WHERE r === 1;
     CREATE TABLE legacy (id int PRIMARY KEY, v public.int42);
     INSERT INTO plain VALUES (1, 1);`,
  );
  dir = await mkdtemp(join(tmpdir(), 'cps-uncarried-'));
});
afterAll(async () => {
  await query(servers().main, `DROP DATABASE IF EXISTS "${prefix}uncarried" WITH (FORCE)`);
});

const ALL = ['scores', 'wrapped', 'ranks', 'ladders', 'rooms', 'plain', 'legacy'];

async function plan(games: string[], other: string[]): Promise<{ code: number; stderr: string; json: { errors?: string[] } }> {
  const manifest = join(dir, `split-${games.length}-${other.length}.yaml`);
  await writeFile(
    manifest,
    [
      'version: 1',
      'name: uncarried',
      'source:',
      '  url: ${SRC_URL}',
      'services:',
      '  game-service:',
      `    database: ${prefix}games`,
      `    tables: [${games.join(', ')}]`,
      '  other-service:',
      `    database: ${prefix}other`,
      `    tables: [${other.join(', ')}]`,
      `ignore: [${ALL.filter((t) => !games.includes(t) && !other.includes(t)).join(', ')}]`,
      '',
    ].join('\n'),
  );
  const r = await runCli(['plan', '-m', manifest, '-o', join(dir, 'plan.json'), '--json'], { SRC_URL: source, PATH: process.env.PATH });
  return { code: r.code, stderr: r.stderr, json: JSON.parse(r.stdout) as { errors: string[] } };
}

describe("objects no step makes in a new database (a user's base type, operator, operator class)", () => {
  it('block the plan (exit 1), naming per database each table or view and what it needs, the way out, and nothing for a table that stays', async () => {
    const r = await plan(['scores', 'wrapped', 'ladders'], ['ranks', 'rooms']);
    expect(r.code, r.stderr).toBe(1);
    const tail =
      ': the split makes tables, views, sequences, functions, enum, domain, composite and range types, collations, text search objects and extensions in a new database, ' +
      'not base types, operators or operator classes made outside an extension, so create_schema would fail there. ' +
      'Make them part of an extension installed on the source and the target server (CREATE EXTENSION on the target, ALTER EXTENSION … ADD on the source), or leave the table in the source (ignore)';
    expect(r.json.errors).toEqual([
      `${prefix}games (game-service) would get public.ladders (operator class public.rev_int_ops for access method btree); ` +
        `public.scores (type public.int42); public.wrapped (type public.int42)${tail}`,
      `${prefix}other (other-service) would get public.matching (operator public.===(integer,integer)); public.ranks (operator public.===(integer,integer))${tail}`,
    ]);
  });

  it("an extension's operator classes (btree_gist's, in an exclusion constraint) and tables using none plan as usual", async () => {
    const r = await plan(['plain'], ['rooms']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.errors ?? []).toEqual([]);
  });
});
