import { createHash } from "node:crypto";
import { ftsMatch, type SearchQuery, tsQuery } from "./search-query.js";
import { indexedText, nameKey, tsvectorText } from "./search-text.js";
import { placeholders, ROWS_PER_STATEMENT, type SqlDriver } from "./sql-driver.js";

/** A message as the index takes it. */
export interface SearchDoc {
  place: string;
  mid: number;
  ts: number;
  senderName: string;
  text: string;
}

/** A message a search found, as the archive holds it now. */
export interface FoundRow {
  /** SQLite's rowid of it in the index; undefined on PostgreSQL. */
  id: number | undefined;
  place: string;
  mid: number;
  ts: number;
  text: string;
  edited: number | undefined;
  /** The message's frame as it was published: who sent it, and to whom. */
  json: string;
}

/**
 * Where a page of hits ends: the next page starts below it. PostgreSQL
 * orders by (ts, place, mid); SQLite by the index's rowid, which grows in the
 * order messages were stored (the embedded node stores each as it publishes
 * it, so that is their ts order too), and which lets FTS5 stop at the page's
 * end instead of sorting every match.
 */
export interface SearchCursor {
  ts: number;
  place: string;
  mid: number;
  /** SQLite's rowid. */
  id?: number | undefined;
}

export interface SearchPageAsk {
  query: SearchQuery;
  /** Where to look: already cut down to what the person may read. Never empty. */
  places: string[];
  before: SearchCursor | undefined;
  limit: number;
  /** Nothing written before this (ms) is kept any more (RETENTION_DAYS). */
  cutoff: number;
}

type Row = {
  id?: number;
  place: string;
  mid: number | string;
  ts: number | string;
  text: string | null;
  edited: number | string | null;
  json: string;
};

const num = (v: number | string) => Number(v);

/**
 * SQLite's tokenizer splits a room name such as `dev-ops` at its dash, which
 * would let `place : "dev-ops"` match `dev_ops` too: each place is indexed as
 * one token made of a hash of its name instead.
 */
export function placeToken(place: string): string {
  return `p${createHash("sha256").update(place).digest("hex").slice(0, 24)}`;
}

/**
 * PostgreSQL keeps what search needs of a message in the message's own row
 * (migration WORDS_STEP): its sender's name as `from:` compares it, and its
 * words as tsvector text, null when it has none.
 */
export function searchColumns(doc: SearchDoc): { sender: string; words: string | null } {
  const words = tsvectorText(doc.text);
  return { sender: nameKey(doc.senderName), words: words === "" ? null : words };
}

/**
 * The search index, in the engine's own full-text form: FTS5 beside the
 * messages on SQLite; on PostgreSQL a tsvector in each message's row with a
 * GIN index on (place, words). Its calls run inside the archive's turn (and
 * the caller's transaction, for writes).
 */
export class SearchIndex {
  private readonly postgres: boolean;

  constructor(private readonly db: SqlDriver) {
    this.postgres = db.engine === "PostgreSQL";
  }

  /**
   * Messages newly stored, in the caller's transaction. PostgreSQL's went in
   * with their rows (searchColumns). SQLite's take a few hundred rows a
   * statement, so that a carry pass of thousands of messages costs a handful
   * of round trips; it numbers them in the order given, which is the order
   * its hits come in.
   */
  async addMany(docs: SearchDoc[]): Promise<void> {
    if (this.postgres) return;
    const kept = docs.filter((d) => d.text !== "");
    for (let from = 0; from < kept.length; from += ROWS_PER_STATEMENT) {
      const chunk = kept.slice(from, from + ROWS_PER_STATEMENT);
      // A row already indexed returns nothing; RETURNING's order is not promised, so each id is matched by key.
      const rows = await this.db.all<{ id: number; place: string; mid: number }>(
        `INSERT INTO search_docs (place, mid, ts, sender) VALUES ${placeholders(chunk.length, 4)} ON CONFLICT DO NOTHING RETURNING id, place, mid`,
        chunk.flatMap((d) => [d.place, d.mid, d.ts, nameKey(d.senderName)]),
      );
      if (rows.length === 0) continue;
      const ids = new Map(rows.map((r) => [`${r.mid}\t${r.place}`, r.id]));
      const fts: unknown[] = [];
      for (const d of chunk) {
        const id = ids.get(`${d.mid}\t${d.place}`);
        if (id === undefined) continue;
        ids.delete(`${d.mid}\t${d.place}`);
        fts.push(id, placeToken(d.place), indexedText(d.text));
      }
      await this.db.run(`INSERT INTO search_fts (rowid, place, body) VALUES ${placeholders(fts.length / 3, 3)}`, fts);
    }
  }

