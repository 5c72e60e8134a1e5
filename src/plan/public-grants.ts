import { tableKey, type Catalog } from '../catalog/model.js';

/**
 * Moved tables that PUBLIC may read or write in a source that stays in use (no
 * `source.retire`): every role keeps that access to their backup there, the services' new
 * roles included, so verify's isolation check fails for each service with a role until
 * PUBLIC's privileges on them are revoked. One warning for all, naming each table.
 */
export function publicGrantWarnings(catalog: Catalog, moved: ReadonlyMap<string, string>, retire: boolean, servicesWithRoles: readonly string[]): string[] {
  if (retire || servicesWithRoles.length === 0) return [];
  const granted = catalog.tables
    .filter((t) => moved.has(tableKey(t)))
    .flatMap((t) => {
      const privileges = (t.privileges?.grants ?? []).filter((g) => g.grantee === null).flatMap((g) => g.privileges);
      return privileges.length > 0 ? [`${tableKey(t)} (${privileges.join(', ')})`] : [];
    })
    .sort();
  if (granted.length === 0) return [];
  return [
    `granted to PUBLIC in the source, which stays in use: ${granted.join(', ')}: every role keeps that access to the backup there, the new roles of ` +
      `${servicesWithRoles.join(', ')} included, and verify's isolation check fails for them until it is revoked ` +
      `(REVOKE ALL ON … FROM PUBLIC in the source after apply; what still needs them there then needs a grant of its own)`,
  ];
}
