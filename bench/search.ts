/**
 * Search's figures (issue 24): over 1,000,000 messages in 1,000 rooms,
 * seeded straight into each database, a user in 20 of them searches through
 * a node: p95 of a one-word query, of a phrase, and of `history {around}`;
 * the plans each engine chose (EXPLAIN); and the CPU ten connections take
 * searching as fast as the default RATE_LIMIT lets them.
 * Run `npm run build` first. `npm run bench:search -- --engines sqlite --per-room 200`.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import WebSocket from "ws";
import { type Postgres, startPostgres } from "./postgres.js";
import { cpuMicros } from "./proc-stats.js";
import { startNodeServer } from "./procs.js";
import { progress, progressDone } from "./progress.js";
import { shippedNodeFlags } from "./targets.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const server = path.join(root, "dist/server.js");

const { values: opts } = parseArgs({
  options: {
    engines: { type: "string", default: "postgres,sqlite" },
    rooms: { type: "string", default: "1000" },
    "per-room": { type: "string", default: "1000" },
    queries: { type: "string", default: "300" },
    "load-seconds": { type: "string", default: "20" },
  },
});
const ROOMS = Number(opts.rooms);
const PER_ROOM = Number(opts["per-room"]);
const QUERIES = Number(opts.queries);
/** The user's rooms: 20, spread over all of them. */
const MINE = Array.from({ length: 20 }, (_, i) => `s${Math.floor((i * ROOMS) / 20)}`);

const UNLIMITED = {
  LOG_LEVEL: "warn",
  RATE_LIMIT: "0",
  MAX_CONNECTIONS_PER_IP: "0",
  WRITE_BYTES_PER_USER: "0",
  WRITE_BYTES_PER_IP: "0",
  NEW_GUESTS_PER_IP: "0",
  MAX_ROOMS_PER_CONNECTION: "20",
};

/** xorshift: the same messages and queries on every run and engine. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

// A vocabulary of made-up lowercase ASCII words, drawn by Zipf's law as words of a language are:
// a few very common, most rare. Lowercase ASCII is already folded, so the engines' own word lists
// match what the server folds (search-text.ts), and the seed can go straight into SQL.
const SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ti", "sa", "po", "de", "fu", "gi", "ha", "jo", "ve", "zu", "bri"];
const VOCABULARY = Array.from({ length: 20_000 }, (_, i) => {
  let w = "";
  let n = i + SYLLABLES.length;
  while (n > 0) {
    w += SYLLABLES[n % SYLLABLES.length];
    n = Math.floor(n / SYLLABLES.length);
  }
  return w;
});
const ZIPF = (() => {
  const cumulative = new Float64Array(VOCABULARY.length);
  let sum = 0;
  for (let r = 0; r < VOCABULARY.length; r++) cumulative[r] = sum += 1 / (r + 1);
  return cumulative.map((c) => c / sum);
})();
function word(next: () => number): string {
  const x = next();
  let lo = 0;
  let hi = ZIPF.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((ZIPF[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return VOCABULARY[lo] as string;
}

interface Seeded {
  place: string;
  mid: number;
  ts: number;
  text: string;
  json: string;
}

/** Every message, oldest first, in batches (a million rows do not fit one statement). */
function* messages(batch: number): Generator<Seeded[]> {
  const next = random(0x5eed);
  const now = Date.now();
  let out: Seeded[] = [];
  // In the order they would have been said: each room's next message in turn, times rising.
  for (let mid = 1; mid <= PER_ROOM; mid++) {
    for (let r = ROOMS - 1; r >= 0; r--) {
      const place = `s${r}`;
      const text = Array.from({ length: 4 + Math.floor(next() * 10) }, () => word(next)).join(" ");
      const ts = now - ((PER_ROOM - mid) * ROOMS + (ROOMS - r)) * 10;
      const json = JSON.stringify({
        action: "message",
        mid,
        room: place,
        message: text,
        id: "seed",
        uid: "g-seed",
        name: "Seed",
        ts,
      });
      out.push({ place, mid, ts, text, json });
      if (out.length === batch) {
        yield out;
        out = [];
      }
    }
  }
  if (out.length > 0) yield out;
}

const SEED_EPOCH = "5eed0002";