  /**
   * Indexes every message kept and not deleted that the index lacks, a
   * thousand at a time: what a database held before its engine's index
   * existed (run by the migration that made it). SQLite's go oldest first,
   * as its hits come newest stored first.
   */
  async indexKept(): Promise<void> {
    type Kept = { place: string; mid: number | string; ts: number | string; text: string; json: string };
    const doc = (r: Kept): SearchDoc => {
      const { name } = JSON.parse(r.json) as { name?: unknown };
      const senderName = typeof name === "string" ? name : "";
      return { place: r.place, mid: num(r.mid), ts: num(r.ts), senderName, text: r.text ?? "" };
    };
    if (this.postgres) {
      let after = { place: "", mid: 0 };
      for (;;) {
        const rows = await this.db.all<Kept>(
          "SELECT place, mid, ts, text, json FROM messages WHERE words IS NULL AND deleted = FALSE " +
            "AND (place > ? OR (place = ? AND mid > ?)) ORDER BY place, mid LIMIT 1000",
          [after.place, after.place, after.mid],
        );
        const last = rows.at(-1);
        if (!last) return;
        const filled = rows.map(doc).map((d) => ({ place: d.place, mid: d.mid, ...searchColumns(d) }));
        await this.db.run(
          "UPDATE messages m SET sender = r.sender, words = r.words::tsvector " +
            "FROM json_to_recordset(?::json) AS r(place text, mid bigint, sender text, words text) " +
            "WHERE m.place = r.place AND m.mid = r.mid",
          [JSON.stringify(filled)],
        );
        after = { place: last.place, mid: num(last.mid) };
      }
    }
    let after = { ts: -1, place: "", mid: 0 };
    for (;;) {
      const rows = await this.db.all<Kept>(
        "SELECT place, mid, ts, text, json FROM messages WHERE deleted = FALSE " +
          "AND (ts > ? OR (ts = ? AND (place > ? OR (place = ? AND mid > ?)))) ORDER BY ts, place, mid LIMIT 1000",
        [after.ts, after.ts, after.place, after.place, after.mid],
      );
      await this.addMany(rows.map(doc));
      const last = rows.at(-1);
      if (!last) return;
      after = { ts: num(last.ts), place: last.place, mid: num(last.mid) };
    }
  }

  /** An edit: the new text is searched, and nothing of the old one. */
  async replace(place: string, mid: number, text: string): Promise<void> {
    if (this.postgres) {
      const { words } = searchColumns({ place, mid, ts: 0, senderName: "", text });
      await this.db.run("UPDATE messages SET words = ?::tsvector WHERE place = ? AND mid = ?", [words, place, mid]);
      return;
    }
    const [row] = await this.db.all<{ id: number }>("SELECT id FROM search_docs WHERE place = ? AND mid = ?", [
      place,
      mid,
    ]);
    if (!row) return;
    await this.db.run("DELETE FROM search_fts WHERE rowid = ?", [row.id]);
    await this.db.run("INSERT INTO search_fts (rowid, place, body) VALUES (?, ?, ?)", [
      row.id,
      placeToken(place),
      indexedText(text),
    ]);
  }

  async remove(place: string, mid: number): Promise<void> {
    if (this.postgres) {
      await this.db.run("UPDATE messages SET words = NULL WHERE place = ? AND mid = ?", [place, mid]);
      return;
    }
    await this.db.run(
      "DELETE FROM search_fts WHERE rowid IN (SELECT id FROM search_docs WHERE place = ? AND mid = ?)",
      [place, mid],
    );
    await this.db.run("DELETE FROM search_docs WHERE place = ? AND mid = ?", [place, mid]);
  }

