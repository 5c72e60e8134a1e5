import { billingDataSql } from './sample-data-billing.js';
import { deviceDataSql } from './sample-data-devices.js';
import { sampleCounts } from './sample-counts.js';
import { B, NAMES, big } from './sample-sql.js';

export { sampleCounts, type SampleCounts } from './sample-counts.js';

/**
 * Deterministic inserts for the sample schema: generate_series and arithmetic only
 * (no random(), no now()), so two loads hold the same rows byte for byte. Every
 * foreign key holds, every enum value is used, sequences are moved past the
 * inserted ids, and the tables are analyzed so estimates are realistic.
 */
export function sampleDataSql(opts: { scale?: number } = {}): string {
  const c = sampleCounts(opts.scale ?? 1);
  const { tenants: T, users: U } = c;
  return `
-- user-service
INSERT INTO tenants (id, slug, name, settings, created_at) OVERRIDING SYSTEM VALUE
SELECT t,
  (ARRAY['acme','globex','initech','umbrella','hooli','stark','wayne','tyrell'])[(t - 1) % 8 + 1] || CASE WHEN t > 8 THEN '-' || t ELSE '' END,
  (ARRAY['Acme 云手机','Globex GmbH','Initech Ltd','Umbrella Corp','Hooli','Stark Industries','Wayne Enterprises','Tyrell Corporation'])[(t - 1) % 8 + 1] || CASE WHEN t > 8 THEN ' ' || t ELSE '' END,
  jsonb_build_object('region', (ARRAY['cn-guangzhou','cn-beijing','ap-singapore','eu-frankfurt'])[(t - 1) % 4 + 1], 'sso', t % 2 = 0),
  ${B} + t * interval '1440 minutes'
FROM generate_series(1, ${T}) t;

INSERT INTO departments (id, tenant_id, parent_id, name)
SELECT (t - 1) * 3 + k, t, CASE WHEN k = 1 THEN NULL ELSE (t - 1) * 3 + 1 END,
  (ARRAY['总部 Headquarters','Engineering','Finance'])[k]
FROM generate_series(1, ${T}) t, generate_series(1, 3) k;

INSERT INTO users (id, tenant_id, department_id, username, email, password_hash, phone, status, created_at, updated_at)
SELECT g, (g - 1) % ${T} + 1,
  CASE WHEN g % 7 = 0 THEN NULL ELSE ((g - 1) % ${T}) * 3 + (g - 1) % 3 + 1 END,
  fa[(g - 1) % 12 + 1] || '.' || la[((g - 1) / 12) % 12 + 1] || g,
  (CASE WHEN g % 19 = 0 THEN initcap(fa[(g - 1) % 12 + 1]) ELSE fa[(g - 1) % 12 + 1] END) || '.' || la[((g - 1) / 12) % 12 + 1] || g
    || '@' || (ARRAY['example.com','cloudphone.cn','mail.example.org','qq.example'])[g % 4 + 1],
  '$2b$10$' || substr(md5('salt' || g) || md5('hash' || g), 1, 53),
  CASE WHEN g % 4 = 0 THEN NULL ELSE '+86 138' || lpad((g * 7919 % 100000000)::text, 8, '0') END,
  (CASE WHEN g % 50 = 0 THEN 'deleted' WHEN g % 23 = 0 THEN 'suspended' WHEN g % 11 = 0 THEN 'pending' ELSE 'active' END)::user_status,
  ${B} + g * interval '17 minutes',
  ${B} + g * interval '17 minutes' + (g % 5) * interval '997 minutes'
FROM generate_series(1, ${U}) g, ${NAMES};

INSERT INTO user_profiles (user_id, first_name, last_name, bio, birthday, locale, avatar)
SELECT g, CASE WHEN g % 29 = 0 THEN NULL ELSE fu[(g - 1) % 12 + 1] END, lu[((g - 1) / 12) % 12 + 1],
  CASE WHEN g % 50 = 1 THEN 'Long biography. ' || ${big("'bio' || g")}
       WHEN g % 3 = 0 THEN NULL
       ELSE (ARRAY['云手机重度用户 📱','Mobile game tester 🎮','QA engineer — automation','Développeur Android',''])[g % 5 + 1] END,
  CASE WHEN g % 5 = 0 THEN NULL ELSE date '1970-01-01' + (g * 97 % 15000) END,
  (ARRAY['zh-CN','en-US','de-DE','pl-PL','ja-JP','es-ES'])[g % 6 + 1],
  CASE WHEN g % 10 = 0 THEN decode(md5('avatar' || g) || md5('png' || g), 'hex') END
FROM generate_series(1, ${U}) g, ${NAMES};

INSERT INTO user_settings (user_id, preferences, notifications_enabled, theme, updated_at)
SELECT g,
  jsonb_build_object('language', (ARRAY['zh-CN','en-US','de-DE'])[g % 3 + 1],
    'notifications', jsonb_build_object('email', g % 2 = 0, 'sms', g % 3 = 0),
    'fps', 30 + (g % 3) * 15, 'nickname', CASE WHEN g % 8 = 0 THEN '小' || g END),
  g % 6 <> 0, (ARRAY['light','dark','system'])[g % 3 + 1], ${B} + g * interval '23 minutes'
FROM generate_series(1, ${U}) g;

INSERT INTO roles (id, name, description, is_system, created_at) VALUES
  (1, 'super_admin', 'Full access to every tenant', true, ${B}),
  (2, 'admin', 'Tenant administrator', true, ${B}),
  (3, 'user', 'Regular user', true, ${B}),
  (4, 'operator', 'Operates devices and nodes', false, ${B}),
  (5, 'finance', '财务 — billing and invoices', false, ${B}),
  (6, 'auditor', NULL, false, ${B});

INSERT INTO permissions (id, code, resource, action, scopes, description)
SELECT (r - 1) * 4 + a, res[r] || ':' || act[a], res[r], act[a],
  CASE a WHEN 1 THEN ARRAY['own','tenant','global'] WHEN 4 THEN ARRAY['global'] ELSE ARRAY['own','tenant'] END,
  CASE WHEN a = 4 THEN 'Dangerous: ' || act[a] || ' ' || res[r] END
FROM generate_series(1, 6) r, generate_series(1, 4) a,
  (SELECT ARRAY['user','device','app','billing','order','notification'] AS res, ARRAY['read','create','update','delete'] AS act) x;

INSERT INTO role_permissions (role_id, permission_id, granted_at)
SELECT r.id, p.id, ${B} + (r.id * 100 + p.id) * interval '1 minute'
FROM roles r JOIN permissions p ON r.id = 1 OR (r.id = 2 AND p.action <> 'delete')
  OR (r.id = 3 AND p.action = 'read' AND p.resource IN ('device','app','order'))
  OR (r.id = 4 AND p.resource IN ('device','app')) OR (r.id = 5 AND p.resource IN ('billing','order'))
  OR (r.id = 6 AND p.action = 'read');

INSERT INTO user_roles (user_id, role_id, assigned_at)
SELECT g, (g - 1) % 5 + 2, ${B} + g * interval '17 minutes' + interval '5 minutes' FROM generate_series(1, ${U}) g
UNION ALL
SELECT g, 1, ${B} + g * interval '17 minutes' + interval '9 minutes' FROM generate_series(1, ${U}) g WHERE g % 25 = 1;

INSERT INTO user_role_scopes (role_id, user_id, scope)
SELECT ur.role_id, ur.user_id, 'tenant:' || u.tenant_id FROM user_roles ur JOIN users u ON u.id = ur.user_id WHERE ur.role_id IN (1, 2)
UNION ALL
SELECT role_id, user_id, 'global' FROM user_roles WHERE role_id = 1;

-- Exact duplicate rows on purpose: the table has no key.
INSERT INTO user_login_history (user_id, logged_in_at, ip, user_agent, success)
SELECT (g - 1) % ${U} + 1, ${B} + g * interval '7 minutes',
  CASE WHEN g % 31 = 0 THEN NULL WHEN g % 17 = 0 THEN ('2001:db8::' || to_hex(g))::inet
       ELSE ('10.' || g % 256 || '.' || (g / 256) % 256 || '.' || g % 200 + 1)::inet END,
  CASE WHEN g % 5 = 0 THEN NULL ELSE ua[g % 4 + 1] END, g % 13 <> 0
FROM generate_series(1, ${3 * U}) g, ${NAMES}, generate_series(1, 2) dup
WHERE dup = 1 OR g % 500 = 0;

INSERT INTO quotas (id, tenant_id, resource, hard_limit, soft_limit, used, reset_every)
SELECT (t - 1) * 4 + k, t, (ARRAY['devices','storage_gb','api_calls','snapshots'])[k],
  (ARRAY[50, 500.5, 1000000, 200])[k] * (1 + t % 3),
  CASE WHEN k = 3 THEN NULL ELSE (ARRAY[40, 400, 800000, 150])[k] * (1 + t % 3) END,
  CASE WHEN t % 4 = 0 THEN 0 ELSE (ARRAY[12, 123.45, 4567, 7])[k] * t END,
  CASE k WHEN 1 THEN NULL WHEN 3 THEN interval '1 day' ELSE interval '1 mon' END
FROM generate_series(1, ${T}) t, generate_series(1, 4) k;

INSERT INTO audit_logs (id, user_id, "system_user", action, entity, entity_id, changes, created_at)
SELECT g, CASE WHEN g % 9 = 0 THEN NULL ELSE (g * 13 - 1) % ${U} + 1 END, g % 9 = 0,
  (ARRAY['login','update_profile','create_device','delete_device','purchase','rotate_key'])[g % 6 + 1],
  (ARRAY['user','user','device','device','order','api_key'])[g % 6 + 1],
  CASE WHEN g % 6 = 0 THEN NULL ELSE (g * 7 % 1000)::text END,
  CASE WHEN g % 4 = 0 THEN NULL ELSE jsonb_build_object('before', jsonb_build_object('status', 'stopped'),
    'after', jsonb_build_object('status', 'running'), 'n', g) END,
  ${B} + g * interval '3 minutes'
FROM generate_series(1, ${4 * U}) g;

-- api-gateway
INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes, expires_at, revoked_at, created_at) OVERRIDING SYSTEM VALUE
SELECT 999 + g, (g * 5 - 1) % ${U} + 1, (ARRAY['CI pipeline','自动化脚本','Grafana','Terraform','local dev'])[g % 5 + 1],
  'ck' || lpad(to_hex(g), 6, '0'), decode(md5('secret' || g) || md5('pepper' || g), 'hex'),
  CASE g % 3 WHEN 0 THEN '{}'::text[] WHEN 1 THEN ARRAY['devices:read'] ELSE ARRAY['devices:read','devices:write','billing:read'] END,
  CASE WHEN g % 4 = 0 THEN NULL ELSE ${B} + g * interval '1000 minutes' + interval '525600 minutes' END,
  CASE WHEN g % 7 = 0 THEN ${B} + g * interval '1000 minutes' + interval '10000 minutes' END,
  ${B} + g * interval '1000 minutes'
FROM generate_series(1, ${c.apiKeys}) g;

INSERT INTO refresh_tokens (id, user_id, token_hash, issued_at, expires_at, revoked, user_agent)
SELECT md5('refresh' || g)::uuid, (g - 1) % ${U} + 1, md5('token' || g) || md5('rt' || g),
  ${B} + g * interval '11 minutes', ${B} + g * interval '11 minutes' + interval '43200 minutes',
  g % 6 = 0, CASE WHEN g % 5 = 0 THEN NULL ELSE ua[g % 4 + 1] END
FROM generate_series(1, ${2 * U}) g, ${NAMES};
${deviceDataSql(c)}
${billingDataSql(c)}
-- left in the source
INSERT INTO typeorm_metadata ("type", "database", "schema", "table", "name", "value") VALUES
  ('VIEW', NULL, 'public', NULL, 'device_owner_summary', 'SELECT d.id AS device_id, d.name AS device_name FROM devices d JOIN users u ON u.id = d.user_id'),
  ('GENERATED_COLUMN', NULL, 'public', 'order_items', 'line_total', 'quantity * unit_price');

INSERT INTO migrations (id, "timestamp", name)
SELECT g, 1697000000000 + g * 86400000::bigint,
  (ARRAY['InitSchema','AddDevices','AddBilling','AddQuotas','AddApiKeys','PartitionDeviceEvents','AddCoupons',
    'AddInvoices','AddUsageRecords','AddAuditLog','AddRowLevelSecurity','AddLegacyImport'])[g] || (1697000000000 + g * 86400000::bigint)
FROM generate_series(1, 12) g;

INSERT INTO legacy_user_import (import_id, raw_line, imported, user_id, imported_at)
SELECT g, g || ',' || fa[g % 12 + 1] || ',"Room ' || g || ', Building 3",' || CASE WHEN g % 4 = 0 THEN '' ELSE '+86' || g END,
  g % 3 <> 0, CASE WHEN g % 3 <> 0 AND g <= ${U} THEN g END, CASE WHEN g % 3 <> 0 THEN ${B} + g * interval '1 minute' END
FROM generate_series(1, ${c.legacyImports}) g, ${NAMES};

-- Sequences continue after the inserted ids.
DO $$
DECLARE r record;
BEGIN
  FOR r IN
    SELECT c.oid::regclass AS tbl, a.attname AS col, pg_get_serial_sequence(c.oid::regclass::text, a.attname) AS seq
    FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid
    WHERE ns.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY c.oid, a.attnum
  LOOP
    IF r.seq IS NOT NULL THEN
      EXECUTE format('SELECT setval(%L, max(%I)) FROM %s HAVING max(%I) IS NOT NULL', r.seq, r.col, r.tbl, r.col);
    END IF;
  END LOOP;
END
$$;
SELECT setval('invoice_number_seq', 100000 + max(id)) FROM invoices HAVING max(id) IS NOT NULL;
-- Row estimates for plans and progress; a small sample keeps the load fast.
SET LOCAL default_statistics_target = 10;
ANALYZE;
`;
}