async function seedPostgres(pgsql: Postgres): Promise<void> {
  const c = await pgsql.client();
  try {
    const now = Date.now();
    await c.query(
      "INSERT INTO places (place, epoch, top, created, last_active) SELECT 's' || r, $1, $2::bigint, $3::bigint, $3::bigint FROM generate_series(0, $4::int - 1) r",
      [SEED_EPOCH, PER_ROOM, now, ROOMS],
    );
    // Indexes are dropped while a million rows go in, and built once after: as a restore would.
    await c.query("DROP INDEX messages_words");
    let n = 0;
    for (const rows of messages(5000)) {
      const col = <K extends keyof Seeded>(k: K) => rows.map((r) => r[k]);
      // 'simple' over lowercase ASCII words with one space between: the words and positions the server writes.
      await c.query(
        "INSERT INTO messages (place, mid, uid, ts, text, json, sender, words) SELECT p, m, 'g-seed', t, x, j, 'seed', to_tsvector('simple', x) FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[]) AS u(p, m, t, x, j)",
        [col("place"), col("mid"), col("ts"), col("text"), col("json")],
      );
      n += rows.length;
      if (n % 50_000 === 0) progress(`postgres: seeded ${n}`);
    }
    progress("postgres: building the GIN index");
    await c.query("CREATE INDEX messages_words ON messages USING GIN (place, words) WHERE words IS NOT NULL");
    await c.query("ANALYZE");
    progressDone();
  } finally {
    await c.end();
  }
}

/** The server's token for a place in the FTS5 index (search-index.ts placeToken), written out here: bench imports nothing of src. */
const placeToken = (place: string) => `p${createHash("sha256").update(place).digest("hex").slice(0, 24)}`;

function seedSqlite(file: string): void {
  const db = new Database(file);
  try {
    const now = Date.now();
    const place = db.prepare("INSERT INTO places (place, epoch, top, created, last_active) VALUES (?, ?, ?, ?, ?)");
    const message = db.prepare("INSERT INTO messages (place, mid, uid, ts, text, json) VALUES (?, ?, ?, ?, ?, ?)");
    const doc = db.prepare("INSERT INTO search_docs (place, mid, ts, sender) VALUES (?, ?, ?, 'seed') RETURNING id");
    const fts = db.prepare("INSERT INTO search_fts (rowid, place, body) VALUES (?, ?, ?)");
    db.transaction(() => {
      for (let r = 0; r < ROOMS; r++) place.run(`s${r}`, SEED_EPOCH, PER_ROOM, now, now);
    })();
    let n = 0;
    for (const rows of messages(20_000)) {
      db.transaction(() => {
        for (const m of rows) {
          message.run(m.place, m.mid, "g-seed", m.ts, m.text, m.json);
          const { id } = doc.get(m.place, m.mid, m.ts) as { id: number };
          fts.run(id, placeToken(m.place), m.text);
        }
      })();
      n += rows.length;
      if (n % 100_000 === 0) progress(`sqlite: seeded ${n}`);
    }
    progress("sqlite: optimizing the FTS5 index");
    db.exec("INSERT INTO search_fts (search_fts) VALUES ('optimize')");
    db.pragma("wal_checkpoint(TRUNCATE)");
    progressDone();
  } finally {
    db.close();
  }
}

type Reply = { action: string; hits?: unknown[]; messages?: unknown[]; code?: string; wait?: number };

/** One SockJS WebSocket connection, one request at a time. */
async function connection(port: number): Promise<(request: object) => Promise<Reply>> {
  const waiting: ((frame: Reply) => void)[] = [];
  const ws = await new Promise<WebSocket>((resolve, reject) => {
    const socket = new WebSocket(
      `ws://127.0.0.1:${port}/sock/000/${Math.random().toString(36).slice(2)}/websocket?lobby=0`,
    );
    socket.on("error", reject);
    socket.on("message", (data) => {
      const text = data.toString();
      if (text === "o") resolve(socket);
      if (text[0] !== "a") return;
      for (const f of JSON.parse(text.slice(1)) as string[]) {
        const parsed = JSON.parse(f) as Reply;
        if (["history", "search", "error"].includes(parsed.action)) waiting.shift()?.(parsed);
      }
    });
  });
  opened.push(ws);
  const ask = (request: object) =>
    new Promise<Reply>((resolve) => {
      waiting.push(resolve);
      ws.send(JSON.stringify([JSON.stringify(request)]));
    });
  for (const room of MINE) {
    let joined = await ask({ action: "join", room });
    // Under RATE_LIMIT a join's page is charged too: wait as told, and join again.
    while (joined.code === "rate_limited") {
      await new Promise((r) => setTimeout(r, (joined.wait ?? 1) * 1000));
      joined = await ask({ action: "join", room });
    }
    if (joined.action !== "history") throw new Error(`join ${room}: ${JSON.stringify(joined)}`);
  }
  return ask;
}
const opened: WebSocket[] = [];

