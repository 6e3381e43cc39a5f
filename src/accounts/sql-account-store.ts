import type { Archive } from "../archive/archive.js";
import type { Account, AccountChange, AccountStore, LinkKind, OneTimeLink, SignInSession } from "./account-store.js";
import { type FailureCount, type FailureCounts, FailureWindows } from "./failure-windows.js";

interface AccountRow {
  uid: string;
  name: string;
  name_key: string;
  hash: string | null;
  admin: boolean | number;
  disabled: boolean | number;
  created: number | string;
  display_name: string | null;
  colour: number | string | null;
}

const COLUMNS = "uid, name, name_key, hash, admin, disabled, created, display_name, colour";
/** The column of each field an update may change. */
const CHANGE_COLUMNS = {
  hash: "hash",
  admin: "admin",
  disabled: "disabled",
  display: "display_name",
  colour: "colour",
} as const;

function account(row: AccountRow): Account {
  return {
    uid: row.uid,
    name: row.name,
    key: row.name_key,
    hash: row.hash ?? undefined,
    admin: Boolean(row.admin),
    disabled: Boolean(row.disabled),
    created: Number(row.created),
    display: row.display_name ?? undefined,
    colour: row.colour === null ? undefined : Number(row.colour),
  };
}

/**
 * Accounts in the archive's database (embedded SQLite or PostgreSQL), the
 * system of record, beside the people's messages. Alone, one process writes
 * it and counts sign-in failures in its memory; scaled out through Redis,
 * several nodes write the same PostgreSQL and count failures in Redis. So
 * every write that must happen once (a name's claim, a provider's link, a
 * link's last use) is one statement the database decides, not a read then
 * a write another node could slip between.
 */
export class SqlAccountStore implements AccountStore {
  constructor(
    private readonly archive: Archive,
    private readonly windows: FailureCounts = new FailureWindows(),
  ) {}

  create(a: Account): Promise<boolean> {
    return this.archive.sql(async (db) => {
      const made = await db.all<{ uid: string }>(
        `INSERT INTO accounts (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name_key) DO NOTHING RETURNING uid`,
        [a.uid, a.name, a.key, a.hash ?? null, a.admin, a.disabled, a.created, a.display ?? null, a.colour ?? null],
      );
      return made.length === 1;
    });
  }

  byKey(key: string): Promise<Account | undefined> {
    return this.one("name_key", key);
  }

  byUid(uid: string): Promise<Account | undefined> {
    return this.one("uid", uid);
  }

  private one(column: "uid" | "name_key", value: string): Promise<Account | undefined> {
    return this.archive.sql(async (db) => {
      const [row] = await db.all<AccountRow>(`SELECT ${COLUMNS} FROM accounts WHERE ${column} = ?`, [value]);
      return row && account(row);
    });
  }

  byIdentity(issuer: string, subject: string): Promise<Account | undefined> {
    return this.archive.sql(async (db) => {
      const [row] = await db.all<AccountRow>(
        `SELECT ${COLUMNS} FROM accounts WHERE uid = (SELECT uid FROM account_identities WHERE issuer = ? AND subject = ?)`,
        [issuer, subject],
      );
      return row && account(row);
    });
  }

  linkIdentity(issuer: string, subject: string, uid: string): Promise<boolean> {
    return this.archive.sql(async (db) => {
      const linked = await db.all<{ uid: string }>(
        "INSERT INTO account_identities (issuer, subject, uid) VALUES (?, ?, ?) ON CONFLICT (issuer, subject) DO NOTHING RETURNING uid",
        [issuer, subject, uid],
      );
      return linked.length === 1;
    });
  }

  unlinkIdentity(issuer: string, subject: string): Promise<void> {
    return this.archive.sql((db) =>
      db.run("DELETE FROM account_identities WHERE issuer = ? AND subject = ?", [issuer, subject]),
    );
  }

  list(): Promise<Account[]> {
    return this.archive.sql(async (db) =>
      (await db.all<AccountRow>(`SELECT ${COLUMNS} FROM accounts ORDER BY created, uid`)).map(account),
    );
  }

