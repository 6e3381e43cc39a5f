import {
  type Archive,
  type ArchivedEntry,
  ArchiveError,
  type ArchivePage,
  type CarryBatch,
  type KeptUser,
  type PlaceMeta,
  type SearchAnswer,
  type SearchAsk,
} from "./archive.js";
import { MIGRATIONS, type Migration, migrationSql, SEARCH_STEP, WORDS_STEP } from "./migrations.js";
import { type SearchCursor, type SearchDoc, SearchIndex, searchColumns } from "./search-index.js";
import { matchRanges, parseQuery, QueryRefused } from "./search-query.js";
import { wordsOf } from "./search-text.js";
import { insertJsonRows, placeholders, ROWS_PER_STATEMENT, type SqlDriver } from "./sql-driver.js";

/** The fields of a stored frame the archive files it by. */
interface EntryFields {
  action?: unknown;
  name?: unknown;
  uid?: unknown;
  message?: unknown;
  target?: unknown;
  emoji?: unknown;
  on?: unknown;
}

type Row = { mid: number | string; json: string };

/** A message as its row in `messages` is written, and as the search index takes it. */
interface MessageRow extends SearchDoc {
  uid: string;
  json: string;
}

const textOf = (f: EntryFields) => (typeof f.message === "string" ? f.message : "");

const isDeletion = (entry: ArchivedEntry) => (JSON.parse(entry.json) as EntryFields).action === "delete";

const rowOf = (place: string, entry: ArchivedEntry, f: EntryFields): MessageRow => ({
  place,
  mid: entry.mid,
  uid: typeof f.uid === "string" ? f.uid : "",
  ts: entry.ts,
  senderName: typeof f.name === "string" ? f.name : "",
  text: textOf(f),
  json: entry.json,
});

/** PostgreSQL hands BIGINT back as a string; SQLite as a number. */
const num = (v: number | string | null | undefined): number => Number(v ?? 0);

function byMid(rows: Row[]): { mid: number; json: string }[] {
  return rows.map((r) => ({ mid: num(r.mid), json: r.json })).sort((a, b) => a.mid - b.mid);
}

/** A search's `next`, `ts.place.mid`, read back; anything else is refused, never guessed at. */
function readCursor(cursor: string): SearchCursor {
  const m = /^(\d{1,16})\.([^.]{1,256})\.(\d{1,16})(?:\.(\d{1,16}))?$/u.exec(cursor);
  if (!m) throw new QueryRefused("bad_request", "field 'before': not the 'next' of a search reply");
  return {
    ts: Number(m[1]),
    place: m[2] as string,
    mid: Number(m[3]),
    id: m[4] === undefined ? undefined : Number(m[4]),
  };
}

/**
 * The archive over any SqlDriver: one schema, one set of queries. Every call
 * runs in turn, so a transaction on a single connection never interleaves
 * with another statement, and entries are written in the order they were published.
 */
export class SqlArchive implements Archive {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly index: SearchIndex;
  private readonly postgres: boolean;
  /** A connection of search's own (searchOn), its statements in a queue of their own; without one, the archive's. */
  private searching: { db: SqlDriver; index: SearchIndex; queue: Promise<unknown> } | undefined;

  private constructor(private readonly db: SqlDriver) {
    this.index = new SearchIndex(db);
    this.postgres = db.engine === "PostgreSQL";
  }