function p(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return Number((sorted[Math.ceil(q * sorted.length) - 1] ?? Number.NaN).toFixed(1));
}

let drawn: { words: string[]; phrases: string[] } | undefined;
/** Words and phrases to ask for, drawn from what the user's rooms hold, so that each finds something. */
function queries(): { words: string[]; phrases: string[] } {
  if (drawn) return drawn;
  const next = random(0x9e77);
  const sample: string[][] = [];
  for (const rows of messages(50_000)) {
    for (const m of rows) if (MINE.includes(m.place) && next() < 0.01) sample.push(m.text.split(" "));
  }
  const words = sample.map((w) => w[Math.floor(next() * w.length)] as string);
  const phrases = sample.map((w) => {
    const at = Math.floor(next() * (w.length - 2));
    return `"${w.slice(at, at + 3).join(" ")}"`;
  });
  drawn = { words, phrases };
  return drawn;
}

async function measure(engine: string, port: number): Promise<void> {
  const ask = await connection(port);
  const { words, phrases } = queries();
  const run = async (what: string, make: (i: number) => object, check: (r: Reply) => boolean) => {
    const samples: number[] = [];
    for (let i = 0; i < QUERIES; i++) {
      const request = make(i);
      const t0 = performance.now();
      const reply = await ask(request);
      samples.push(performance.now() - t0);
      if (!check(reply))
        throw new Error(`${what}: ${JSON.stringify(request)} → ${JSON.stringify(reply).slice(0, 200)}`);
      if (i % 50 === 0) progress(`${engine} ${what}: ${i}/${QUERIES}`);
    }
    progressDone();
    console.log(
      JSON.stringify({
        engine,
        what,
        n: QUERIES,
        p50: p(samples, 0.5),
        p95: p(samples, 0.95),
        p99: p(samples, 0.99),
        max: p(samples, 1),
      }),
    );
  };
  const found = (r: Reply) => r.action === "search" && (r.hits?.length ?? 0) > 0;
  await run("one word", (i) => ({ action: "search", q: words[i % words.length] }), found);
  await run("phrase", (i) => ({ action: "search", q: phrases[i % phrases.length] }), found);
  // The commonest word: every page of 20 is full, and the engine sorts the most rows.
  await run("commonest word", () => ({ action: "search", q: VOCABULARY[0] }), found);
  const next = random(0xa40d);
  await run(
    "around",
    () => ({
      action: "history",
      room: MINE[Math.floor(next() * MINE.length)],
      around: 1 + Math.floor(next() * PER_ROOM),
      limit: 50,
    }),
    (r) => r.action === "history" && (r.messages?.length ?? 0) > 0,
  );
}

