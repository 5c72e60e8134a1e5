import { describe, expect, it } from 'vitest';
import { granteesOf, guardedPrivilegeSql, type PrivilegeStatement } from '../../../src/catalog/ddl-privileges.js';

describe('guardedPrivilegeSql', () => {
  it('keeps the order, runs PUBLIC as is, and guards each run of one role by its existence at run time', () => {
    const statements: PrivilegeStatement[] = [
      { grantee: null, sql: 'REVOKE EXECUTE ON FUNCTION "a"."f"() FROM PUBLIC' },
      { grantee: 'reader', sql: 'GRANT EXECUTE ON FUNCTION "a"."f"() TO "reader"' },
      { grantee: 'reader', sql: 'GRANT SELECT ON TABLE "a"."t" TO "reader"' },
      { grantee: "o'hara", sql: `GRANT SELECT ("$cps$") ON TABLE "a"."t" TO "o'hara"` },
      { grantee: 'reader', sql: 'GRANT USAGE ON SCHEMA "a" TO "reader"' },
    ];
    const sql = guardedPrivilegeSql(statements);
    expect(sql).toHaveLength(4);
    expect(sql[0]).toBe('REVOKE EXECUTE ON FUNCTION "a"."f"() FROM PUBLIC');
    expect(sql[1]).toContain(`WHERE rolname = 'reader') THEN`);
    expect(sql[1]).toContain(`EXECUTE 'GRANT EXECUTE ON FUNCTION "a"."f"() TO "reader"';\n    EXECUTE 'GRANT SELECT ON TABLE "a"."t" TO "reader"';`);
    expect(sql[2]).toMatch(/^DO \$cps_\$/);
    expect(sql[2]).toContain(`WHERE rolname = 'o''hara') THEN`);
    expect(sql[3]).toContain('GRANT USAGE ON SCHEMA');
    expect(granteesOf(statements)).toEqual(["o'hara", 'reader']);
  });
});
