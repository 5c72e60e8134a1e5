/** Base timestamps of the sample: every time is one of these plus whole minutes (time-zone independent). */
export const B = `timestamptz '2024-06-01 00:00:00+00'`;
export const B2 = `timestamptz '2025-01-01 00:00:00+00'`;
/** A FROM item with name arrays: fa/la (ASCII first/last), fu/lu (display, unicode), ua (user agents). */
export const NAMES = `(SELECT
  ARRAY['wei','fang','zoe','lukasz','ana','mohammed','yuki','soren','priya','jose','olga','chen'] AS fa,
  ARRAY['zhang','wang','mueller','kowalski','garcia','haddad','tanaka','oestergaard','sharma','nunez','ivanova','li'] AS la,
  ARRAY['Wei','Fang','Zoë','Łukasz','Ana','Mohammed','Yuki','Søren','Priya','José','Olga','Chen'] AS fu,
  ARRAY['Zhang','Wang','Müller','Kowalski','García','Haddad','Tanaka','Østergaard','Sharma','Núñez','Ivanova','李'] AS lu,
  ARRAY['Mozilla/5.0 (Linux; Android 14; Pixel 7)','okhttp/4.12.0','CloudPhoneDesktop/3.2 (Windows NT 10.0)','curl/8.5.0'] AS ua) n`;
/** ~2.6 kB of incompressible text for row `key`: stored out of line (TOAST). */
export const big = (key: string): string =>
  `(SELECT string_agg(md5(${key} || ':' || i), ' ' ORDER BY i) FROM generate_series(1, 80) i)`;
