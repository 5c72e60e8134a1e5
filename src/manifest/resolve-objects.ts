import type { Catalog, QualifiedName } from '../catalog/model.js';
import { functionKey, routineNoun, tableKey } from '../catalog/model.js';
import type { Manifest } from './model.js';
import { closest } from './closest.js';
import { compileNamePattern, matchesName } from './glob.js';
import { manifestName } from './names.js';
import { joinPath, type ProblemList } from './problem-list.js';

/** A function, procedure, aggregate, sequence or type a manifest can place by name. */
interface Placeable extends QualifiedName {
  key: string;
  what: string;
}

/** The objects of the source schemas that `objects:` entries can name. */
export function placeableObjects(catalog: Catalog, schemas: readonly string[]): Placeable[] {
  const inSchemas = (o: QualifiedName) => schemas.includes(o.schema);
  return [
    ...catalog.functions.filter(inSchemas).map((f) => ({ schema: f.schema, name: f.name, key: functionKey(f), what: routineNoun(f) })),
    ...catalog.sequences.filter(inSchemas).map((s) => ({ schema: s.schema, name: s.name, key: tableKey(s), what: 'sequence' })),
    ...catalog.types.filter(inSchemas).map((t) => ({ schema: t.schema, name: t.name, key: tableKey(t), what: 'type' })),
  ];
}

/**
 * Resolves each service's `objects:` entries to object keys (functions as
 * `schema.name(args)`, every overload of a name). An entry that matches no
 * function, procedure, aggregate, sequence or type is a problem with the closest
 * name; a table or a view is a problem that says where it goes instead.
 */
export function resolveObjects(manifest: Manifest, catalog: Catalog, problems: ProblemList): Map<string, string[]> {
  const schemas = manifest.source.schemas;
  const objects = placeableObjects(catalog, schemas);
  const inSchemas = (o: QualifiedName) => schemas.includes(o.schema);
  const out = new Map<string, string[]>();
  for (const s of manifest.services) {
    const keys: string[] = [];
    s.objects.forEach((entry, i) => {
      const path = joinPath(`${joinPath('services', s.name)}.objects`, i);
      const p = compileNamePattern(entry);
      if ('error' in p) return; // reported by the structural validation
      const hit = (o: QualifiedName) => matchesName(p, o, schemas);
      const found = objects.filter(hit);
      if (found.length > 0) {
        keys.push(...found.map((o) => o.key));
        return;
      }
      const table = catalog.tables.filter(inSchemas).find(hit);
      if (table) {
        return problems.add(path, `${JSON.stringify(entry)} is a table`, `move it to services.${s.name}.tables (or copies)`);
      }
      if (catalog.views.filter(inSchemas).some(hit)) {
        return problems.add(path, `${JSON.stringify(entry)} is a view; views move with the tables they read`, 'remove it from objects');
      }
      const qualified = p.schema !== null;
      const word = (qualified ? `${p.schema!.text}.${p.name.text}` : p.name.text).replace(/[*?[\]{}()!+@]/g, '');
      const names = objects.map((o) => (qualified ? `${o.schema}.${o.name}` : o.name));
      const near = closest(word, names);
      const o = near === null ? null : objects[names.indexOf(near)]!;
      problems.add(
        path,
        p.isGlob
          ? `${JSON.stringify(entry)} matches no function, procedure, aggregate, sequence or type`
          : `no function, procedure, aggregate, sequence or type named ${JSON.stringify(entry)} in ${schemas.join(', ')}`,
        o ? `did you mean ${manifestName(o, qualified)} (${o.what})?` : 'check the name: names match exactly as the source spells them, case included',
      );
    });
    out.set(s.name, [...new Set(keys)]);
  }
  return out;
}