  /** RETENTION_DAYS: what is purged from the messages (SqlArchive.purge) leaves the index too; on PostgreSQL, with their rows. */
  async purge(place: string, upTo: number, before: number): Promise<void> {
    if (this.postgres) return;
    const which = "SELECT id FROM search_docs WHERE place = ? AND mid < ? AND ts < ?";
    await this.db.run(`DELETE FROM search_fts WHERE rowid IN (${which})`, [place, upTo, before]);
    await this.db.run("DELETE FROM search_docs WHERE place = ? AND mid < ? AND ts < ?", [place, upTo, before]);
  }

  /** One page of hits, newest first; `limit + 1` rows, so the caller sees whether more follow. */
  find(ask: SearchPageAsk): Promise<FoundRow[]> {
    return this.postgres ? this.findPostgres(ask) : this.findSqlite(ask);
  }

  /**
   * The planner takes the GIN index, or walks the time index newest first
   * when the words are common enough to fill a page soon (docs/performance.md,
   * "The plans").
   */
  private async findPostgres(ask: SearchPageAsk): Promise<FoundRow[]> {
    const { query } = ask;
    const where = ["m.place = ANY(?::text[])", "m.words @@ ?::tsquery", "m.deleted = FALSE"];
    const params: unknown[] = [ask.places, tsQuery(query)];
    narrow(query, ask.cutoff, "m", where, params);
    const c = ask.before;
    if (c) {
      where.push("(m.ts < ? OR (m.ts = ? AND (m.place < ? OR (m.place = ? AND m.mid < ?))))");
      params.push(c.ts, c.ts, c.place, c.place, c.mid);
    }
    params.push(ask.limit + 1);
    const rows = await this.db.all<Row>(
      "SELECT m.place, m.mid, m.ts, m.text, m.edited, m.json FROM messages m " +
        `WHERE ${where.join(" AND ")} ORDER BY m.ts DESC, m.place DESC, m.mid DESC LIMIT ?`,
      params,
    );
    return rows.map(found);
  }

  /** FTS5 answers in rowid order, which lets it stop at the page's end instead of sorting every match. */
  private async findSqlite(ask: SearchPageAsk): Promise<FoundRow[]> {
    const { query } = ask;
    const where = ["search_fts MATCH ?", "m.deleted = FALSE"];
    const params: unknown[] = [ftsMatch(query, ask.places.map(placeToken))];
    narrow(query, ask.cutoff, "d", where, params);
    if (ask.before) {
      where.push("f.rowid < ?");
      params.push(ask.before.id ?? 0);
    }
    params.push(ask.limit + 1);
    const rows = await this.db.all<Row>(
      "SELECT d.id, d.place, d.mid, d.ts, m.text, m.edited, m.json FROM search_fts f JOIN search_docs d ON d.id = f.rowid " +
        "JOIN messages m ON m.place = d.place AND m.mid = d.mid " +
        `WHERE ${where.join(" AND ")} ORDER BY f.rowid DESC LIMIT ?`,
      params,
    );
    return rows.map(found);
  }
}

/** What both engines narrow a search by: its time (retention's cutoff, after:, before:) and from:, on the table aliased `t`. */
function narrow(query: SearchQuery, cutoff: number, t: string, where: string[], params: unknown[]): void {
  where.push(`${t}.ts >= ?`);
  params.push(Math.max(cutoff, query.after ?? 0));
  if (query.before !== undefined) {
    where.push(`${t}.ts < ?`);
    params.push(query.before);
  }
  if (query.from.length > 0) {
    where.push(`${t}.sender IN (${query.from.map(() => "?").join(", ")})`);
    params.push(...query.from);
  }
}

const found = (r: Row): FoundRow => ({
  id: r.id,
  place: r.place,
  mid: num(r.mid),
  ts: num(r.ts),
  text: r.text ?? "",
  edited: r.edited === null ? undefined : num(r.edited),
  json: r.json,
});
