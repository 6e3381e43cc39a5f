/**
 * Search in the archive, case for case on both engines: the embedded SQLite
 * file and a real PostgreSQL 15 cluster. Every operator of the query
 * language, accents and case, edits and deletions, paging, and a fuzz of
 * generated queries that must never fail nor widen what is found.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Archive, ArchivedHit, SearchAnswer } from "../src/archive/archive.js";
import { MIGRATIONS, type Migration, migrationSql, SEARCH_STEP, WORDS_STEP } from "../src/archive/migrations.js";
import { openArchive, SEARCH_TIMEOUT_MS } from "../src/archive/open-archive.js";
import { placeToken } from "../src/archive/search-index.js";
import { parseQuery, type SearchQuery, type Term } from "../src/archive/search-query.js";
import { wordsOf } from "../src/archive/search-text.js";
import { type PostgresProcess, startPostgres } from "./support/postgres.js";
import { perTest } from "./support/scope.js";

const scope = perTest();

interface Engine {
  archive: Archive;
  rows(sql: string): Promise<Record<string, unknown>[]>;
}

/** A database as the release before search left it, holding one message and one deleted message; then opened. */
const beforeSearch: Record<string, () => Promise<Archive>> = {
  SQLite: async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "chat-search-old-"));
    scope.defer(() => rmSync(dir, { recursive: true, force: true }));
    const db = new Database(path.join(dir, "chat.sqlite"));
    olderSchema("SQLite").forEach((sql, i) => {
      if (i === 0) db.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)");
      db.exec(sql);
      db.prepare("INSERT INTO schema_migrations VALUES (?, 0)").run(i + 1);
    });
    for (const row of oldRows) db.prepare(OLD_INSERT).run(...row.map((v) => (typeof v === "boolean" ? Number(v) : v)));
    db.close();
    const archive = await openArchive({ kind: "embedded", dataDir: dir });
    scope.defer(() => archive.close());
    return archive;
  },
  PostgreSQL: () => olderPostgres(SEARCH_STEP),
};

/**
 * A PostgreSQL database as the release before `step` left it, holding one
 * message and one deleted message (and what `then` adds); then opened.
 */
async function olderPostgres(step: Migration, then: string[] = []): Promise<Archive> {
  const database = `search_old_${++databases}`;
  const url = await postgres.createDatabase(database);
  const db = await postgres.client(database);
  await db.query("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)");
  for (const [i, sql] of olderSchema("PostgreSQL", step).entries()) {
    await db.query(sql);
    await db.query("INSERT INTO schema_migrations VALUES ($1, 0)", [i + 1]);
  }
  for (const row of oldRows) {
    let n = 0;
    await db.query(
      OLD_INSERT.replace(/\?/g, () => `$${++n}`),
      row,
    );
  }
  for (const sql of then) await db.query(sql);
  await db.end();
  const archive = await openArchive({ kind: "postgres", url, connectTimeoutMs: 5000 });
  scope.defer(() => archive.close());
  return archive;
}

const olderSchema = (engine: string, step = SEARCH_STEP) =>
  MIGRATIONS.slice(0, MIGRATIONS.indexOf(step)).map((m) => migrationSql(m, engine));
const OLD_INSERT = "INSERT INTO messages (place, mid, uid, ts, text, deleted, json) VALUES (?, ?, ?, ?, ?, ?, ?)";
const oldRows = [
  [
    "dev",
    1,
    "u-Ada",
    1000,
    "kept before search existed",
    false,
    JSON.stringify({
      action: "message",
      mid: 1,
      room: "dev",
      message: "kept before search existed",
      id: "c",
      uid: "u-Ada",
      name: "Ada",
      ts: 1000,
    }),
  ],
  [
    "dev",
    2,
    "u-Ada",
    2000,
    null,
    true,
    JSON.stringify({
      action: "message",
      mid: 2,
      room: "dev",
      message: "",
      id: "c",
      uid: "u-Ada",
      name: "Ada",
      ts: 2000,
    }),
  ],
];

let postgres: PostgresProcess;
let databases = 0;
beforeAll(async () => {
  postgres = await startPostgres();
});
afterAll(() => postgres?.remove());

