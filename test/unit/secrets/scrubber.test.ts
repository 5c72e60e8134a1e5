import { describe, expect, it } from 'vitest';
import { Scrubber, scrub } from '../../../src/secrets/scrubber.js';
import { connectionSecrets } from '../../../src/secrets/connection-secrets.js';
import { manifestTextSecrets } from '../../../src/secrets/manifest-secrets.js';
import { quoteKeywordValue } from '../../../src/conn/libpq-keywords.js';

const HARD = `p@ss #w:o%rd 'q" \\x`;

describe('the scrubber', () => {
  it('scrubs known secrets and URL passwords from free text', () => {
    expect(scrub('login failed for s3cret at postgres://u:p4ss@h/db', ['s3cret'])).toBe('login failed for *** at postgres://u:***@h/db');
    // A password equal to the URL scheme: the scheme stays readable, every other occurrence goes.
    expect(scrub('cannot connect to postgres://postgres:postgres@h/db as postgres', ['postgres'])).toBe('cannot connect to postgres://***:***@h/db as ***');
    // Regular-expression characters in a secret are taken literally.
    expect(scrub('pw a.b*c(d) and axbbbc(d)', ['a.b*c(d)'])).toBe('pw *** and axbbbc(d)');
  });

  it('finds a secret in every form it takes on the way out', () => {
    const s = new Scrubber().add(HARD);
    const forms = [
      HARD,
      encodeURIComponent(HARD),
      encodeURI(HARD),
      JSON.stringify(HARD),
      JSON.stringify(encodeURIComponent(HARD)),
      `'${HARD.replace(/'/g, "''")}'`,
      quoteKeywordValue(HARD),
      JSON.stringify(quoteKeywordValue(HARD)),
      new URLSearchParams({ password: HARD }).toString(),
    ];
    for (const f of forms) {
      const out = s.scrub(`before ${f} after`);
      expect(out).toContain('***');
      expect(out).not.toContain('#w:o');
      expect(out).not.toContain('ss%20%23');
    }
  });

  it('masks passwords by shape: URL userinfo (with @ in it), ?password=, key=value', () => {
    const s = new Scrubber();
    expect(s.scrub('at postgres://u:a@b@h/db now')).toBe('at postgres://u:***@h/db now');
    expect(s.scrub('postgres://u@h/db?sslmode=disable&password=xyz1')).toBe('postgres://u@h/db?sslmode=disable&password=***');
    expect(s.scrub("host=h password='a b c' dbname=x")).toBe('host=h password=*** dbname=x');
    expect(s.scrub('host=h password=abc dbname=x')).toBe('host=h password=*** dbname=x');
  });

  it('knows the passwords of every connection form, parsable or not', () => {
    expect(connectionSecrets(`postgres://u:${encodeURIComponent(HARD)}@h/db`)).toEqual(expect.arrayContaining([HARD, encodeURIComponent(HARD)]));
    expect(connectionSecrets(`host=h password=${quoteKeywordValue(HARD)}`)).toContain(HARD);
    expect(connectionSecrets(`postgres://u@h/db?password=${encodeURIComponent(HARD)}`)).toContain(HARD);
    // An unencoded # does not parse: the password as written is still known.
    expect(connectionSecrets('postgres://u:hun#ter@h/db')).toContain('hun#ter');
  });

  it('reads the secrets a manifest points at without validating it', () => {
    const text = [
      'source:',
      '  url: ${CORE}',
      'servers:',
      '  b: "host=h password=${B_PW} dbname=x"',
      '  c: ${C_URL:-postgres://u:dflt-pw@h/db}',
      'services:',
      '  a:',
      '    role: { name: a, password: "${A_PASS:-literal-pw}" }',
      '    health: ${HEALTH}',
      'name: ${NAME}',
    ].join('\n');
    const env = { CORE: 'host=h password=core-pw', B_PW: 'b-pw-1', A_PASS: '', HEALTH: 'http://h', NAME: 'cloudphone' };
    expect(manifestTextSecrets(text, env).sort()).toEqual(['b-pw-1', 'core-pw', 'dflt-pw', 'literal-pw'].sort());
    // A reference is never itself a secret: plans show it where the password goes.
    expect(manifestTextSecrets('    password: ${X_DB_PASSWORD}\n    password: literal-two\n', {})).toEqual(['literal-two']);
  });
});