  /** Brings the schema up to date, or refuses a database newer than this code. */
  static async open(db: SqlDriver): Promise<SqlArchive> {
    await db
      .alone(async () => {
        await db.exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)",
        );
        const [row] = await db.all<{ v: number | string | null }>("SELECT max(version) AS v FROM schema_migrations");
        const at = num(row?.v);
        if (at > MIGRATIONS.length) {
          throw new ArchiveError(
            `the ${db.engine} archive is at schema version ${at}, newer than this server's ${MIGRATIONS.length}: run the newer server`,
          );
        }
        for (let version = at + 1; version <= MIGRATIONS.length; version++) {
          await db.transaction(async () => {
            const step = MIGRATIONS[version - 1] as Migration;
            await db.exec(migrationSql(step, db.engine));
            // The words of what was kept before the engine's index existed: folded here, as SQL cannot.
            const indexMade = db.engine === "PostgreSQL" ? WORDS_STEP : SEARCH_STEP;
            if (step === indexMade) await new SearchIndex(db).indexKept();
            await db.run("INSERT INTO schema_migrations (version, applied) VALUES (?, ?)", [version, Date.now()]);
          });
        }
      })
      .catch(async (err: unknown) => {
        await db.close();
        throw err;
      });
    return new SqlArchive(db);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Searches run on `db` from now on, one at a time, beside the archive's
   * own statements: PostgreSQL only (SQLite's one connection is also its
   * one thread). A statement timeout on `db` ends a search too broad.
   */
  searchOn(db: SqlDriver): void {
    this.searching = { db, index: new SearchIndex(db), queue: Promise.resolve() };
  }

  private searchSerial<T>(fn: (index: SearchIndex, db: SqlDriver) => Promise<T>): Promise<T> {
    const own = this.searching;
    if (!own) return this.serial(() => fn(this.index, this.db));
    const run = () => fn(own.index, own.db);
    const next = own.queue.then(run, run);
    own.queue = next.catch(() => undefined);
    return next;
  }

  place(place: string): Promise<PlaceMeta | undefined> {
    return this.serial(async () => {
      const [row] = await this.db.all<{ epoch: string; top: number | string }>(
        "SELECT epoch, top FROM places WHERE place = ?",
        [place],
      );
      return row && { epoch: row.epoch, top: num(row.top) };
    });
  }

  append(place: string, epoch: string, entry: ArchivedEntry): Promise<boolean> {
    const { db } = this;
    return this.serial(async () => {
      const kept = await db.transaction(() => this.write(place, epoch, entry));
      if (kept && isDeletion(entry)) await db.scrub();
      return kept;
    });
  }

  carry(place: string, epoch: string, entries: ArchivedEntry[]): Promise<number> {
    return this.carryMany([{ place, epoch, entries }]).then(([added]) => added ?? 0);
  }

  /**
   * One transaction for every place: the places' rows locked in one
   * statement, the messages inserted in one statement (a few hundred rows a
   * statement on SQLite), the tops raised in one, so a pass over many rooms costs a handful of round
   * trips and one commit, not eight per room. Changes (rare beside
   * messages) go one by one, after the messages before them.
   */
  carryMany(batches: CarryBatch[]): Promise<number[]> {
    const { db } = this;
    return this.serial(async () => {
      // A deletion carried here erased text: once committed, scrub() makes sure it is gone from the pages too.
      let deleted = false;
      const counts = await db.transaction(async () => {
        const tops = await this.lockPlaces(batches);
        // Indexed for search in the same transaction.
        const rows: MessageRow[] = [];
        const raised = new Map<string, { epoch: string; top: number; ts: number }>();
        const flush = async () => {
          await this.insertMessages(rows);
          await this.index.addMany(rows);
          rows.length = 0;
        };
        const counts: number[] = [];
        for (const { place, epoch, entries } of batches) {
          const top = tops.get(place) ?? 0;
          let n = 0;
          for (const entry of entries) {
            if (entry.mid <= top) {
              await flush();
              // Below the top, only a message the archive lacks is new: a tombstone carried with its
              // deletion, in the stead of a message deleted before it reached the database.
              if (!(await this.lacks(place, entry))) continue;
            }
            n++;
            const f = JSON.parse(entry.json) as EntryFields;
            if (f.action !== "message" && f.action !== "dm") {
              if (f.action === "delete") deleted = true;
              await flush();
              await this.write(place, epoch, entry);
              continue;
            }
            rows.push(rowOf(place, entry, f));
            const was = raised.get(place);
            raised.set(place, { epoch, top: Math.max(was?.top ?? 0, entry.mid), ts: entry.ts });
          }
          counts.push(n);
        }
        await flush();
        await this.raiseTops(raised);
        return counts;
      });
      if (deleted) await db.scrub();
      return counts;
    });
  }

  /**
   * New messages, in the caller's transaction. PostgreSQL takes them all as
   * one JSON parameter that it reads into rows itself: as VALUES lists, the
   * node numbered 3,000 placeholders a statement and node-postgres wrote
   * each of them as a parameter of its own. SQLite, in-process, binds them
   * a few hundred rows a statement. PostgreSQL's rows carry their words for
   * search; SQLite's are indexed after (SearchIndex.addMany).
   */
  private async insertMessages(rows: MessageRow[]): Promise<void> {
    if (rows.length === 0) return;
    if (this.postgres) {
      const columns: [string, string][] = [
        ["place", "text"],
        ["mid", "bigint"],
        ["uid", "text"],
        ["ts", "bigint"],
        ["text", "text"],
        ["json", "text"],
        ["sender", "text"],
        ["words", "text"],
      ];
      const values = rows.map((r) => ({
        place: r.place,
        mid: r.mid,
        uid: r.uid,
        ts: r.ts,
        text: r.text,
        json: r.json,
        ...searchColumns(r),
      }));
      await insertJsonRows(this.db, "messages", columns, values, { words: "::tsvector" });
      return;
    }
    for (let from = 0; from < rows.length; from += ROWS_PER_STATEMENT) {
      const chunk = rows.slice(from, from + ROWS_PER_STATEMENT);
      await this.db.run(
        `INSERT INTO messages (place, mid, uid, ts, text, json) VALUES ${placeholders(chunk.length, 6)} ON CONFLICT DO NOTHING`,
        chunk.flatMap((r) => [r.place, r.mid, r.uid, r.ts, r.text, r.json]),
      );
    }
  }

  /**
   * Makes each place's row if it has none and locks it until commit, in
   * place order: two nodes carrying the same places take turns, without a
   * deadlock, and the second sees the first one's tops.
   */
  private async lockPlaces(batches: CarryBatch[]): Promise<Map<string, number>> {
    const first = new Map<string, CarryBatch>();
    for (const b of batches) if (b.entries.length > 0 && !first.has(b.place)) first.set(b.place, b);
    const places = [...first.keys()].sort();
    const tops = new Map<string, number>();
    for (let from = 0; from < places.length; from += ROWS_PER_STATEMENT) {
      const chunk = places.slice(from, from + ROWS_PER_STATEMENT);
      const params = chunk.flatMap((place) => {
        const { epoch, entries } = first.get(place) as CarryBatch;
        const ts = entries[0]?.ts ?? 0;
        return [place, epoch, 0, ts, ts];
      });
      const rows = await this.db.all<{ place: string; top: number | string }>(
        `INSERT INTO places (place, epoch, top, created, last_active) VALUES ${placeholders(chunk.length, 5)} ` +
          "ON CONFLICT (place) DO UPDATE SET last_active = places.last_active RETURNING place, top",
        params,
      );
      for (const row of rows) tops.set(row.place, num(row.top));
    }
    return tops;
  }

  /** The places' newest mids, never lowered (a tombstone carried late has a mid below the top). */
  private async raiseTops(raised: Map<string, { epoch: string; top: number; ts: number }>): Promise<void> {
    const places = [...raised.keys()].sort();
    for (let from = 0; from < places.length; from += ROWS_PER_STATEMENT) {
      const chunk = places.slice(from, from + ROWS_PER_STATEMENT);
      const params = chunk.flatMap((place) => {
        const { epoch, top, ts } = raised.get(place) as { epoch: string; top: number; ts: number };
        return [place, epoch, top, ts, ts];
      });
      await this.db.run(
        `INSERT INTO places (place, epoch, top, created, last_active) VALUES ${placeholders(chunk.length, 5)} ` +
          "ON CONFLICT (place) DO UPDATE SET top = CASE WHEN excluded.top > places.top THEN excluded.top ELSE places.top END, " +
          "last_active = excluded.last_active",
        params,
      );
    }
  }

  private async lacks(place: string, entry: ArchivedEntry): Promise<boolean> {
    const { action } = JSON.parse(entry.json) as EntryFields;
    if (action !== "message" && action !== "dm") return false;
    const rows = await this.db.all("SELECT 1 AS one FROM messages WHERE place = ? AND mid = ?", [place, entry.mid]);
    return rows.length === 0;
  }

  /** One entry, inside the caller's transaction; false, and nothing kept, for a change to a message not kept or deleted. */
  private async write(place: string, epoch: string, entry: ArchivedEntry): Promise<boolean> {
    const f = JSON.parse(entry.json) as EntryFields;
    const uid = typeof f.uid === "string" ? f.uid : "";
    const target = typeof f.target === "number" ? f.target : 0;
    const isChange = f.action === "edit" || f.action === "react" || f.action === "delete";
    const { db } = this;
    if (isChange) {
      const [row] = await db.all<{ deleted: boolean | number }>(
        "SELECT deleted FROM messages WHERE place = ? AND mid = ?",
        [place, target],
      );
      // Nothing changes a deleted message: an edit would put text back that its author took away.
      if (!row || row.deleted) return false;
    }
    await db.run(
      "INSERT INTO places (place, epoch, top, created, last_active) VALUES (?, ?, ?, ?, ?) " +
        // Never lower: a tombstone carried late has a mid below the top.
        "ON CONFLICT (place) DO UPDATE SET top = CASE WHEN excluded.top > places.top THEN excluded.top ELSE places.top END, " +
        "last_active = excluded.last_active",
      [place, epoch, entry.mid, entry.ts, entry.ts],
    );
    switch (f.action) {
      case "message":
      case "dm": {
        const row = rowOf(place, entry, f);
        const values = [row.place, row.mid, row.uid, row.ts, row.text, row.json];
        if (this.postgres) {
          const { sender, words } = searchColumns(row);
          await db.run(
            "INSERT INTO messages (place, mid, uid, ts, text, json, sender, words) VALUES (?, ?, ?, ?, ?, ?, ?, ?::tsvector)",
            [...values, sender, words],
          );
        } else {
          await db.run("INSERT INTO messages (place, mid, uid, ts, text, json) VALUES (?, ?, ?, ?, ?, ?)", values);
        }
        await this.index.addMany([row]);
        return true;
      }
      case "edit":
        // Only the newest edit is kept: it carries the whole text, and older texts are not to be found again.
        await db.run("DELETE FROM changes WHERE place = ? AND target = ? AND kind = 'edit'", [place, target]);
        await db.run("UPDATE messages SET text = ?, edited = ? WHERE place = ? AND mid = ? AND deleted = FALSE", [
          textOf(f),
          entry.ts,
          place,
          target,
        ]);
        await this.index.replace(place, target, typeof f.message === "string" ? f.message : "");
        break;
      case "react": {
        const emoji = typeof f.emoji === "string" ? f.emoji : "";
        // One entry per (user, emoji): the last word on it, so toggling never piles up.
        await db.run(
          "DELETE FROM changes WHERE place = ? AND target = ? AND kind = 'react' AND uid = ? AND emoji = ?",
          [place, target, uid, emoji],
        );
        if (f.on === false) {
          await db.run("DELETE FROM reactions WHERE place = ? AND mid = ? AND uid = ? AND emoji = ?", [
            place,
            target,
            uid,
            emoji,
          ]);
        } else {
          await db.run("INSERT INTO reactions (place, mid, uid, emoji) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", [
            place,
            target,
            uid,
            emoji,
          ]);
        }
        await this.insertChange(place, entry, target, "react", uid, emoji);
        return true;
      }
      case "delete":
        await this.erase(place, target);
        break;
      default:
        return true;
    }
    await this.insertChange(place, entry, target, String(f.action), uid, null);
    return true;
  }

  private async insertChange(
    place: string,
    entry: ArchivedEntry,
    target: number,
    kind: string,
    uid: string,
    emoji: string | null,
  ): Promise<void> {
    await this.db.run("INSERT INTO changes (place, mid, target, kind, uid, emoji, json) VALUES (?, ?, ?, ?, ?, ?, ?)", [
      place,
      entry.mid,
      target,
      kind,
      uid,
      emoji,
      entry.json,
    ]);
  }

  /** The message keeps its mid, author and time; its text, every edit and every reaction are gone. */
  private async erase(place: string, mid: number): Promise<void> {
    const [row] = await this.db.all<{ json: string }>("SELECT json FROM messages WHERE place = ? AND mid = ?", [
      place,
      mid,
    ]);
    if (row) {
      const frame = JSON.parse(row.json) as Record<string, unknown>;
      frame.message = "";
      await this.db.run(
        "UPDATE messages SET text = NULL, edited = NULL, deleted = TRUE, json = ? WHERE place = ? AND mid = ?",
        [JSON.stringify(frame), place, mid],
      );
    }
    await this.db.run("DELETE FROM changes WHERE place = ? AND target = ?", [place, mid]);
    await this.db.run("DELETE FROM reactions WHERE place = ? AND mid = ?", [place, mid]);
    await this.index.remove(place, mid);
  }

  holds(place: string, mid: number): Promise<boolean> {
    return this.serial(async () => {
      const [row] = await this.db.all<{ deleted: boolean | number }>(
        "SELECT deleted FROM messages WHERE place = ? AND mid = ?",
        [place, mid],
      );
      return row !== undefined && !row.deleted;
    });
  }

  page(place: string, before: number | undefined, limit: number, cutoff: number): Promise<ArchivePage> {
    return this.serial(async () => {
      const upTo = before ?? Number.MAX_SAFE_INTEGER;
      const rows = await this.db.all<Row>(
        "SELECT mid, json FROM messages WHERE place = ? AND mid < ? AND ts >= ? ORDER BY mid DESC LIMIT ?",
        [place, upTo, cutoff, limit + 1],
      );
      const messages = rows.slice(0, limit);
      const oldest = messages.at(-1);
      if (oldest === undefined) return { entries: [], complete: true };
      // A change belongs with its message, however much later it was made.
      const changes = await this.db.all<Row>(
        "SELECT mid, json FROM changes WHERE place = ? AND target >= ? AND target < ?",
        [place, num(oldest.mid), upTo],
      );
      return { entries: byMid([...messages, ...changes]), complete: rows.length <= limit };
    });
  }

  since(
    place: string,
    since: number,
    max: number,
    cutoff: number,
  ): Promise<{ mid: number; json: string }[] | undefined> {
    return this.serial(async () => {
      const messages = await this.db.all<Row>(
        "SELECT mid, json FROM messages WHERE place = ? AND mid > ? AND ts >= ? ORDER BY mid LIMIT ?",
        [place, since, cutoff, max + 1],
      );
      if (messages.length > max) return undefined;
      const changes = await this.db.all<Row>("SELECT mid, json FROM changes WHERE place = ? AND mid > ?", [
        place,
        since,
      ]);
      return byMid([...messages, ...changes]);
    });
  }

  /**
   * A place at a time, each in its own turn and transaction, through the
   * primary key: a place's messages are purged from its oldest mid up to
   * its first message still within the time kept, so a purge reads what it
   * deletes and one row more, never every message, and needs no index of
   * its own that each stored message would pay for. A message written under
   * a clock behind the others', older than a message after it, goes when
   * the mids before it have gone; until then every read leaves it out by
   * its `ts`. Nor does a purge hold the archive for all places at once, and
   * on a database distributed by place each statement goes to one shard.
   */
  async purge(before: number): Promise<number> {
    const { db } = this;
    const places = await this.serial(() => db.all<{ place: string }>("SELECT place FROM places"));
    let gone = 0;
    for (const { place } of places) {
      gone += await this.serial(() =>
        db.transaction(async () => {
          const [kept] = await db.all<{ mid: number | string }>(
            "SELECT mid FROM messages WHERE place = ? AND ts >= ? ORDER BY mid LIMIT 1",
            [place, before],
          );
          const upTo = kept ? num(kept.mid) : Number.MAX_SAFE_INTEGER;
          const [row] = await db.all<{ n: number | string }>(
            "SELECT count(*) AS n FROM messages WHERE place = ? AND mid < ? AND ts < ?",
            [place, upTo, before],
          );
          if (num(row?.n) === 0) return 0;
          await db.run("DELETE FROM messages WHERE place = ? AND mid < ? AND ts < ?", [place, upTo, before]);
          await this.index.purge(place, upTo, before);
          // A change or a reaction goes with its message, whenever it was made.
          for (const table of ["changes", "reactions"]) {
            const mid = table === "changes" ? "target" : "mid";
            await db.run(
              `DELETE FROM ${table} WHERE place = ? AND NOT EXISTS ` +
                `(SELECT 1 FROM messages m WHERE m.place = ${table}.place AND m.mid = ${table}.${mid})`,
              [place],
            );
          }
          return num(row?.n);
        }),
      );
    }
    if (gone > 0) await this.serial(() => db.scrub());
    return gone;
  }

  search(ask: SearchAsk): Promise<SearchAnswer> {
    let query: ReturnType<typeof parseQuery>;
    let before: SearchCursor | undefined;
    try {
      query = parseQuery(ask.q);
      before = ask.before === undefined ? undefined : readCursor(ask.before);
    } catch (err) {
      if (err instanceof QueryRefused) return Promise.resolve({ refused: err.code, why: err.message });
      throw err;
    }
    const places = query.rooms.length > 0 ? ask.places.filter((p) => query.rooms.includes(p)) : ask.places;
    if (places.length === 0) return Promise.resolve({ hits: [], next: undefined, ms: 0 });
    return this.searchSerial(async (index, db) => {
      const started = performance.now();
      let rows: Awaited<ReturnType<SearchIndex["find"]>>;
      try {
        rows = await index.find({ query, places, before, limit: ask.limit, cutoff: ask.cutoff });
      } catch (err) {
        if (!db.timedOut(err)) throw err;
        return {
          refused: "too_long",
          why: "the search ran too long: add words, or narrow it with in:, from: or a date",
          ms: performance.now() - started,
        };
      }
      const page = rows.slice(0, ask.limit);
      const last = page.at(-1);
      return {
        hits: page.map(({ id: _, ...r }) => ({ ...r, matches: matchRanges(wordsOf(r.text), query) })),
        next:
          rows.length > ask.limit && last
            ? `${last.ts}.${last.place}.${last.mid}${last.id === undefined ? "" : `.${last.id}`}`
            : undefined,
        ms: performance.now() - started,
      };
    });
  }

  loadUser(uid: string, conversationsListed: number): Promise<KeptUser> {
    return this.serial(async () => {
      const [user] = await this.db.all<{ name: string | null }>("SELECT name FROM users WHERE uid = ?", [uid]);
      if (!user) return { name: undefined, rooms: [], conversations: [] };
      await this.db.run("UPDATE users SET last_used = ? WHERE uid = ?", [Date.now(), uid]);
      const rooms = await this.db.all<{ room: string }>("SELECT room FROM user_rooms WHERE uid = ? ORDER BY room", [
        uid,
      ]);
      const conversations = await this.db.all<{ other: string; name: string | null }>(
        "SELECT c.other, u.name FROM conversations c LEFT JOIN users u ON u.uid = c.other " +
          "WHERE c.uid = ? ORDER BY c.ts DESC LIMIT ?",
        [uid, conversationsListed],
      );
      return {
        name: user.name ?? undefined,
        rooms: rooms.map((r) => r.room),
        conversations: conversations.map((c) => ({ uid: c.other, name: c.name ?? c.other })),
      };
    });
  }

  /** A user is kept from its first write, and each write keeps it longer. */
  private async touch(uid: string): Promise<void> {
    const now = Date.now();
    await this.db.run(
      "INSERT INTO users (uid, created, last_used) VALUES (?, ?, ?) ON CONFLICT (uid) DO UPDATE SET last_used = excluded.last_used",
      [uid, now, now],
    );
  }

  setName(uid: string, name: string): Promise<void> {
    return this.serial(async () => {
      await this.touch(uid);
      await this.db.run("UPDATE users SET name = ? WHERE uid = ?", [name, uid]);
    });
  }

  nameOf(uid: string): Promise<string | undefined> {
    return this.serial(async () => {
      const [row] = await this.db.all<{ name: string | null }>("SELECT name FROM users WHERE uid = ?", [uid]);
      return row?.name ?? undefined;
    });
  }

  roomsOf(uid: string): Promise<string[]> {
    return this.serial(async () => {
      const rows = await this.db.all<{ room: string }>("SELECT room FROM user_rooms WHERE uid = ? ORDER BY room", [
        uid,
      ]);
      return rows.map((r) => r.room);
    });
  }

  addRoom(uid: string, room: string, most = 0): Promise<"added" | "already" | "refused"> {
    return this.serial(() =>
      this.db.transaction(async () => {
        await this.touch(uid);
        const [kept] = await this.db.all("SELECT 1 AS one FROM user_rooms WHERE uid = ? AND room = ?", [uid, room]);
        if (kept) return "already";
        const [row] = await this.db.all<{ n: number | string }>("SELECT count(*) AS n FROM user_rooms WHERE uid = ?", [
          uid,
        ]);
        if (most > 0 && num(row?.n) >= most) return "refused";
        await this.db.run("INSERT INTO user_rooms (uid, room) VALUES (?, ?)", [uid, room]);
        return "added";
      }),
    );
  }

  removeRoom(uid: string, room: string): Promise<void> {
    return this.serial(async () => {
      await this.touch(uid);
      await this.db.run("DELETE FROM user_rooms WHERE uid = ? AND room = ?", [uid, room]);
    });
  }

  touchConversation(a: string, b: string, ts: number): Promise<void> {
    return this.serial(() =>
      this.db.transaction(async () => {
        for (const [uid, other] of [
          [a, b],
          [b, a],
        ] as const) {
          await this.touch(uid);
          await this.db.run(
            "INSERT INTO conversations (uid, other, ts) VALUES (?, ?, ?) ON CONFLICT (uid, other) DO UPDATE SET ts = excluded.ts",
            [uid, other, ts],
          );
        }
      }),
    );
  }

  hasConversation(uid: string, other: string): Promise<boolean> {
    return this.serial(async () => {
      const rows = await this.db.all("SELECT 1 AS one FROM conversations WHERE uid = ? AND other = ?", [uid, other]);
      return rows.length > 0;
    });
  }

  readMark(uid: string, place: string): Promise<{ epoch: string; mid: number } | undefined> {
    return this.serial(async () => {
      const [row] = await this.db.all<{ epoch: string; mid: number | string }>(
        "SELECT epoch, mid FROM read_marks WHERE uid = ? AND place = ?",
        [uid, place],
      );
      return row && { epoch: row.epoch, mid: num(row.mid) };
    });
  }

  setReadMark(uid: string, place: string, epoch: string, mid: number): Promise<void> {
    return this.serial(async () => {
      await this.touch(uid);
      await this.db.run(
        "INSERT INTO read_marks (uid, place, epoch, mid) VALUES (?, ?, ?, ?) " +
          "ON CONFLICT (uid, place) DO UPDATE SET epoch = excluded.epoch, mid = excluded.mid",
        [uid, place, epoch, mid],
      );
    });
  }

  forgetUsers(before: number): Promise<number> {
    return this.serial(() =>
      this.db.transaction(async () => {
        const gone = await this.db.all<{ uid: string }>("SELECT uid FROM users WHERE last_used < ?", [before]);
        for (const { uid } of gone) {
          for (const table of ["user_rooms", "conversations", "read_marks", "users"]) {
            await this.db.run(`DELETE FROM ${table} WHERE uid = ?`, [uid]);
          }
        }
        return gone.length;
      }),
    );
  }

  setting(name: string, proposed: string): Promise<string> {
    return this.serial(async () => {
      await this.db.run("INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", [
        name,
        proposed,
      ]);
      const [row] = await this.db.all<{ value: string }>("SELECT value FROM settings WHERE name = ?", [name]);
      return row?.value ?? proposed;
    });
  }

  ping(): Promise<void> {
    return this.serial(() => this.db.run("SELECT 1"));
  }

  sql<T>(fn: (db: SqlDriver) => Promise<T>): Promise<T> {
    return this.serial(() => fn(this.db));
  }

  async close(): Promise<void> {
    const own = this.searching;
    if (own) await this.searchSerial(() => own.db.close());
    await this.serial(() => this.db.close());
  }
}