const engines: Record<string, () => Promise<Engine>> = {
  SQLite: async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "chat-search-"));
    const archive = await openArchive({ kind: "embedded", dataDir: dir });
    const db = new Database(path.join(dir, "chat.sqlite"));
    db.exec("CREATE VIRTUAL TABLE temp.search_vocab USING fts5vocab(main, 'search_fts', 'row')");
    scope.defer(() => rmSync(dir, { recursive: true, force: true }));
    scope.defer(() => archive.close());
    scope.defer(() => db.close());
    return { archive, rows: async (sql) => db.prepare(sql).all() as Record<string, unknown>[] };
  },
  PostgreSQL: async () => {
    const database = `search_${++databases}`;
    const url = await postgres.createDatabase(database);
    const archive = await openArchive({ kind: "postgres", url, connectTimeoutMs: 5000 });
    scope.defer(() => archive.close());
    const client = await postgres.client(database);
    scope.defer(() => client.end());
    return { archive, rows: async (sql) => (await client.query(sql)).rows as Record<string, unknown>[] };
  },
};

const DAY = 86_400_000;
/** 2026-11-01T00:00Z: the test's messages are written a day apart from there. */
const T0 = Date.UTC(2026, 10, 1);

interface Said {
  place: string;
  mid: number;
  text: string;
  name?: string;
  ts?: number;
}

function entry({ place, mid, text, name = "Ada", ts = T0 + mid * 1000 }: Said) {
  const frame = { action: "message", mid, room: place, message: text, id: "c1", uid: `u-${name}`, name, ts };
  return { mid, ts, json: JSON.stringify(frame) };
}

async function say(archive: Archive, said: Said): Promise<void> {
  await archive.append(said.place, "e1", entry(said));
}

function hits(answer: SearchAnswer): ArchivedHit[] {
  if ("refused" in answer) throw new Error(`refused ${answer.refused}: ${answer.why}`);
  return answer.hits;
}

/** Whether a message of Ada's in #dev is what `query` asks for, worked out without a database. */
function means(query: SearchQuery, m: { text: string; ts: number }): boolean {
  const words = wordsOf(m.text).map((w) => w.word);
  const has = (t: Term) =>
    t.kind === "word"
      ? words.some((w) => w.startsWith(t.word))
      : words.some((_, i) => t.words.every((x, k) => words[i + k] === x));
  return (
    query.must.every(has) &&
    !query.not.some(has) &&
    (query.from.length === 0 || query.from.includes("ada")) &&
    (query.rooms.length === 0 || query.rooms.includes("dev")) &&
    m.ts >= (query.after ?? 0) &&
    m.ts < (query.before ?? Number.POSITIVE_INFINITY)
  );
}

const search = async (archive: Archive, q: string, places = ["dev", "ops"], extra = {}) =>
  archive.search({ q, places, before: undefined, limit: 20, cutoff: 0, ...extra });

const texts = async (archive: Archive, q: string, places?: string[]) =>
  hits(await search(archive, q, places)).map((h) => h.text);

