import type { SampleCounts } from './sample-counts.js';
import { B, B2 } from './sample-sql.js';

/** Inserts of billing-service (after users and devices exist). */
export function billingDataSql(c: SampleCounts): string {
  const { users: U, devices: D, orders: O } = c;
  return `
-- billing-service
INSERT INTO plans (id, code, name, price, currency, billing_cycle, features, effective)
SELECT (k - 1) * 2 + p, code[k], nm[k] || CASE WHEN p = 2 THEN ' (2025)' ELSE '' END,
  round(price[k] * CASE WHEN p = 2 THEN 1.1 ELSE 1 END, 2),
  CASE WHEN k = 5 THEN 'USD' ELSE 'CNY' END, CASE WHEN k = 4 THEN 'yearly' ELSE 'monthly' END,
  jsonb_build_object('devices', k * 2, 'storage_gb', k * 16, 'gpu', k >= 4),
  CASE WHEN p = 1 THEN tstzrange(${B}, ${B2}, '[)') ELSE tstzrange(${B2}, NULL, '[)') END
FROM generate_series(1, 6) k, generate_series(1, 2) p, (SELECT
  ARRAY['basic','standard','pro','enterprise','gaming','trial'] AS code,
  ARRAY['基础版 Basic','Standard','Pro','Enterprise','Gaming 🎮','Free trial'] AS nm,
  ARRAY[29.90, 59.90, 99.00, 9999.00, 129.00, 0]::numeric[] AS price) x;

INSERT INTO coupons (id, code, discount_percent, amount_off, valid_until, max_redemptions, redeemed)
SELECT g, CASE g WHEN 1 THEN 'WELCOME10' WHEN 2 THEN 'Spring2025' WHEN 3 THEN '双十一' ELSE 'PROMO-' || lpad(g::text, 3, '0') END,
  CASE WHEN g % 2 = 1 THEN (g % 5) * 5 + 5 END, CASE WHEN g % 2 = 0 THEN g * 1.5 END,
  CASE WHEN g % 3 = 0 THEN NULL ELSE ${B2} + g * interval '10080 minutes' END,
  CASE WHEN g % 4 = 0 THEN NULL ELSE g * 100 END, CASE WHEN g % 5 = 0 THEN 0 ELSE g * 7 END
FROM generate_series(1, 20) g;

INSERT INTO orders (id, order_no, user_id, device_id, plan_id, coupon_id, status, total_amount, discount_amount,
  currency, note, paid_at, created_at, updated_at)
SELECT g, 'CP' || lpad(g::text, 10, '0'), uid, CASE WHEN g % 5 = 0 OR uid % 10 = 0 THEN NULL ELSE uid END,
  ((g - 1) % 6) * 2 + 2, CASE WHEN g % 6 = 0 THEN (g / 6 - 1) % 20 + 1 END, st::order_status,
  total, CASE WHEN g % 6 = 0 THEN least(total, 5.00) ELSE 0 END, CASE WHEN g % 9 = 0 THEN 'USD' ELSE 'CNY' END,
  CASE WHEN g % 13 = 0 THEN '请在工作日开发票 — urgent' WHEN g % 4 = 0 THEN '' END,
  CASE WHEN st IN ('paid', 'refunded', 'partially_refunded') THEN created + interval '3 minutes' END,
  created, created + interval '5 minutes'
FROM (SELECT g, (g * 7 - 1) % ${U} + 1 AS uid,
        CASE WHEN g % 10 = 0 THEN 'pending' WHEN g % 10 = 1 THEN 'cancelled' WHEN g % 20 = 2 THEN 'refunded'
             WHEN g % 20 = 12 THEN 'partially_refunded' ELSE 'paid' END AS st,
        CASE WHEN g % 97 = 0 THEN 0.00 ELSE round((g * 3733 % 99999) / 100.0 + 9.9, 2) END AS total,
        ${B} + g * interval '13 minutes' AS created
      FROM generate_series(1, ${O}) g) s;

INSERT INTO order_items (order_id, line_no, description, quantity, unit_price)
SELECT o.id, l,
  CASE l WHEN 1 THEN 'Cloud phone plan × ' || (o.id % 12 + 1) || ' months' WHEN 2 THEN 'Extra storage 64 GB' ELSE 'Coupon discount 折扣' END,
  CASE l WHEN 1 THEN o.id % 12 + 1 ELSE 1 END,
  CASE l WHEN 1 THEN round(o.total_amount / (o.id % 12 + 1), 2) WHEN 2 THEN 19.90 ELSE -5.00 END
FROM orders o, generate_series(1, (o.id % 3 + 1)::integer) l;

INSERT INTO payments (id, order_id, tenant_id, method, amount, status, transaction_ref, raw_response, paid_at) OVERRIDING SYSTEM VALUE
SELECT 999999 + o.id, o.id, u.tenant_id, (ARRAY['alipay','wechat_pay','card','balance'])[o.id % 4 + 1]::payment_method,
  o.total_amount - o.discount_amount,
  CASE o.status WHEN 'paid' THEN 'succeeded' WHEN 'refunded' THEN 'refunded' ELSE 'partially_refunded' END,
  CASE WHEN o.id % 4 = 3 THEN NULL ELSE upper(substr(md5('txn' || o.id), 1, 20)) END,
  jsonb_build_object('code', 'SUCCESS', 'trade_no', '2025' || lpad(o.id::text, 12, '0'),
    'amount_fen', ((o.total_amount - o.discount_amount) * 100)::bigint),
  o.paid_at
FROM orders o JOIN users u ON u.id = o.user_id
WHERE o.status IN ('paid', 'refunded', 'partially_refunded');

INSERT INTO invoices (id, number, order_id, issued_at, due_at, amount, tax_amount, billing_address, pdf)
SELECT o.id, 'INV-' || lpad((100000 + o.id)::text, 8, '0'), o.id, o.paid_at, o.paid_at + interval '43200 minutes',
  o.total_amount - o.discount_amount, round((o.total_amount - o.discount_amount) * 0.06, 2),
  CASE WHEN o.id % 3 = 0 THEN NULL ELSE jsonb_build_object('city', (ARRAY['广州市','北京市','Berlin','Kraków'])[o.id % 4 + 1],
    'line1', 'No. ' || o.id || ' Tianhe Rd', 'zip', lpad((o.id * 37 % 1000000)::text, 6, '0')) END,
  CASE WHEN o.id % 50 = 0 THEN decode(repeat(md5('pdf' || o.id), 64), 'hex') END
FROM orders o WHERE o.status IN ('paid', 'partially_refunded');

INSERT INTO balance_transactions (id, user_id, order_id, kind, amount, balance_after, created_at)
SELECT g, (g * 3 - 1) % ${U} + 1, CASE WHEN g % 4 IN (1, 2) THEN (g - 1) / 2 % ${O} + 1 END,
  (ARRAY['recharge','charge','refund','adjustment'])[g % 4 + 1],
  CASE g % 4 WHEN 0 THEN (g % 10 + 1) * 50.00 WHEN 1 THEN -round((g * 37 % 50000) / 100.0, 2)
             WHEN 2 THEN round((g * 11 % 9000) / 100.0, 2) ELSE CASE WHEN g % 8 = 3 THEN 0.00 ELSE -0.01 END END,
  round((g * 7919 % 200000 - 50000) / 100.0, 2),
  ${B} + g * interval '7 minutes'
FROM generate_series(1, ${2 * O}) g;

INSERT INTO usage_records (id, device_id, user_id, metric, quantity, unit, period_start, period_end)
SELECT g, d, CASE WHEN d % 10 = 0 THEN NULL ELSE (d - 1) % ${U} + 1 END,
  (ARRAY['cpu_seconds','storage_gb_hours','network_mb','screen_minutes'])[g % 4 + 1],
  CASE WHEN g % 37 = 0 THEN 0 ELSE round((g * 7 % 100000) / 100.0 * 1.2345, 4) END,
  (ARRAY['s','GB·h','MB','min'])[g % 4 + 1],
  ${B2} + (g % 2160) * interval '60 minutes', ${B2} + (g % 2160 + 1) * interval '60 minutes'
FROM (SELECT g, (g * 11 - 1) % ${D} + 1 AS d FROM generate_series(1, ${c.usageRecords}) g) s;

INSERT INTO "Billing ""Audit"" Log" (id, order_id, "Event Type", actor, detail, logged_at)
SELECT g, CASE WHEN g % 25 = 0 THEN NULL ELSE (g - 1) % ${O} + 1 END,
  (ARRAY['order.created','order.paid','order.refunded'])[g % 3 + 1],
  CASE WHEN g % 3 = 0 THEN 'system' ELSE 'user:' || ((g * 7 - 1) % ${U} + 1) END,
  jsonb_build_object('ip', '10.0.' || g % 256 || '.1', 'note', CASE WHEN g % 11 = 0 THEN 'manual "review" — 人工审核' END),
  ${B} + g * interval '13 minutes' + interval '1 minute'
FROM generate_series(1, ${O}) g;
`;
}
