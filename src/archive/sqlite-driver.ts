import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { ArchiveError } from "./archive.js";
import type { SqlDriver } from "./sql-driver.js";

/** better-sqlite3 takes booleans as 0 and 1 only. */
const bind = (params: unknown[]) => params.map((p) => (typeof p === "boolean" ? Number(p) : p));

const STATEMENTS_KEPT = 500;

/** The embedded engine: one SQLite file in DATA_DIR, written by this process alone. */
export class SqliteDriver implements SqlDriver {
  readonly engine = "SQLite";

  /** Prepared once: preparing costs about as much as running a small statement. */
  private readonly prepared = new Map<string, Database.Statement>();

  private constructor(private readonly db: Database.Database) {}

  private statement(sql: string): Database.Statement {
    let stmt = this.prepared.get(sql);
    if (!stmt) {
      // The multi-row inserts have one text per row count: a bound keeps the cache from growing with them.
      if (this.prepared.size >= STATEMENTS_KEPT) this.prepared.clear();
      stmt = this.db.prepare(sql);
      this.prepared.set(sql, stmt);
    }
    return stmt;
  }

  static open(dataDir: string): SqliteDriver {
    const file = path.join(dataDir, "chat.sqlite");
    let db: Database.Database;
    try {
      mkdirSync(dataDir, { recursive: true });
      db = new Database(file);
      // WAL: readers never wait for the writer, and a commit is one append, not a rewrite.
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.pragma("busy_timeout = 2000");
      // A deleted message's text is overwritten with zeros, not left in a free page.
      db.pragma("secure_delete = ON");
    } catch (err) {
      throw new ArchiveError(`DATA_DIR=${dataDir}: cannot keep the archive there: ${(err as Error).message}`);
    }
    return new SqliteDriver(db);
  }

  async all<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.statement(sql).all(...bind(params)) as T[];
  }

  async run(sql: string, params: unknown[] = []): Promise<void> {
    this.statement(sql).run(...bind(params));
  }

  async exec(sql: string): Promise<void> {
    this.db.exec(sql);
  }

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    this.db.exec("BEGIN");
    try {
      const out = await fn();
      this.db.exec("COMMIT");
      return out;
    } catch (err) {
      this.db.exec("ROLLBACK");
      throw err;
    }
  }

  /** One process owns the file: there is nobody to wait for. */
  alone<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  /** Copies the WAL into the database and empties it: the WAL still holds the pages as they were before. */
  /** A statement here runs to its end: SQLite has no statement timeout (better-sqlite3 offers no interrupt). */
  timedOut(): boolean {
    return false;
  }

  async scrub(): Promise<void> {
    this.db.pragma("wal_checkpoint(TRUNCATE)");
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