describe.each(Object.keys(engines))("search on %s", (name) => {
  const open = () => (engines[name] as () => Promise<Engine>)();

  it("indexes what an older database kept when it is brought forward", async () => {
    const archive = await (beforeSearch[name] as () => Promise<Archive>)();
    const [hit] = hits(await search(archive, "existed from:ada"));
    expect(hit).toMatchObject({ place: "dev", mid: 1, text: "kept before search existed" });
    expect(hits(await search(archive, "kept"))).toHaveLength(1);
  });

  it("finds messages with every word, by prefix, whatever their accents and case, newest first", async () => {
    const { archive } = await open();
    await say(archive, { place: "dev", mid: 1, text: "Le CAFÉ est prêt" });
    await say(archive, { place: "dev", mid: 2, text: "cafe au lait, deployed" });
    await say(archive, { place: "ops", mid: 1, text: "deploying the café", ts: T0 + 5000 });
    await say(archive, { place: "dev", mid: 3, text: "tea only" });
    expect(await texts(archive, "café")).toEqual(["deploying the café", "cafe au lait, deployed", "Le CAFÉ est prêt"]);
    expect(await texts(archive, "CAFE deploy")).toEqual(["deploying the café", "cafe au lait, deployed"]);
    expect(await texts(archive, "pret")).toEqual(["Le CAFÉ est prêt"]);
    expect(await texts(archive, "coffee")).toEqual([]);
    const [hit] = hits(await search(archive, "caf prê"));
    expect(hit).toMatchObject({ place: "dev", mid: 1, text: "Le CAFÉ est prêt" });
    // Each word's whole run in the original text: what the web client highlights.
    expect(hit?.matches).toEqual([
      [3, 7],
      [12, 16],
    ]);
    expect(JSON.parse(hit?.json ?? "{}")).toMatchObject({ uid: "u-Ada", name: "Ada", id: "c1" });
  });

  it('finds an "exact phrase" and leaves out -words and -"phrases"', async () => {
    const { archive } = await open();
    await say(archive, { place: "dev", mid: 1, text: "the build is green" });
    await say(archive, { place: "dev", mid: 2, text: "green is the build" });
    await say(archive, { place: "dev", mid: 3, text: "the build is green on staging" });
    await say(archive, { place: "dev", mid: 4, text: "build is greenish" });
    expect(await texts(archive, '"build is green"')).toEqual(["the build is green on staging", "the build is green"]);
    expect(await texts(archive, '"build is green" -staging')).toEqual(["the build is green"]);
    // "greenish" is not the word "green": a phrase's words are whole.
    expect(await texts(archive, 'build -"is green"')).toEqual(["build is greenish", "green is the build"]);
    expect(await texts(archive, "build -stag -greeni")).toEqual(["green is the build", "the build is green"]);
    const [hit] = hits(await search(archive, '"BUILD is green" staging'));
    expect(hit?.matches).toEqual([
      [4, 18],
      [22, 29],
    ]);
  });

  it("narrows with from:, in:#room, after: and before:", async () => {
    const { archive } = await open();
    await say(archive, { place: "dev", mid: 1, text: "release notes", name: "Ada Lovelace", ts: T0 });
    await say(archive, { place: "dev", mid: 2, text: "release party", name: "Bob", ts: T0 + DAY });
    await say(archive, { place: "ops", mid: 1, text: "release train", name: "Bob", ts: T0 + 2 * DAY });
    expect(await texts(archive, "release from:bob")).toEqual(["release train", "release party"]);
    expect(await texts(archive, 'release from:"ada lovelace"')).toEqual(["release notes"]);
    expect(await texts(archive, "release from:ada")).toEqual([]);
    expect(await texts(archive, "release in:#dev")).toEqual(["release party", "release notes"]);
    expect(await texts(archive, "release in:ops")).toEqual(["release train"]);
    expect(await texts(archive, "release after:2026-11-02")).toEqual(["release train", "release party"]);
    expect(await texts(archive, "release before:2026-11-02")).toEqual(["release notes"]);
    expect(await texts(archive, "release after:2026-11-02 before:2026-11-03")).toEqual(["release party"]);
    // in: never reaches past what the person may read.
    expect(await texts(archive, "release in:ops", ["dev"])).toEqual([]);
  });

  it("refuses a query too long, one without a word to find, and a date that is not one", async () => {
    const { archive } = await open();
    const refusal = async (q: string) => {
      const answer = await search(archive, q);
      return "refused" in answer ? answer.refused : "answered";
    };
    expect(await refusal("a".repeat(257))).toBe("too_long");
    expect(await refusal("a".repeat(256))).toBe("answered");
    for (const q of ["", "   ", "from:ada", "in:#dev", "-word", '-"two words"', "after:2026-11-01", "&|!()", '""']) {
      expect(await refusal(q), q).toBe("empty");
    }
    for (const q of ["x after:2026-13-01", "x before:yesterday", "x after:2026-02-30"]) {
      expect(await refusal(q), q).toBe("bad_request");
    }
    expect((await search(archive, "x", ["dev"], { before: "1.dev" })) as unknown).toMatchObject({
      refused: "bad_request",
    });
  });

  it("bounds what one query costs: repeats dropped, 16 words at most, one letter a word of its own, 100 matches a hit", async () => {
    const { archive } = await open();
    await say(archive, { place: "dev", mid: 1, text: "a plan for x" });
    await say(archive, { place: "dev", mid: 2, text: "apple pie" });
    await say(archive, { place: "dev", mid: 3, text: Array.from({ length: 300 }, () => "ab").join(" ") });
    // One letter is that word, not every word it begins; two letters are a prefix again.
    expect(await texts(archive, "a")).toEqual(["a plan for x"]);
    expect(await texts(archive, "ap")).toEqual(["apple pie"]);
    expect(await texts(archive, "plan -x")).toEqual([]);
    // A hundred of the same word, or of the same exclusion, are one.
    expect(await texts(archive, `plan ${"-a ".repeat(120)}`.slice(0, 256))).toEqual([]);
    expect(await texts(archive, "pie ".repeat(64))).toEqual(["apple pie"]);
    const words = Array.from({ length: 17 }, (_, i) => `w${i}`);
    const refused = await search(archive, words.join(" "));
    expect(refused).toMatchObject({ refused: "bad_request" });
    expect("why" in refused ? refused.why : "").toMatch(/at most 16 words/);
    expect(await search(archive, words.slice(1).join(" "))).toMatchObject({ hits: [] });
    expect(await search(archive, `"${words.slice(0, 9).join(" ")}" ${words.slice(9).join(" ")}`)).toMatchObject({
      refused: "bad_request",
    });
    // A message of 300 matches is highlighted in its first 100.
    const [hit] = hits(await search(archive, "ab"));
    expect(hit?.matches).toHaveLength(100);
    expect(hit?.matches[99]).toEqual([297, 299]);
  });

  it("searches an edit's new text only, and never a deleted message; the index keeps neither", async () => {
    const { archive, rows } = await open();
    await say(archive, { place: "dev", mid: 1, text: "my password is hunter2" });
    await say(archive, { place: "dev", mid: 2, text: "the first draft" });
    const change = (mid: number, f: Record<string, unknown>) => ({
      mid,
      ts: T0 + mid * 1000,
      json: JSON.stringify({ mid, room: "dev", uid: "u-Ada", name: "Ada", id: "c1", ts: T0 + mid * 1000, ...f }),
    });
    await archive.append("dev", "e1", change(3, { action: "edit", target: 2, message: "the final text" }));
    await archive.append("dev", "e1", change(4, { action: "delete", target: 1 }));
    expect(await texts(archive, "hunter2")).toEqual([]);
    expect(await texts(archive, "password")).toEqual([]);
    expect(await texts(archive, "draft")).toEqual([]);
    expect(await texts(archive, "final")).toEqual(["the final text"]);
    if (name === "PostgreSQL") {
      expect(await rows("SELECT mid, words::text AS w FROM messages ORDER BY mid")).toEqual([
        { mid: "1", w: null },
        { mid: "2", w: "'final':2 'text':3 'the':1" },
      ]);
    } else {
      // The FTS5 index's own terms (fts5vocab): none of the deleted or replaced text is left in it.
      const terms = (await rows("SELECT term FROM search_vocab")).map((r) => r.term);
      expect(terms.sort()).toEqual(["final", placeToken("dev"), "text", "the"]);
    }
  });

  it("pages newest first with `next`, each hit once", async () => {
    const { archive } = await open();
    for (let mid = 1; mid <= 25; mid++) {
      // Two places at the same time: the cursor orders ties too.
      await say(archive, { place: mid % 2 ? "dev" : "ops", mid, text: `ping ${mid}`, ts: T0 + Math.floor(mid / 2) });
    }
    const seen: string[] = [];
    let before: string | undefined;
    let pages = 0;
    do {
      const answer = await search(archive, "ping", ["dev", "ops"], { before, limit: 7 });
      if ("refused" in answer) throw new Error(answer.why);
      seen.push(...answer.hits.map((h) => `${h.place}:${h.mid}`));
      before = answer.next;
      pages++;
    } while (before !== undefined);
    expect(pages).toBe(4);
    expect(new Set(seen).size).toBe(25);
    const order = hits(await search(archive, "ping", ["dev", "ops"], { limit: 25 })).map((h) => `${h.place}:${h.mid}`);
    expect(seen).toEqual(order);
  });

  it("takes anything typed as text: generated queries never fail and never find outside their places", async () => {
    const { archive } = await open();
    const words = ["alpha", "beta", "café", "o'neil", "100%", "a_b", "x\\y", "c:d", "e&f", "g|h", "!(i)", "ÉTÉ"];
    const stored: { mid: number; text: string; ts: number }[] = [];
    for (let mid = 1; mid <= words.length; mid++) {
      const text = `${words[mid - 1]} ${words[(mid * 7) % words.length]}`;
      await say(archive, { place: "dev", mid, text });
      stored.push({ mid, text, ts: T0 + mid * 1000 });
      await say(archive, { place: "secret", mid, text: `${words[mid - 1]} hidden` });
    }
    // A seeded generator (xorshift), so a failure can be replayed.
    let seed = 0x2f6b1a3d;
    const next = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    const pieces = [
      ...words,
      "'",
      '"',
      "%",
      "_",
      "\\",
      ":",
      "&",
      "|",
      "!",
      "(",
      ")",
      "*",
      "<->",
      ":*",
      "-",
      "--",
      "from:",
      "in:#",
      "in:#secret",
      "after:",
      "before:2026-11-01",
      "NEAR(",
      "AND",
      "OR",
      "NOT",
      "^",
      ".*",
      "[a-z]+",
      "$1",
      "?",
      ";DROP TABLE messages;--",
      "' OR '1'='1",
      "{body}:",
      "place:",
      "+",
      "\u0000",
      "🎉",
      " ",
    ];
    let answered = 0;
    for (let n = 0; n < 400; n++) {
      const parts = Array.from(
        { length: 1 + Math.floor(next() * 6) },
        () => pieces[Math.floor(next() * pieces.length)],
      );
      const q = parts.join(next() < 0.5 ? " " : "");
      const answer = await search(archive, q, ["dev"]);
      if ("refused" in answer) {
        expect(["empty", "bad_request", "too_long"], q).toContain(answer.refused);
        continue;
      }
      answered++;
      // What the query means, worked out here from the same tree: the engine found exactly that.
      const query = parseQuery(q);
      const expected = stored.filter((m) => means(query, m)).map((m) => m.mid);
      expect(
        answer.hits.map((h) => h.mid).sort((a, b) => a - b),
        q,
      ).toEqual(expected);
    }
    expect(answered).toBeGreaterThan(100);
  });
});

