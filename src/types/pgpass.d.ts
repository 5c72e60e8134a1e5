// The pgpass package (node-postgres's own reader of ~/.pgpass and PGPASSFILE) ships no types.
declare module 'pgpass' {
  interface PgPassConnection {
    host?: string;
    port?: number | string;
    database?: string;
    user?: string;
  }
  function pgpass(connection: PgPassConnection, callback: (password: string | undefined) => void): void;
  export default pgpass;
}