  update(uid: string, change: AccountChange): Promise<void> {
    const sets = (Object.keys(CHANGE_COLUMNS) as (keyof AccountChange)[])
      .filter((k) => change[k] !== undefined)
      .map((k) => [CHANGE_COLUMNS[k], change[k]] as const);
    if (sets.length === 0) return Promise.resolve();
    return this.archive.sql((db) =>
      db.run(`UPDATE accounts SET ${sets.map(([column]) => `${column} = ?`).join(", ")} WHERE uid = ?`, [
        ...sets.map(([, v]) => v),
        uid,
      ]),
    );
  }

  byUids(uids: string[]): Promise<Account[]> {
    if (uids.length === 0) return Promise.resolve([]);
    return this.archive.sql(async (db) =>
      (
        await db.all<AccountRow>(
          `SELECT ${COLUMNS} FROM accounts WHERE uid IN (${uids.map(() => "?").join(", ")})`,
          uids,
        )
      ).map(account),
    );
  }

  addSession(id: string, s: SignInSession): Promise<void> {
    return this.archive.sql(async (db) => {
      // Ended and expired sessions go as new ones come: the table holds the live ones and few more.
      await db.run("DELETE FROM sign_in_sessions WHERE expires <= ?", [Date.now()]);
      await db.run("INSERT INTO sign_in_sessions (id, uid, expires) VALUES (?, ?, ?)", [id, s.uid, s.expires]);
    });
  }

  session(id: string): Promise<SignInSession | undefined> {
    return this.archive.sql(async (db) => {
      const [row] = await db.all<{ uid: string; expires: number | string }>(
        "SELECT uid, expires FROM sign_in_sessions WHERE id = ? AND expires > ?",
        [id, Date.now()],
      );
      return row && { uid: row.uid, expires: Number(row.expires) };
    });
  }

  endSession(id: string): Promise<void> {
    return this.archive.sql((db) => db.run("DELETE FROM sign_in_sessions WHERE id = ?", [id]));
  }

  endSessions(uid: string): Promise<void> {
    return this.archive.sql((db) => db.run("DELETE FROM sign_in_sessions WHERE uid = ?", [uid]));
  }

  addLink(id: string, link: OneTimeLink): Promise<void> {
    return this.archive.sql(async (db) => {
      await db.run("DELETE FROM account_links WHERE expires <= ? OR uses_left <= 0", [Date.now()]);
      await db.run("INSERT INTO account_links (id, kind, uid, uses_left, expires) VALUES (?, ?, ?, ?, ?)", [
        id,
        link.kind,
        link.uid ?? null,
        link.usesLeft,
        link.expires,
      ]);
    });
  }

  linkOf(id: string, kind: LinkKind): Promise<OneTimeLink | undefined> {
    return this.usableLink(
      "SELECT uid, uses_left, expires FROM account_links WHERE id = ? AND kind = ? AND uses_left > 0 AND expires > ?",
      id,
      kind,
    );
  }

  useLink(id: string, kind: LinkKind): Promise<OneTimeLink | undefined> {
    return this.usableLink(
      "UPDATE account_links SET uses_left = uses_left - 1 WHERE id = ? AND kind = ? AND uses_left > 0 AND expires > ? RETURNING uid, uses_left, expires",
      id,
      kind,
    );
  }

  /** The link `sql` reads (or takes a use of) while it has a use left and has not expired. */
  private usableLink(sql: string, id: string, kind: LinkKind): Promise<OneTimeLink | undefined> {
    return this.archive.sql(async (db) => {
      const [row] = await db.all<{ uid: string | null; uses_left: number | string; expires: number | string }>(sql, [
        id,
        kind,
        Date.now(),
      ]);
      if (!row) return undefined;
      return { kind, uid: row.uid ?? undefined, usesLeft: Number(row.uses_left), expires: Number(row.expires) };
    });
  }

  countFailure(key: string, windowMs: number): Promise<FailureCount> {
    return this.windows.count(key, windowMs);
  }

  failures(key: string): Promise<FailureCount> {
    return this.windows.get(key);
  }

  clearFailures(key: string): Promise<void> {
    return this.windows.clear(key);
  }

  forgive(key: string): Promise<void> {
    return this.windows.forgive(key);
  }

  async close(): Promise<void> {
    this.windows.close();
  }
}
