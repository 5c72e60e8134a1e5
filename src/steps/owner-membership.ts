import { literal } from '../pg/quote.js';

/**
 * Makes the tool's own role a member of a service role it created, so that a role with
 * CREATEDB and CREATEROLE that is not superuser can make it the owner of a database and
 * of its objects (CREATE DATABASE … OWNER, ALTER … OWNER TO need SET ROLE on it from
 * PostgreSQL 16, membership before) and still read them afterwards (INHERIT). A
 * superuser, or a member already, is left as it is. Creating the role gave the tool
 * ADMIN OPTION on it (16+) or CREATEROLE lets it grant it (before 16).
 */
export function ownerMembershipSql(role: string): string[] {
  const r = literal(role);
  return [
    `DO $cps$ BEGIN
  IF current_setting('server_version_num')::int >= 160000 THEN
    IF NOT (pg_has_role(current_user, ${r}, 'SET') AND pg_has_role(current_user, ${r}, 'USAGE')) THEN
      EXECUTE format('GRANT %I TO CURRENT_USER WITH INHERIT TRUE, SET TRUE', ${r});
    END IF;
  ELSIF NOT pg_has_role(current_user, ${r}, 'USAGE') THEN
    EXECUTE format('GRANT %I TO CURRENT_USER', ${r});
  END IF;
END $cps$`,
  ];
}
