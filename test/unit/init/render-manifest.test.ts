import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { manifestProblems } from '../../../src/init/check-manifest.js';
import { proposeSplit } from '../../../src/init/propose-split.js';
import { renderManifest } from '../../../src/init/render-manifest.js';
import { parseManifest } from '../../../src/manifest/load.js';
import { resolveManifest } from '../../../src/manifest/resolve.js';
import { CatalogBuilder } from '../manifest/catalog-builder.js';
import { sampleLikeCatalog } from './sample-catalog.js';

describe('renderManifest', () => {
  const catalog = sampleLikeCatalog();
  const proposal = proposeSplit(catalog, ['public']);
  const text = renderManifest(proposal, 'plans/split.yaml');

  it('writes a manifest that validates and resolves against the catalog it came from', () => {
    expect(manifestProblems(text, 'plans/split.yaml', catalog)).toEqual([]);
    const resolved = resolveManifest(parseManifest(text, 'plans/split.yaml'), catalog, 'plans/split.yaml');
    const owner = (t: string) => resolved.tables[`public.${t}`]?.service;
    expect(owner('device_events')).toBe('device-service');
    expect(owner('device_events_2025_01')).toBe('device-service');
    expect(owner('Billing "Audit" Log')).toBe('billing-service');
    expect(resolved.tables['public.typeorm_metadata']!.fate).toBe('ignored');
    expect(resolved.sourceViews).toContain('public.device_owner_summary');
    expect(resolved.services.find((s) => s.name === 'device-service')!.views).toEqual(['public.active_devices']);
  });

  it('reads the source URL from a variable and leaves control and roles commented', () => {
    const doc = parse(text) as Record<string, unknown>;
    expect(doc.source).toEqual({ url: '${CLOUDPHONE_CORE_URL}', schemas: ['public'] });
    expect(doc.control).toBeUndefined();
    expect(text).toContain('# control: { url: "${SPLIT_CONTROL_URL}" }');
    expect(text).toContain('# role: { name: cloudphone_core_device_svc, password: "${DEVICE_DB_PASSWORD}" }');
    expect(doc.name).toBe('cloudphone_core');
  });

  it('writes commented lines that are valid once uncommented', () => {
    const uncommented = text.replace(/^(\s*)# (control|role): /gm, '$1$2: ');
    const doc = parseManifest(uncommented, 'plans/split.yaml');
    expect(doc.control?.url).toBe('${SPLIT_CONTROL_URL}');
    expect(doc.services.find((s) => s.name === 'device-service')?.role).toMatchObject({ name: 'cloudphone_core_device_svc', password: '${DEVICE_DB_PASSWORD}' });
  });

  it('says why each group holds together, and lists the foreign keys each service drops under it', () => {
    const lines = text.split('\n');
    const at = (s: string) => lines.findIndex((l) => l.trimEnd() === s);
    const device = at('  device-service:');
    expect(lines[device - 2]).toBe('  # 7 tables joined by foreign keys around devices; prefix device_');
    expect(lines[device - 1]).toBe('  # view moving with it: active_devices');
    const next = lines.findIndex((l, i) => i > device && /^\S/.test(l));
    expect(lines.slice(device, next)).toEqual(expect.arrayContaining([
      '    # drops fk devices.user_id -> users (user-service)',
      '    # drops fk usage_records.user_id -> users (user-service)',
    ]));
    expect(text).toContain('  - device_owner_summary # a view over several services: reads devices (device-service) and users (user-service)');
    expect(text).toContain('  - typeorm_metadata # TypeORM bookkeeping');
    expect(lines.filter((l) => /\s$/.test(l))).toEqual([]);
  });

  it('spells awkward names so that they resolve: quotes, globs, YAML words, two schemas', () => {
    const c = new CatalogBuilder(['public', 'crm'], 'Weird DB')
      .table('yes')
      .table('a*b', { fks: [{ columns: ['yes_id'], references: 'yes' }] })
      .table('My "Table"', { fks: [{ columns: ['yes_id'], references: 'yes' }] })
      .table('123')
      .table('crm.yes')
      .table('crm.notes_old')
      .view('crm.yes_view', ['public.yes', 'crm.yes'])
      .build();
    const p = proposeSplit(c, ['public', 'crm']);
    const out = renderManifest(p, 'split.yaml');
    expect(manifestProblems(out, 'split.yaml', c)).toEqual([]);
    const doc = parse(out) as { services: Record<string, { tables: string[]; database: string }>; ignore: string[] };
    const all = Object.values(doc.services).flatMap((s) => s.tables);
    expect(all).toEqual(expect.arrayContaining(['public.yes', 'crm.yes', '"a*b"', '"My ""Table"""', '123']));
    expect(doc.ignore).toEqual(['notes_old']);
    expect(p.services.find((s) => s.tables.includes('crm.yes'))!.views).toEqual(['yes_view']);
    expect(Object.values(doc.services).every((s) => s.database.startsWith('weird_db_'))).toBe(true);
    expect(p.sourceVariable).toBe('WEIRD_DB_URL');
  });
});
