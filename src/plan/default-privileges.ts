import type { Catalog, DefaultPrivilege } from '../catalog/model.js';

function describe(d: DefaultPrivilege): string {
  const where = d.schema === null ? '' : ` IN SCHEMA ${d.schema}`;
  const what = d.grants.length > 0 ? d.grants.join(', ') : 'revokes built-in defaults';
  return `FOR ROLE ${d.role}${where} ON ${d.objects.toUpperCase()} (${what})`;
}

/**
 * `ALTER DEFAULT PRIVILEGES` decide what objects created later get; they are not carried:
 * the new databases' objects belong to the service roles, not to the roles they name.
 * The plan names each one, so that a reader role that relied on them is not forgotten.
 */
export function defaultPrivilegeWarnings(catalog: Catalog): string[] {
  const list = catalog.defaultPrivileges ?? [];
  if (list.length === 0) return [];
  return [
    `default privileges of the source are not carried (they apply to objects created later, and the new databases' objects belong to the service roles): ` +
      `${list.map(describe).join('; ')}. If a service creates objects that other roles must read, run ALTER DEFAULT PRIVILEGES FOR ROLE <service role> in its new database`,
  ];
}
