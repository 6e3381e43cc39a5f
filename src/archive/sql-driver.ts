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
  /** After a deletion: what the rows no longer hold leaves the engine's files too (journal, free pages). */
  scrub(): Promise<void>;
  close(): Promise<void>;
}
