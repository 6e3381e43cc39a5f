import pg from "pg";
import { ArchiveError } from "./archive.js";
import type { SqlDriver } from "./sql-driver.js";

/** `?` placeholders, as SQLite takes them, numbered as PostgreSQL takes them. */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** Where the database is, without its password, for messages to the operator. */
function describe(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return "(not a URL)";
  }
}

/** PostgreSQL (DATABASE_URL): one connection, used by one statement or transaction at a time. */
export class PostgresDriver implements SqlDriver {
  readonly engine = "PostgreSQL";

  private constructor(private readonly client: pg.Client) {}

  static async open(url: string, connectTimeoutMs: number): Promise<PostgresDriver> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ArchiveError("DATABASE_URL is not a URL: expected postgres://user:password@host:port/database");
    }
    if (!["postgres:", "postgresql:"].includes(parsed.protocol)) {
      throw new ArchiveError("DATABASE_URL must start with postgres:// or postgresql://");
    }
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs });
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw new ArchiveError(`cannot reach the database at DATABASE_URL (${describe(url)}): ${(err as Error).message}`);
    }
    // A connection that breaks later fails the statements in flight; it must not end the process.
    client.on("error", () => undefined);
    return new PostgresDriver(client);
  }

  async all<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.client.query(numbered(sql), params)).rows as T[];
  }

  async run(sql: string, params: unknown[] = []): Promise<void> {
    await this.client.query(numbered(sql), params);
  }

  async exec(sql: string): Promise<void> {
    await this.client.query(sql);
  }

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    await this.client.query("BEGIN");
    try {
      const out = await fn();
      await this.client.query("COMMIT");
      return out;
    } catch (err) {
      await this.client.query("ROLLBACK").catch(() => undefined);
      throw err;
    }
  }

  /**
   * PostgreSQL overwrites nothing in place: a deleted row's old version stays
   * in its page until (auto)vacuum reclaims it, unreadable by any query.
   * Forcing a VACUUM on each deletion would cost every writer; the threat
   * model (docs/security.md) says what is left to the disk.
   */
  async scrub(): Promise<void> {}

  async close(): Promise<void> {
    await this.client.end();
  }
}
