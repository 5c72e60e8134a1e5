/**
 * Row counts of the sample at a given scale. Entity tables grow linearly with the
 * scale; reference tables (roles, permissions, applications, plans, coupons,
 * migrations) have a fixed size. Small minimums keep every enum value in use.
 */
export interface SampleCounts {
  tenants: number;
  users: number;
  nodes: number;
  devices: number;
  deviceEvents: number;
  orders: number;
  usageRecords: number;
  apiKeys: number;
  legacyImports: number;
}

export function sampleCounts(scale = 1): SampleCounts {
  if (!Number.isFinite(scale) || scale <= 0) throw new RangeError(`scale must be a positive number, got ${scale}`);
  const n = (base: number, min: number): number => Math.max(min, Math.round(base * scale));
  const users = n(500, 60);
  return {
    tenants: n(8, 2),
    users,
    nodes: n(12, 2),
    // At least one device per user: orders point at the device of their user.
    devices: Math.max(users, n(600, 72)),
    deviceEvents: n(20000, 300),
    orders: n(800, 100),
    usageRecords: n(1500, 50),
    apiKeys: n(100, 10),
    legacyImports: n(200, 20),
  };
}
