import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { ArchiveError } from "./archive.js";
import type { SqlDriver } from "./sql-driver.js";

/** better-sqlite3 takes booleans as 0 and 1 only. */
const bind = (params: unknown[]) => params.map((p) => (typeof p === "boolean" ? Number(p) : p));

/** The embedded engine: one SQLite file in DATA_DIR, written by this process alone. */
export class SqliteDriver implements SqlDriver {
  readonly engine = "SQLite";

  private constructor(private readonly db: Database.Database) {}

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
    return this.db.prepare(sql).all(...bind(params)) as T[];
  }

  async run(sql: string, params: unknown[] = []): Promise<void> {
    this.db.prepare(sql).run(...bind(params));
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

  /** Copies the WAL into the database and empties it: the WAL still holds the pages as they were before. */
  async scrub(): Promise<void> {
    this.db.pragma("wal_checkpoint(TRUNCATE)");
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
