import pg from 'pg';
import { nodePgConfig } from '../conn/node-pg.js';
import { parseKey } from '../catalog/model.js';
import { qname } from '../pg/quote.js';

/**
 * A service that keeps writing to the source while it is split in waves: one session,
 * one statement at a time, an UPDATE of one row of every table it is given (setting a
 * column to its own value, one that no key uses when there is one: a real write, which
 * a fence or a read-only database rejects, that changes no data). Every error is kept.
 */
export class SourceWriter {
  writes = 0;
  readonly errors: string[] = [];
  /** Writes per table key. */
  readonly perTable = new Map<string, number>();
  private tables: string[] = [];
  private readonly statements = new Map<string, string>();
  private stopping = false;
  private loop: Promise<void> | null = null;
  private roundDone: Array<() => void> = [];
  private readonly client: pg.Client;

  constructor(url: string) {
    this.client = new pg.Client({ ...nodePgConfig(url), application_name: 'cloudphone-split-demo-writer' });
    this.client.on('error', () => undefined);
  }

  /** The UPDATE that rewrites one row of `table` unchanged; null when it has no column to set. */
  private async statementFor(table: string): Promise<string | null> {
    const r = await this.client.query<{ attname: string }>(
      `SELECT a.attname FROM pg_attribute a
        WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' AND a.attidentity = ''
        ORDER BY EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid = a.attrelid AND c.contype IN ('p', 'u', 'f', 'x') AND a.attnum = ANY (c.conkey)), a.attnum
        LIMIT 1`,
      [qname(parseKey(table))],
    );
    const column = r.rows[0]?.attname;
    if (!column) return null;
    const t = qname(parseKey(table));
    const c = `"${column.replaceAll('"', '""')}"`;
    return `UPDATE ${t} SET ${c} = ${c} WHERE (tableoid, ctid) = (SELECT tableoid, ctid FROM ${t} LIMIT 1)`;
  }

  /** Writes to `tables` from the next round on; resolves once no write to another table is in flight. */
  async writeTo(tables: readonly string[]): Promise<void> {
    for (const t of tables) {
      if (this.statements.has(t)) continue;
      const s = await this.statementFor(t);
      if (s) this.statements.set(t, s);
    }
    this.tables = tables.filter((t) => this.statements.has(t));
    if (this.loop) await new Promise<void>((resolve) => this.roundDone.push(resolve));
  }

  async start(tables: readonly string[]): Promise<void> {
    await this.client.connect();
    await this.writeTo(tables);
    this.loop = (async () => {
      while (!this.stopping) {
        for (const t of this.tables) {
          try {
            await this.client.query(this.statements.get(t)!);
            this.writes++;
            this.perTable.set(t, (this.perTable.get(t) ?? 0) + 1);
          } catch (err) {
            this.errors.push(`${t}: ${(err as Error).message}`);
          }
        }
        const done = this.roundDone;
        this.roundDone = [];
        for (const d of done) d();
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
  }

  /** Waits until every current table was written `n` more times (or an error happened). */
  async rounds(n: number): Promise<void> {
    for (let i = 0; i < n && this.errors.length === 0 && this.loop && !this.stopping; i++) await new Promise<void>((resolve) => this.roundDone.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
    for (const d of this.roundDone) d();
    await this.client.end().catch(() => undefined);
  }
}
