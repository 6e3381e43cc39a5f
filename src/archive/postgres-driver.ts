import pg from "pg";
import { ArchiveError } from "./archive.js";
import type { SqlDriver } from "./sql-driver.js";

/** `?` placeholders, as SQLite takes them, numbered as PostgreSQL takes them. */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** The advisory lock nodes take to migrate one at a time; any number no other user of the database takes. */
const MIGRATION_LOCK = 0x63686174;

/** Where the database is, without its password, for messages to the operator. */
function describe(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return "(not a URL)";
  }
}

/**
 * PostgreSQL (DATABASE_URL): one connection, used by one statement or
 * transaction at a time. A connection the database dropped (a restart, a
 * failover) is replaced on the next call: the calls meanwhile fail, and the
 * caller decides whether that is worth a retry.
 */
export class PostgresDriver implements SqlDriver {
  readonly engine = "PostgreSQL";
  private broken = false;
  private closed = false;
  private reconnecting: Promise<pg.Client> | undefined;
  /** The connection a transaction runs on: its statements must never move to a new one half-way. */
  private inTransaction: pg.Client | undefined;

  private constructor(
    private client: pg.Client,
    private readonly url: string,
    private readonly connectTimeoutMs: number,
    private readonly statementTimeoutMs: number,
  ) {
    this.watch(client);
  }

  /** `statementTimeoutMs`: the database cancels a statement that runs longer (0: never). */
  static async open(url: string, connectTimeoutMs: number, statementTimeoutMs = 0): Promise<PostgresDriver> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ArchiveError("DATABASE_URL is not a URL: expected postgres://user:password@host:port/database");
    }
    if (!["postgres:", "postgresql:"].includes(parsed.protocol)) {
      throw new ArchiveError("DATABASE_URL must start with postgres:// or postgresql://");
    }
    try {
      return new PostgresDriver(
        await connect(url, connectTimeoutMs, statementTimeoutMs),
        url,
        connectTimeoutMs,
        statementTimeoutMs,
      );
    } catch (err) {
      throw new ArchiveError(`cannot reach the database at DATABASE_URL (${describe(url)}): ${(err as Error).message}`);
    }
  }

  /** A connection that breaks fails the statements in flight; it must not end the process. */
  private watch(client: pg.Client): void {
    const lost = () => {
      if (client === this.client && !this.closed) this.broken = true;
    };
    client.on("error", lost);
    client.on("end", lost);
  }

  private async live(): Promise<pg.Client> {
    if (this.inTransaction) return this.inTransaction;
    if (!this.broken) return this.client;
    this.reconnecting ??= connect(this.url, this.connectTimeoutMs, this.statementTimeoutMs)
      .then((client) => {
        this.client = client;
        this.broken = false;
        this.watch(client);
        return client;
      })
      .finally(() => {
        this.reconnecting = undefined;
      });
    return this.reconnecting;
  }

  timedOut(err: unknown): boolean {
    return (err as { code?: unknown } | null)?.code === "57014";
  }

  async all<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await (await this.live()).query(numbered(sql), params)).rows as T[];
  }

  async run(sql: string, params: unknown[] = []): Promise<void> {
    await (await this.live()).query(numbered(sql), params);
  }

  async exec(sql: string): Promise<void> {
    await (await this.live()).query(sql);
  }

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    const client = await this.live();
    await client.query("BEGIN");
    this.inTransaction = client;
    try {
      const out = await fn();
      await client.query("COMMIT");
      return out;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      this.inTransaction = undefined;
    }
  }

  async alone<T>(fn: () => Promise<T>): Promise<T> {
    const client = await this.live();
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    try {
      return await fn();
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => undefined);
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
    this.closed = true;
    await this.client.end();
  }
}

async function connect(url: string, connectTimeoutMs: number, statementTimeoutMs: number): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: connectTimeoutMs,
    ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs } : {}),
  });
  // Until watch() takes over: an error before then is the connect's own, and rejects it.
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return client;
}
