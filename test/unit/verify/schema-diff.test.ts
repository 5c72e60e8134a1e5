import { describe, expect, it } from 'vitest';
import type { Table } from '../../../src/catalog/model.js';
import { column, table } from '../catalog/model-builders.js';
import { compareTables, normaliseType } from '../../../src/verify/schema-diff.js';

function devices(): Table {
  return table('public', 'devices', {
    rowsEstimate: 0,
    bytes: 0,
    columns: [
      column('id', '"bigint"', { notNull: true }),
      column('user_id', '"integer"'),
      column('status', '"text"', { default: `'new'::"text"` }),
    ],
    constraints: [
      { name: 'devices_pkey', type: 'p', definition: 'PRIMARY KEY ("id")', columns: ['id'], validated: true, deferrable: false, deferred: false, references: null, index: 'devices_pkey', inherited: false, comment: null },
      { name: 'devices_user_id_fkey', type: 'f', definition: 'FOREIGN KEY ("user_id") REFERENCES "public"."users"("id")', columns: ['user_id'], validated: true, deferrable: false, deferred: false, references: { table: { schema: 'public', name: 'users' }, columns: ['id'] }, index: null, inherited: false, comment: null },
    ],
    indexes: [
      { name: 'devices_pkey', definition: 'CREATE UNIQUE INDEX "devices_pkey" ON "public"."devices" USING "btree" ("id")', constraint: 'devices_pkey', unique: true, primary: true, clustered: false, parentIndex: null, comment: null },
      { name: 'devices_user_id_idx', definition: 'CREATE INDEX "devices_user_id_idx" ON "public"."devices" USING "btree" ("user_id")', constraint: null, unique: false, primary: false, clustered: false, parentIndex: null, comment: null },
    ],
    triggers: [
      { name: 'cloudphone_split_fence', definition: 'CREATE TRIGGER fence ...', enabled: 'A', function: 'x', comment: null },
      { name: 'devices_touch', definition: 'CREATE TRIGGER "devices_touch" BEFORE UPDATE ON "public"."devices" FOR EACH ROW EXECUTE FUNCTION "public"."touch"()', enabled: 'O', function: 'public.touch()', comment: null },
    ],
  });
}

const expect0 = { droppedConstraints: ['devices_user_id_fkey'], extraColumns: [{ name: 'user_name', type: 'text' }], ignoredTriggers: ['cloudphone_split_fence'] };

/** The target as apply leaves it: FK dropped, denormalized column added, no fence. */
function target(): Table {
  const t = devices();
  t.constraints = t.constraints.filter((c) => c.type !== 'f');
  t.columns = [...t.columns, column('user_name', '"text"')];
  t.triggers = t.triggers.filter((x) => x.name !== 'cloudphone_split_fence');
  return t;
}

describe('compareTables', () => {
  it('finds no difference less the dropped foreign key, plus the denormalized column, without the fence', () => {
    expect(compareTables(devices(), target(), expect0)).toEqual([]);
  });

  it('names a missing table', () => {
    expect(compareTables(devices(), undefined, expect0)).toEqual(['table public.devices missing in target']);
  });

  it('names each difference in one line', () => {
    const t = target();
    t.columns[2] = column('status', '"text"');
    t.columns[1] = column('user_id', '"bigint"');
    t.indexes = t.indexes.filter((i) => i.name !== 'devices_user_id_idx');
    t.triggers[0] = { ...t.triggers[0]!, enabled: 'D' };
    t.constraints.push({ ...t.constraints[0]!, name: 'devices_extra_check', type: 'c', definition: 'CHECK (true)' });
    t.columns.push(column('leftover', '"text"'));
    t.policies.push({ name: 'p', definition: 'CREATE POLICY "p" ON "public"."devices"', roles: [], comment: null });
    t.rowSecurity = true;
    expect(compareTables(devices(), t, expect0)).toEqual([
      'column devices.user_id type differs: source "integer" target "bigint"',
      `column devices.status default differs: source 'new'::"text" target NULL`,
      'column devices.leftover unexpected in target',
      'constraint devices_extra_check unexpected in target',
      'index devices_user_id_idx missing in target',
      'trigger devices_touch enabled state differs: source O target D',
      'policy p unexpected in target',
      'row level security on devices differs: source disabled target enabled',
    ]);
  });

  it('reports a kept foreign key that is missing, and a missing denormalized column', () => {
    const t = target();
    t.columns = t.columns.filter((c) => c.name !== 'user_name');
    expect(compareTables(devices(), t, { ...expect0, droppedConstraints: [] })).toEqual([
      'denormalized column devices.user_name missing in target',
      'constraint devices_user_id_fkey missing in target',
    ]);
  });

  it('ignores NOT NULL constraints (compared through nullability) and layout whitespace', () => {
    const s = devices();
    s.constraints.push({ ...s.constraints[0]!, name: 'devices_id_not_null', type: 'n', definition: 'NOT NULL "id"' });
    const t = target();
    t.indexes[1] = { ...t.indexes[1]!, definition: t.indexes[1]!.definition.replace(' USING', '   USING') };
    expect(compareTables(s, t, expect0)).toEqual([]);
    t.columns[0] = { ...t.columns[0]!, notNull: false };
    expect(compareTables(s, t, expect0)).toEqual(['column devices.id nullability differs: source NOT NULL target NULL']);
  });

  it('compares type names without identifier quotes', () => {
    expect(normaliseType('"public"."mood"[]')).toBe('public.mood[]');
    expect(normaliseType('"json"')).toBe(normaliseType('json'));
    expect(normaliseType('"we""ird"')).toBe('we"ird');
  });
});