describe("search on PostgreSQL, on a connection of its own", () => {
  it("cancels a search past SEARCH_TIMEOUT_MS with too_long, and holds up nothing else meanwhile", async () => {
    const database = `search_${++databases}`;
    const url = await postgres.createDatabase(database);
    const archive = await openArchive({ kind: "postgres", url, connectTimeoutMs: 5000 });
    scope.defer(() => archive.close());
    await say(archive, { place: "dev", mid: 1, text: "the slow search" });
    // Another session holds the messages table: a search waits for it, and waiting counts as running.
    const locker = await postgres.client(database);
    scope.defer(() => locker.end());
    await locker.query("BEGIN");
    await locker.query("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE");
    const started = performance.now();
    const slow = search(archive, "slow");
    // The archive's own statements go on meanwhile, on the archive's connection.
    expect(await archive.place("dev")).toMatchObject({ top: 1 });
    expect(performance.now() - started).toBeLessThan(SEARCH_TIMEOUT_MS / 2);
    const answer = await slow;
    expect(answer).toMatchObject({ refused: "too_long", why: expect.stringMatching(/ran too long/) });
    expect("refused" in answer ? answer.ms : 0).toBeGreaterThanOrEqual(SEARCH_TIMEOUT_MS - 100);
    await locker.query("ROLLBACK");
    expect(await texts(archive, "slow")).toEqual(["the slow search"]);
  });
});

