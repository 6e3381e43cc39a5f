/** What the archive needs of a SQL engine: statements with `?` parameters, and transactions. */
export interface SqlDriver {
  /** For messages to the operator: "SQLite" or "PostgreSQL". */
  readonly engine: string;
  all<T>(sql: string, params?: unknown[]): Promise<T[]>;
  run(sql: string, params?: unknown[]): Promise<void>;
  /** Several statements, no parameters (a migration). */
  exec(sql: string): Promise<void>;
  /** Runs `fn` in one transaction; the caller sends nothing else meanwhile. */
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  /** Runs `fn` while no other process runs it on the same database (nodes starting together migrate one at a time). */
  alone<T>(fn: () => Promise<T>): Promise<T>;
  /** After a deletion: what the rows no longer hold leaves the engine's files too (journal, free pages). */
  scrub(): Promise<void>;
  /** Whether `err` is a statement the engine cancelled for running past the connection's statement timeout. */
  timedOut(err: unknown): boolean;
  close(): Promise<void>;
}

/** Rows per multi-row statement: far below what either engine takes in parameters (SQLite 32766, PostgreSQL 65535). */
export const ROWS_PER_STATEMENT = 500;

/** `(?, ?), (?, ?)…`: `rows` rows of `columns` parameters each, or of `row` as given (for casts). */
export function placeholders(
  rows: number,
  columns: number,
  row = `(${Array.from({ length: columns }, () => "?").join(", ")})`,
): string {
  return Array.from({ length: rows }, () => row).join(", ");
}

/**
 * PostgreSQL: a multi-row `INSERT … ON CONFLICT DO NOTHING` of `rows`
 * (objects keyed by column), sent as one JSON parameter that the database
 * reads into rows itself (`json_to_recordset`), so that no placeholder is
 * numbered, nor any value sent, one by one. `columns` are each column's
 * name and SQL type; `casts` what a column's text becomes (e.g. `::tsvector`).
 */
export async function insertJsonRows(
  db: SqlDriver,
  table: string,
  columns: [name: string, type: string][],
  rows: object[],
  casts: Record<string, string> = {},
): Promise<void> {
  const names = columns.map(([name]) => name);
  const selected = names.map((name) => `${name}${casts[name] ?? ""}`);
  const record = columns.map(([name, type]) => `${name} ${type}`);
  await db.run(
    `INSERT INTO ${table} (${names.join(", ")}) SELECT ${selected.join(", ")} ` +
      `FROM json_to_recordset(?::json) AS r(${record.join(", ")}) ON CONFLICT DO NOTHING`,
    [JSON.stringify(rows)],
  );
}
