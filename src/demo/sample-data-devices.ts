import type { SampleCounts } from './sample-counts.js';
import { B, B2, big } from './sample-sql.js';

/** Inserts of device-service and app-service (after users exist). */
export function deviceDataSql(c: SampleCounts): string {
  const { users: U, nodes: N, devices: D } = c;
  return `
-- device-service
INSERT INTO nodes (id, hostname, region, capacity, labels, created_at)
SELECT g, 'node-' || lpad(g::text, 3, '0') || '.' || (ARRAY['cn-guangzhou','cn-beijing','cn-shanghai','ap-singapore'])[(g - 1) % 4 + 1] || '.cloudphone.internal',
  (ARRAY['cn-guangzhou','cn-beijing','cn-shanghai','ap-singapore'])[(g - 1) % 4 + 1], 64 + (g % 4) * 32,
  jsonb_build_object('gpu', g % 3 = 0, 'rack', 'R' || (g + 1) / 2, 'arch', CASE WHEN g % 5 = 0 THEN 'x86_64' ELSE 'arm64' END),
  ${B} + g * interval '60 minutes'
FROM generate_series(1, ${N}) g;

INSERT INTO devices (id, user_id, node_id, name, model, android_version, imei, status, screen, tags, capabilities,
  cpu_cores, memory_mb, last_heartbeat_at, created_at, updated_at)
SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE (g - 1) % ${U} + 1 END, (g - 1) % ${N} + 1,
  CASE WHEN g % 17 = 0 THEN '测试机 #' || g WHEN g % 23 = 0 THEN 'Zoë''s phone ' || g ELSE 'cloudphone-' || lpad(g::text, 5, '0') END,
  (ARRAY['Pixel 7','Galaxy S23','Redmi Note 12','Mate 60 Pro','OnePlus 11','Xperia 1 V'])[g % 6 + 1],
  (ARRAY['11','12','13','14'])[g % 4 + 1],
  CASE WHEN g % 8 = 0 THEN NULL ELSE '86' || lpad((g::bigint * 104729 % 10000000000000)::text, 13, '0') END,
  (CASE WHEN g % 20 = 0 THEN 'deleted' WHEN g % 13 = 0 THEN 'error' WHEN g % 11 = 0 THEN 'maintenance'
        WHEN g % 7 = 0 THEN 'stopped' WHEN g % 19 = 0 THEN 'creating' ELSE 'running' END)::device_status,
  CASE WHEN g % 9 = 0 THEN NULL
       ELSE ROW((ARRAY[720,1080,1440])[g % 3 + 1], (ARRAY[1280,2340,3200])[g % 3 + 1], (ARRAY[320,440,560])[g % 3 + 1])::screen_spec END,
  CASE g % 4 WHEN 0 THEN NULL WHEN 1 THEN '{}'::text[] WHEN 2 THEN ARRAY['gaming'] ELSE ARRAY['automation','cn-south','tag with space'] END,
  CASE WHEN g % 5 = 0 THEN NULL ELSE json_build_object('gpu', g % 3 = 0, 'root', false, 'abi', ARRAY['arm64-v8a','armeabi-v7a']) END,
  (ARRAY[2,4,8])[g % 3 + 1], (ARRAY[2048,4096,8192])[g % 3 + 1],
  CASE WHEN g % 20 = 0 THEN NULL ELSE ${B2} + (g % 1440) * interval '1 minute' END,
  ${B} + g * interval '29 minutes', ${B} + g * interval '29 minutes' + interval '60 minutes'
FROM generate_series(1, ${D}) g;

INSERT INTO device_snapshots (id, device_id, name, size_bytes, thumbnail, taken_at, metadata)
SELECT g, (g * 3 - 1) % ${D} + 1, 'snapshot-' || g || CASE WHEN g % 10 = 0 THEN ' (before 更新)' ELSE '' END,
  CASE WHEN g % 15 = 0 THEN 0 ELSE g::bigint * 7340033 % 8589934592 END,
  CASE WHEN g % 4 = 0 THEN decode(repeat(md5('thumb' || g), 4), 'hex') END,
  ${B2} + g * interval '13 minutes',
  CASE WHEN g % 3 = 0 THEN NULL ELSE jsonb_build_object('android', (ARRAY['11','12','13','14'])[g % 4 + 1], 'apps', g % 40) END
FROM generate_series(1, ${D}) g;

-- Spread over the three monthly partitions (129600 minutes = January to March 2025).
INSERT INTO device_events (id, device_id, event_type, payload, occurred_at)
SELECT g, (g * 7 - 1) % ${D} + 1,
  (ARRAY['boot','heartbeat','heartbeat','heartbeat','app_install','app_uninstall','screenshot','shutdown','error'])[g % 9 + 1],
  CASE WHEN g % 10 = 0 THEN NULL
       WHEN g % 5000 = 1 THEN jsonb_build_object('seq', g, 'log', ${big("'event' || g")})
       ELSE jsonb_build_object('seq', g, 'battery', g % 101, 'cpu', round((g % 1000) / 10.0, 1), 'temp', -5 + g % 60) END,
  ${B2} + (g::bigint * 7919 % 129600) * interval '1 minute'
FROM generate_series(1, ${c.deviceEvents}) g;

-- app-service
INSERT INTO applications (id, package_name, name, version_name, version_code, size_bytes, sha256, category, is_system,
  permissions, description, metadata, uploaded_at)
SELECT g, CASE WHEN g <= 10 THEN pk[g] ELSE 'com.cloudphone.sample.app' || g END,
  CASE WHEN g <= 10 THEN nm[g] ELSE 'Sample App ' || g END,
  (g % 5 + 1) || '.' || g % 10 || '.' || g % 3, 1000 + g * 7, g::bigint * 1048573 % 500000000 + 1024,
  decode(md5('apk' || g) || md5('sig' || g), 'hex'),
  CASE WHEN g % 7 = 0 THEN NULL ELSE cat[g % 5 + 1] END, g <= 3,
  CASE g % 3 WHEN 0 THEN '{}'::text[] WHEN 1 THEN ARRAY['android.permission.INTERNET']
       ELSE ARRAY['android.permission.INTERNET','android.permission.CAMERA','android.permission.RECORD_AUDIO'] END,
  CASE WHEN g % 10 = 1 THEN 'Release notes: ' || ${big("'app' || g")} WHEN g % 4 = 0 THEN NULL
       ELSE 'Runs on every cloud phone. 支持多开 ✓' END,
  jsonb_build_object('minSdk', 21 + g % 10, 'abi', 'arm64-v8a', 'rating', round(g % 50 / 10.0, 1)),
  ${B} + g * interval '1440 minutes'
FROM generate_series(1, 40) g, (SELECT
  ARRAY['com.tencent.mm','com.ss.android.ugc.aweme','com.eg.android.AlipayGphone','com.taobao.taobao','com.sina.weibo',
        'com.tencent.mobileqq','com.netease.cloudmusic','com.android.chrome','com.whatsapp','org.telegram.messenger'] AS pk,
  ARRAY['微信','抖音','支付宝','淘宝','微博','QQ','网易云音乐','Chrome','WhatsApp','Telegram'] AS nm,
  ARRAY['social','video','finance','shopping','tools'] AS cat) x;

INSERT INTO device_applications (device_id, application_id, status, installed_at)
SELECT d, (d + k * 7 - 1) % 40 + 1, (ARRAY['installed','installed','installing','failed','uninstalled'])[(d + k) % 5 + 1],
  CASE WHEN (d + k) % 5 IN (2, 3) THEN NULL ELSE ${B2} + (d * 3 + k) * interval '1 minute' END
FROM generate_series(1, ${D}) d, generate_series(0, 2) k;
`;
}
