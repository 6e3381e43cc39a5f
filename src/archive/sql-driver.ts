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
