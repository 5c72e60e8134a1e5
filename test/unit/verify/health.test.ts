import { describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import { healthChecks, healthUrlsFromPlan } from '../../../src/verify/health.js';
import type { Plan } from '../../../src/plan/model.js';

const MANIFEST = `version: 1
name: cloudphone
source: { url: "\${CORE_URL}" }
services:
  user-service:
    database: cloudphone_user
    tables: [users]
    health: "http://\${USER_HOST:-localhost}:30001/health"
  device-service:
    database: cloudphone_device
    tables: [devices]
    health: "http://\${DEVICE_HOST}/health"
  app-service:
    database: cloudphone_app
    tables: [apps]
`;

const plan = { manifest: { path: 'split.yaml', text: MANIFEST } } as unknown as Plan;

describe('health URLs', () => {
  it('reads them from the plan manifest, expanding variables, and reports what cannot be expanded', () => {
    const urls = healthUrlsFromPlan(plan, { USER_HOST: 'users.internal' });
    expect(urls['user-service']).toBe('http://users.internal:30001/health');
    expect(urls['device-service']).toBeInstanceOf(Error);
    expect((urls['device-service'] as Error).message).toMatch(/DEVICE_HOST/);
    expect('app-service' in urls).toBe(false);
  });

  it('is not applicable without URLs', async () => {
    expect(await healthChecks({})).toEqual([{ kind: 'health', ok: true, detail: 'not applicable: no service has a health URL' }]);
  });

  it('wants 2xx, and never prints a password of the URL', async () => {
    const server = createServer((req, res) => {
      res.statusCode = req.url === '/health' ? 204 : 500;
      res.end();
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const port = (server.address() as { port: number }).port;
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise((done) => closed.close(done));
    try {
      const checks = await healthChecks({
        a: `http://127.0.0.1:${port}/health`,
        b: `http://user:hunter22@127.0.0.1:${port}/broken`,
        c: new Error('variable X is not set'),
        d: `http://127.0.0.1:${closedPort}/health`,
      });
      expect(checks.map((c) => c.ok)).toEqual([true, false, false, false]);
      expect(checks[1]?.detail).toMatch(/500/);
      expect(checks[2]?.detail).toMatch(/variable X/);
      expect(checks[3]?.detail).toMatch(/ECONNREFUSED/);
      expect(JSON.stringify(checks)).not.toContain('hunter22');
    } finally {
      server.close();
    }
  });
});
