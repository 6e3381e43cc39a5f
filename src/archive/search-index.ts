import { createHash } from "node:crypto";
import { ftsMatch, type SearchQuery, tsQuery } from "./search-query.js";
import { indexedText, nameKey, tsvectorText } from "./search-text.js";
import { insertJsonRows, placeholders, ROWS_PER_STATEMENT, type SqlDriver } from "./sql-driver.js";

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
 * The search index beside the messages, in the engine's own full-text form:
 * FTS5 on SQLite, a tsvector with a GIN index on PostgreSQL. Its calls run
 * inside the archive's turn (and the caller's transaction, for writes).
 */
export class SearchIndex {
  private readonly postgres: boolean;

  constructor(private readonly db: SqlDriver) {
    this.postgres = db.engine === "PostgreSQL";
  }

  /**
   * Messages newly stored, in the caller's transaction: one statement on
   * PostgreSQL, a few hundred rows a statement on SQLite, so that a carry
   * pass of thousands of messages costs a handful of round trips here too.
   * SQLite numbers the rows in the order given, which is the order its hits
   * come in.
   */
  async addMany(docs: SearchDoc[]): Promise<void> {
    const kept = docs.filter((d) => d.text !== "");
    if (kept.length === 0) return;
    if (this.postgres) {
      const rows = kept.map((d) => ({
        place: d.place,
        mid: d.mid,
        ts: d.ts,
        sender: nameKey(d.senderName),
        words: tsvectorText(d.text),
      }));
      const columns: [string, string][] = [
        ["place", "text"],
        ["mid", "bigint"],
        ["ts", "bigint"],
        ["sender", "text"],
        ["words", "text"],
      ];
      await insertJsonRows(this.db, "search_docs", columns, rows, { words: "::tsvector" });
      return;
    }
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

  /** An edit: the new text is searched, and nothing of the old one. */
  async replace(place: string, mid: number, text: string): Promise<void> {
    if (this.postgres) {
      await this.db.run("UPDATE search_docs SET words = ?::tsvector WHERE place = ? AND mid = ?", [
        tsvectorText(text),
        place,
        mid,
      ]);
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
    if (!this.postgres) {
      await this.db.run(
        "DELETE FROM search_fts WHERE rowid IN (SELECT id FROM search_docs WHERE place = ? AND mid = ?)",
        [place, mid],
      );
    }
    await this.db.run("DELETE FROM search_docs WHERE place = ? AND mid = ?", [place, mid]);
  }

  /** RETENTION_DAYS: what is purged from the messages leaves the index too. */
  async purge(place: string, before: number): Promise<void> {
    if (!this.postgres) {
      await this.db.run(
        "DELETE FROM search_fts WHERE rowid IN (SELECT id FROM search_docs WHERE place = ? AND ts < ?)",
        [place, before],
      );
    }
    await this.db.run("DELETE FROM search_docs WHERE place = ? AND ts < ?", [place, before]);
  }

  /** One page of hits, newest first; `limit + 1` rows, so the caller sees whether more follow. */
  async find(ask: SearchPageAsk): Promise<FoundRow[]> {
    const { query } = ask;
    const where: string[] = ["m.deleted = FALSE", "d.ts >= ?"];
    const params: unknown[] = [];
    let from: string;
    let order: string;
    if (this.postgres) {
      from = "search_docs d";
      order = "d.ts DESC, d.place DESC, d.mid DESC";
      where.unshift("d.place = ANY(?::text[])", "d.words @@ ?::tsquery");
      params.push(ask.places, tsQuery(query));
    } else {
      from = "search_fts f JOIN search_docs d ON d.id = f.rowid";
      order = "f.rowid DESC";
      where.unshift("search_fts MATCH ?");
      params.push(ftsMatch(query, ask.places.map(placeToken)));
    }
    params.push(Math.max(ask.cutoff, query.after ?? 0));
    if (query.before !== undefined) {
      where.push("d.ts < ?");
      params.push(query.before);
    }
    if (query.from.length > 0) {
      where.push(`d.sender IN (${query.from.map(() => "?").join(", ")})`);
      params.push(...query.from);
    }
    const c = ask.before;
    if (c && this.postgres) {
      where.push("(d.ts < ? OR (d.ts = ? AND (d.place < ? OR (d.place = ? AND d.mid < ?))))");
      params.push(c.ts, c.ts, c.place, c.place, c.mid);
    } else if (c) {
      where.push("f.rowid < ?");
      params.push(c.id ?? 0);
    }
    params.push(ask.limit + 1);
    const rows = await this.db.all<Row>(
      `SELECT ${this.postgres ? "" : "d.id, "}d.place, d.mid, d.ts, m.text, m.edited, m.json FROM ${from} ` +
        "JOIN messages m ON m.place = d.place AND m.mid = d.mid " +
        `WHERE ${where.join(" AND ")} ORDER BY ${order} LIMIT ?`,
      params,
    );
    return rows.map((r) => ({
      id: r.id,
      place: r.place,
      mid: num(r.mid),
      ts: num(r.ts),
      text: r.text ?? "",
      edited: r.edited === null ? undefined : num(r.edited),
      json: r.json,
    }));
  }
}
