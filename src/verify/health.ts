import { parseManifest } from '../manifest/load.js';
import { expand } from '../manifest/expand.js';
import { redact } from '../conn/connection.js';
import { scrub } from '../secrets/scrubber.js';
import type { Plan } from '../plan/model.js';
import { errorText, type Check } from './check.js';

/** A health URL must answer 2xx within this many milliseconds. */
export const HEALTH_TIMEOUT_MS = 5000;

/** Health URLs per service from the plan's manifest, `${VAR}` expanded; a value that cannot be expanded is an Error. */
export function healthUrlsFromPlan(plan: Plan, env: NodeJS.ProcessEnv): Record<string, string | Error> {
  const manifest = parseManifest(plan.manifest.text, plan.manifest.path);
  const out: Record<string, string | Error> = {};
  for (const s of manifest.services) {
    if (!s.health) continue;
    try {
      out[s.name] = expand(s.health, env, `services.${s.name}.health`);
    } catch (err) {
      out[s.name] = err as Error;
    }
  }
  return out;
}

/** fetch refuses URLs with credentials: they travel as a Basic Authorization header instead. */
function request(url: string): { href: string; headers: Record<string, string>; secrets: string[] } {
  const u = new URL(url);
  if (!u.username && !u.password) return { href: u.toString(), headers: {}, secrets: [] };
  const user = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  const encoded = u.password;
  u.username = '';
  u.password = '';
  return { href: u.toString(), headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` }, secrets: [password, encoded] };
}

async function probe(service: string, url: string): Promise<Check> {
  const base = { kind: 'health' as const, service, target: redact(url) };
  const started = Date.now();
  let secrets: string[] = [];
  try {
    const req = request(url);
    secrets = req.secrets;
    const res = await fetch(req.href, { headers: req.headers, signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS), redirect: 'follow' });
    await res.body?.cancel().catch(() => undefined);
    const ms = Date.now() - started;
    return res.status >= 200 && res.status < 300
      ? { ...base, ok: true, detail: `GET ${redact(url)}: ${res.status} in ${ms} ms` }
      : { ...base, ok: false, detail: `GET ${redact(url)}: ${res.status} ${res.statusText}; check the service's logs (is it using its new database?)` };
  } catch (err) {
    const e = err as Error;
    const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError';
    const c = (e as { cause?: { code?: string; message?: string } }).cause;
    const cause = c?.code ?? (c?.message ? scrub(c.message, secrets) : undefined);
    return {
      ...base,
      ok: false,
      detail: timedOut
        ? `GET ${redact(url)}: no answer within ${HEALTH_TIMEOUT_MS / 1000} s`
        : `GET ${redact(url)}: ${cause ?? scrub(errorText(err), secrets)}; is the service running?`,
    };
  }
}

/** Each service's health URL answers 2xx within 5 s. */
export async function healthChecks(urls: Record<string, string | Error>): Promise<Check[]> {
  const entries = Object.entries(urls);
  if (entries.length === 0) return [{ kind: 'health', ok: true, detail: 'not applicable: no service has a health URL' }];
  return Promise.all(
    entries.map(([service, url]) =>
      url instanceof Error
        ? Promise.resolve<Check>({ kind: 'health', service, ok: false, detail: `cannot build the health URL: ${url.message}` })
        : probe(service, url),
    ),
  );
}