describe("search on PostgreSQL, brought forward from search_docs", () => {
  it("moves each message's words into its row and drops search_docs; what was found is found still", async () => {
    // As the release before WORDS_STEP indexed the kept message: its row in search_docs, nothing in messages.
    const archive = await olderPostgres(WORDS_STEP, [
      "INSERT INTO search_docs (place, mid, ts, sender, words) VALUES " +
        "('dev', 1, 1000, 'ada', $$'kept':1 'before':2 'search':3 'existed':4$$::tsvector)",
    ]);
    const [hit] = hits(await search(archive, "existed from:ada"));
    expect(hit).toMatchObject({ place: "dev", mid: 1, text: "kept before search existed" });
    const rows = await archive.sql((db) =>
      db.all<{ mid: string; sender: string | null; words: string | null }>(
        "SELECT mid, sender, words::text AS words FROM messages ORDER BY mid",
      ),
    );
    expect(rows).toEqual([
      { mid: "1", sender: "ada", words: "'before':2 'existed':4 'kept':1 'search':3" },
      { mid: "2", sender: null, words: null },
    ]);
    const tables = await archive.sql((db) =>
      db.all("SELECT 1 AS one FROM information_schema.tables WHERE table_name = 'search_docs'"),
    );
    expect(tables).toEqual([]);
  });
});
