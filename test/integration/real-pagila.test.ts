import { expect } from 'vitest';
import { corpusSuite, refused, scalar, verifyReports } from './helpers/real-corpus-suite.js';
import { query } from '../harness/servers.js';

/** test/fixtures/real/pagila: see test/fixtures/real/README.md for where it comes from. */
corpusSuite('pagila', {
  from15to18: true,
  async afterSplit(split, service) {
    const catalog = service('catalog');
    const rentals = service('rentals');
    await query(rentals, `DELETE FROM payment_p2022_01`);
    await verifyReports(split, /payment/);
    // The views over the group_concat aggregate work; the catalog's writes work as in the source.
    expect(await scalar(catalog, `SELECT count(*) FROM film_list`)).toBe('3');
    expect(await scalar(catalog, `SELECT actors FROM film_list WHERE fid = 1`)).toMatch(/PENELOPE GUINESS/);
    expect(await scalar(catalog, `INSERT INTO film (title, language_id, rating, fulltext) VALUES ('NEW FILM', 1, 'PG', ''::tsvector) RETURNING film_id`)).toBe('4');
    expect(await scalar(catalog, `SELECT fulltext::text FROM film WHERE film_id = 4`)).toMatch(/'film'/);
    expect(await scalar(rentals, `INSERT INTO payment (customer_id, staff_id, rental_id, amount, payment_date) VALUES (1, 1, 1, 1.00, '2022-03-05 10:00+00') RETURNING payment_id`)).toBe('5');
    // What the source refuses, the target refuses: no partition for the date, an unknown rating, a year out of the domain.
    expect(await refused(rentals, `INSERT INTO payment (customer_id, staff_id, rental_id, amount, payment_date) VALUES (1, 1, 1, 1.00, '2030-01-01')`)).toMatch(/no partition/);
    expect(await refused(catalog, `INSERT INTO film (title, language_id, rating, fulltext) VALUES ('X', 1, 'XX', ''::tsvector)`)).toMatch(/mpaa_rating/);
    expect(await refused(catalog, `INSERT INTO film (title, language_id, release_year, fulltext) VALUES ('X', 1, 1800, ''::tsvector)`)).toMatch(/year_check/);
  },
});