/** Ten connections searching as fast as RATE_LIMIT (default) lets them: the node's CPU, and the database's. */
async function underLoad(engine: string, port: number, pids: () => number[]): Promise<void> {
  const asks = await Promise.all(Array.from({ length: 10 }, () => connection(port)));
  const { words } = queries();
  const seconds = Number(opts["load-seconds"]);
  const cpu = (pid: number) => {
    try {
      return cpuMicros(pid);
    } catch {
      return 0;
    }
  };
  // By pid: the database's backends come and go; one that appeared meanwhile counts whole.
  const cpu0 = new Map(pids().map((pid) => [pid, cpu(pid)]));
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let answered = 0;
  let limited = 0;
  await Promise.all(
    asks.map(async (ask, c) => {
      for (let i = c; performance.now() < end; i++) {
        const reply = await ask({ action: "search", q: words[i % words.length] });
        if (reply.action === "search") answered++;
        else if (reply.code === "rate_limited") {
          limited++;
          await new Promise((r) => setTimeout(r, (reply.wait ?? 1) * 1000));
        } else throw new Error(JSON.stringify(reply));
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const used = pids().map((pid) => (cpu(pid) - (cpu0.get(pid) ?? 0)) / 1e6 / wall);
  console.log(
    JSON.stringify({
      engine,
      what: "ten connections at RATE_LIMIT",
      seconds: Number(wall.toFixed(1)),
      searchesPerSecond: Number((answered / wall).toFixed(1)),
      refusedRateLimited: limited,
      nodeCores: Number((used[0] ?? 0).toFixed(2)),
      databaseCores: Number(
        used
          .slice(1)
          .reduce((a, b) => a + b, 0)
          .toFixed(2),
      ),
    }),
  );
}

async function explainPostgres(pgsql: Postgres): Promise<void> {
  const c = await pgsql.client();
  try {
    const { words, phrases } = queries();
    const q = (text: string) =>
      c.query(
        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT m.place, m.mid, m.ts, m.text, m.edited, m.json FROM messages m " +
          "WHERE m.place = ANY($1::text[]) AND m.words @@ $2::tsquery AND m.deleted = FALSE AND m.ts >= $3 " +
          "ORDER BY m.ts DESC, m.place DESC, m.mid DESC LIMIT 21",
        [MINE, text, 0],
      );
    const tsPhrase = (p: string) =>
      p
        .replace(/"/g, "")
        .split(" ")
        .map((w) => `'${w}'`)
        .join(" <-> ");
    for (const [what, text] of [
      ["one word", `'${words[0]}':*`],
      ["phrase", tsPhrase(phrases[0] as string)],
    ]) {
      console.log(
        `-- postgres ${what}: ${text}\n${(await q(text as string)).rows.map((r) => r["QUERY PLAN"]).join("\n")}`,
      );
    }
    const page = await c.query(
      "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT mid, json FROM messages WHERE place = $1 AND mid < $2 AND ts >= $3 ORDER BY mid DESC LIMIT $4",
      [MINE[3], 500, 0, 26],
    );
    console.log(`-- postgres around (each of its two pages)\n${page.rows.map((r) => r["QUERY PLAN"]).join("\n")}`);
  } finally {
    await c.end();
  }
}

function explainSqlite(file: string): void {
  const db = new Database(file, { readonly: true });
  try {
    const { words } = queries();
    const match = `place : (${MINE.map((m) => `"${placeToken(m)}"`).join(" OR ")}) AND (body : ("${words[0]}"*))`;
    const plan = db
      .prepare(
        "EXPLAIN QUERY PLAN SELECT d.place, d.mid, d.ts, m.text, m.edited, m.json FROM search_fts f JOIN search_docs d ON d.id = f.rowid " +
          "JOIN messages m ON m.place = d.place AND m.mid = d.mid WHERE search_fts MATCH ? AND m.deleted = FALSE AND d.ts >= ? " +
          "ORDER BY f.rowid DESC LIMIT 21",
      )
      .all(match, 0) as { detail: string }[];
    console.log(`-- sqlite search (word or phrase: the same plan)\n${plan.map((r) => r.detail).join("\n")}`);
    const page = db
      .prepare(
        "EXPLAIN QUERY PLAN SELECT mid, json FROM messages WHERE place = ? AND mid < ? AND ts >= ? ORDER BY mid DESC LIMIT ?",
      )
      .all(MINE[3], 500, 0, 26) as { detail: string }[];
    console.log(`-- sqlite around (each of its two pages)\n${page.map((r) => r.detail).join("\n")}`);
  } finally {
    db.close();
  }
}

const startNode = (env: Record<string, string>) =>
  startNodeServer([...shippedNodeFlags(), server], { ...UNLIMITED, ...env }, "chat node");

console.log(JSON.stringify({ load: os.loadavg().map((l) => Number(l.toFixed(2))), cpus: os.cpus().length }));
for (const engine of opts.engines.split(",")) {
  if (engine === "postgres") {
    const pgsql = await startPostgres();
    try {
      await (await startNode({ DATABASE_URL: pgsql.url })).stop();
      await seedPostgres(pgsql);
      let node = await startNode({ DATABASE_URL: pgsql.url });
      try {
        await measure(engine, node.port);
        await explainPostgres(pgsql);
      } finally {
        await node.stop();
      }
      node = await startNode({ DATABASE_URL: pgsql.url, RATE_LIMIT: "20" });
      try {
        await underLoad(engine, node.port, () => [node.pid, ...pgsql.pids()]);
      } finally {
        await node.stop();
      }
    } finally {
      for (const ws of opened.splice(0)) ws.close();
      await pgsql.stop();
    }
  } else {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "bench-search-"));
    try {
      await (await startNode({ DATA_DIR: dataDir })).stop();
      seedSqlite(path.join(dataDir, "chat.sqlite"));
      let node = await startNode({ DATA_DIR: dataDir });
      try {
        await measure(engine, node.port);
        explainSqlite(path.join(dataDir, "chat.sqlite"));
      } finally {
        await node.stop();
      }
      node = await startNode({ DATA_DIR: dataDir, RATE_LIMIT: "20" });
      try {
        await underLoad(engine, node.port, () => [node.pid]);
      } finally {
        await node.stop();
      }
    } finally {
      for (const ws of opened.splice(0)) ws.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
}
console.log(JSON.stringify({ load: os.loadavg().map((l) => Number(l.toFixed(2))) }));
