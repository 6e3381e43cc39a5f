/**
 * The archive's figures (issue 21): how many messages per second reach it
 * with its lag flat, PostgreSQL (two nodes and Redis carrying into it)
 * beside the embedded SQLite (one node writing before it delivers); and the
 * latency of a scroll-back page far past the window, over a million
 * messages seeded straight into each database. Run `npm run build` first.
 * And what the embedded engine costs an idle `npm start`, beside a build
 * from before it (`--before <its dist/server.js>`).
 * And what an idle connection costs with the archive on and off (`conns`).
 * `npm run bench:archive -- --only ingest|scrollback|idle|conns`.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import WebSocket from "ws";
import { Generator } from "./generator/pool.js";
import { allocations } from "./heap-summary.js";
import { Inspector } from "./inspector.js";
import { type Postgres, startPostgres } from "./postgres.js";
import { cpuMicros, rssBytes } from "./proc-stats.js";
import { freePort, type Proc, startNodeServer, startRedis } from "./procs.js";
import { progress, progressDone } from "./progress.js";
import { latency } from "./stats.js";
import { shippedNodeFlags } from "./targets.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const { values: opts } = parseArgs({
  options: {
    only: { type: "string", default: "ingest,scrollback" },
    engines: { type: "string", default: "postgres,sqlite" },
    seconds: { type: "string", default: "60" },
    rates: { type: "string", default: "2500,5000,10000" },
    rooms: { type: "string", default: "500" },
    workers: { type: "string", default: "2" },
    "seed-rooms": { type: "string", default: "1000" },
    "seed-per-room": { type: "string", default: "1000" },
    pages: { type: "string", default: "2000" },
    before: { type: "string" },
    // `name=value` for PostgreSQL, comma-separated, e.g. synchronous_commit=off to see what the commits' fsync costs.
    "pg-settings": { type: "string", default: "" },
    "idle-runs": { type: "string", default: "3" },
    connections: { type: "string", default: "2000" },
    // Another build's dist/server.js to measure in this one's stead (an A/B of two commits, same bench).
    server: { type: "string" },
    // A directory: the nodes run under --cpu-prof into it, and Redis's commandstats of each step are printed.
    profile: { type: "string" },
    // Seconds: from the step's first third on, what the nodes allocate over that long (every allocation, sampled).
    alloc: { type: "string" },
    // Extra flags for the nodes' node, beside npm start's (an A/B of, say, the young generation's size).
    "node-flags": { type: "string", default: "" },
    // The nodes without npm start's flags: Node's defaults, and only `--node-flags`.
    bare: { type: "boolean", default: false },
    // Ingest's senders as the web client connects (`proto=2`): users kept across reconnects, whose own
    // messages also move their read marks (one more script in Redis a message).
    persistent: { type: "boolean", default: false },
  },
});

const server = opts.server ? path.resolve(opts.server) : path.join(root, "dist/server.js");

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** As the fan-out bench: the abuse limits would measure themselves, not the archive. */
const UNLIMITED = {
  LOG_LEVEL: "warn",
  RATE_LIMIT: "0",
  MAX_CONNECTIONS_PER_IP: "0",
  WRITE_BYTES_PER_USER: "0",
  WRITE_BYTES_PER_IP: "0",
  NEW_ROOMS_PER_HOUR: "0",
  NEW_GUESTS_PER_IP: "0",
};

const profileDir = opts.profile ? path.resolve(opts.profile) : undefined;

/** The nodes' node flags: npm start's (unless `--bare`), then `--node-flags` (of a flag given twice, V8 keeps the last). */
const nodeFlags = [...(opts.bare ? [] : shippedNodeFlags()), ...opts["node-flags"].split(" ").filter(Boolean)];
/** The nodes' inspector ports, when `--alloc` samples their allocations. */
const inspectPorts: number[] = [];

/**
 * Loaded into each node (`--import`): the main thread's time in garbage
 * collection pauses, by kind, written every second to the file GC_METER_FILE
 * names. Every entry counts (prom-client's gc histogram keeps only the first
 * of each batch the observer is handed, so it undercounts a busy node).
 */
const GC_METER = `data:text/javascript,${encodeURIComponent(`
import { constants, PerformanceObserver } from "node:perf_hooks";
import { writeFileSync } from "node:fs";
const file = process.env.GC_METER_FILE;
const ms = { minor: 0, major: 0, incremental: 0, weakcb: 0 };
const kinds = { [constants.NODE_PERFORMANCE_GC_MINOR]: "minor", [constants.NODE_PERFORMANCE_GC_MAJOR]: "major",
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental", [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weakcb" };
new PerformanceObserver((list) => { for (const e of list.getEntries()) ms[kinds[e.detail.kind]] += e.duration; })
  .observe({ entryTypes: ["gc"] });
setInterval(() => writeFileSync(file, JSON.stringify(ms)), 1000).unref();
`)}`;
const gcMeterDir = mkdtempSync(path.join(os.tmpdir(), "bench-gc-"));
/** The meter files of the nodes started so far. */
const gcMeters: string[] = [];

/** The nodes' GC pauses so far, ms by kind, summed over the nodes (as of each meter's last second). */
function gcPauses(): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const file of gcMeters) {
    try {
      for (const [kind, ms] of Object.entries(JSON.parse(readFileSync(file, "utf8")) as Record<string, number>))
        sum[kind] = (sum[kind] ?? 0) + ms;
    } catch {
      // Not written yet.
    }
  }
  return sum;
}

const startNode = async (env: Record<string, string>) => {
  const inspect = opts.alloc ? await freePort() : undefined;
  if (inspect !== undefined) inspectPorts.push(inspect);
  const meter = path.join(gcMeterDir, `node${gcMeters.length}.json`);
  gcMeters.push(meter);
  return startNodeServer(
    [
      ...nodeFlags,
      `--import=${GC_METER}`,
      ...(profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : []),
      ...(inspect !== undefined ? [`--inspect=127.0.0.1:${inspect}`] : []),
      server,
    ],
    { ...UNLIMITED, ...env, GC_METER_FILE: meter },
    "chat node",
  );
};

/** What each node allocated over `seconds`, every allocation sampled, as tables by function (bench/heap-summary.ts). */
async function sampleAllocations(seconds: number, messages: () => Promise<number>): Promise<string> {
  const inspectors = await Promise.all(inspectPorts.map((port) => Inspector.open(port)));
  try {
    await Promise.all(inspectors.map((i) => i.startSampling(true)));
    const from = await messages();
    await sleep(seconds * 1000);
    const profiles = await Promise.all(inspectors.map((i) => i.stopSampling()));
    const n = (await messages()) - from;
    return profiles
      .map((p, i) =>
        allocations(p as Parameters<typeof allocations>[0], `node ${i + 1}, ${n} messages delivered over both`, 25),
      )
      .join("\n\n");
  } finally {
    for (const i of inspectors) i.close();
  }
}

/** Redis's time by command and script over a step (`--profile`): what each costs per message sent. */
function redisStats(port: number) {
  const cli = (...args: string[]) => execFileSync("redis-cli", ["-p", String(port), ...args], { encoding: "utf8" });
  return {
    reset: () => void cli("CONFIG", "RESETSTAT"),
    report(sent: number): string {
      // The reads Redis made of its clients' sockets and the writes of its replies: fewer than the
      // commands when the nodes send several in one write.
      const io = Object.fromEntries(
        [...cli("INFO", "stats").matchAll(/^total_(reads|writes)_processed:(\d+)/gm)].map(([, k, n]) => [k, Number(n)]),
      );
      const perMessage = (n = 0) => (n / Math.max(1, sent)).toFixed(2);
      const rows = [...cli("INFO", "commandstats").matchAll(/^cmdstat_(\S+):calls=(\d+),usec=(\d+)/gm)]
        .map(([, name, calls, usec]) => ({ name, calls: Number(calls), usec: Number(usec) }))
        .sort((a, b) => b.usec - a.usec);
      const all = rows.reduce((n, r) => n + r.usec, 0);
      const line = (name: string, calls: number, usec: number) =>
        `| ${name} | ${calls} | ${(usec / Math.max(1, calls)).toFixed(1)} | ${(usec / Math.max(1, sent)).toFixed(2)} |`;
      return [
        "| Redis command | calls | µs/call | µs/message |",
        "|---|--:|--:|--:|",
        ...rows.map((r) => line(r.name ?? "", r.calls, r.usec)),
        line(
          "all",
          rows.reduce((n, r) => n + r.calls, 0),
          all,
        ),
        "",
        `socket reads per message ${perMessage(io.reads)}, reply writes per message ${perMessage(io.writes)}`,
      ].join("\n");
    },
  };
}

/** CPU of a changing set of processes (or of their main threads): a process that appeared meanwhile counts whole. */
function cpuOf(pids: () => number[], mainThread = false) {
  const read = () => new Map(pids().map((pid) => [pid, safeCpu(pid, mainThread ? pid : undefined)]));
  const start = read();
  return () => [...read()].reduce((n, [pid, us]) => n + us - (start.get(pid) ?? 0), 0);
}

function safeCpu(pid: number, tid?: number): number {
  try {
    return cpuMicros(pid, tid);
  } catch {
    return 0;
  }
}

/**
 * Busy and total jiffies of the whole machine, from /proc/stat: others' processes count too; and those
 * spent in soft interrupts (loopback TCP, which a saturated machine hands to ksoftirqd, no process of ours).
 */
function machineTicks(): { busy: number; total: number; softirq: number } {
  const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  // idle and iowait
  return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total, softirq: fields[6] ?? 0 };
}

async function archiveLag(metricsPorts: number[]): Promise<number> {
  let most = 0;
  for (const port of metricsPorts) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const m = /^chat_archive_behind_messages (\d+)/m.exec(text);
    if (m) most = Math.max(most, Number(m[1]));
  }
  return most;
}

interface IngestStep {
  engine: string;
  rate: number;
  seconds: number;
  sent: number;
  storedPerSec: number;
  /** Messages sent and not yet in the database when the senders stopped. */
  backlogAtEnd: number;
  /**
   * Delivered and not yet in the database, sampled every second from the
   * client's count and the database's (not from the server): first and last
   * third of the step, mean, and the most.
   */
  behindEarly: number;
  behindLate: number;
  behindMost: number;
  /** Behind every 5 s of the step, thousands: the shape the means hide. */
  behindEvery5s: number[];
  /** The lag gauge the nodes serve (PostgreSQL only), sampled alike: what /readyz and an operator see. */
  lagEarly: number;
  lagLate: number;
  p50: number;
  p99: number;
  lost: number;
  cpuPct: Record<string, number>;
  /** The whole machine's CPU over the step, % of all its cores, ours and anyone else's; and the load average after it. */
  machineBusyPct: number;
  /** Of it, soft interrupts, % of all the cores. */
  softirqPct: number;
  load1: number;
  loadBefore: number;
  /** CPU µs of each process group over the messages stored during the step. */
  usPerStored: Record<string, number>;
  /** The nodes' main threads, % of a core (the rest of `cpuPct.nodes` is V8's and libuv's helper threads). */
  nodesMainThreadPct: number;
  /**
   * The nodes' GC pauses, % of the step's wall time, mean of the nodes (wall time: on a full machine a
   * pause also waits for the core); and the pauses by kind, ms a second, summed over the nodes.
   */
  gcPausePct: number;
  gcMsPerSec: Record<string, number>;
}

/**
 * One client per room, each the room's only member and publisher: every
 * message is stored once and delivered once, so what saturates first is
 * storing, not fan-out.
 */
async function ingest(
  engine: string,
  ports: number[],
  metricsPorts: number[],
  /** Messages the database holds; without one, deliveries since the step began stand in for it. */
  held: (() => Promise<number>) | undefined,
  procs: Record<string, () => number[]>,
  redis?: ReturnType<typeof redisStats>,
): Promise<IngestStep[]> {
  const rooms = Number(opts.rooms);
  const gen = new Generator(Number(opts.workers));
  const stored = held ?? (() => gen.received());
  const steps: IngestStep[] = [];
  try {
    const dial = opts.persistent ? { query: "lobby=0&proto=2", admitted: true, reconnect: false } : undefined;
    const { failed } = await gen.connect("sockjs", ports, rooms, dial);
    if (failed > 0) throw new Error(`${failed} connections failed`);
    const roomOf = (i: number) => `a${i}`;
    await gen.join(roomOf);
    const senders = Array.from({ length: rooms }, (_, i) => ({ client: i, room: roomOf(i) }));
    let run = 0;
    for (const rate of opts.rates.split(",").map(Number)) {
      const seconds = Number(opts.seconds);
      await gen.begin(++run);
      const before = await stored();
      redis?.reset();
      const loadBefore = os.loadavg()[0] ?? 0;
      const cpu = Object.fromEntries(Object.entries(procs).map(([name, pids]) => [name, cpuOf(pids)]));
      const nodesMain = cpuOf(procs.nodes ?? (() => []), true);
      const gc0 = gcPauses();
      const gen0 = process.cpuUsage();
      const machine0 = machineTicks();
      const lags: number[] = [];
      const behind: number[] = [];
      const started = performance.now();
      const sampler = setInterval(() => {
        progress(`${engine} ingest ${rate}/s: ${((performance.now() - started) / 1000).toFixed(0)}/${seconds} s`);
        Promise.all([gen.received(), stored()]).then(
          ([delivered, held]) => behind.push(Math.max(0, delivered - (held - before))),
          () => undefined,
        );
        if (metricsPorts.length > 0)
          archiveLag(metricsPorts).then(
            (n) => lags.push(n),
            () => undefined,
          );
      }, 1000);
      const sampled = opts.alloc
        ? sleep((seconds * 1000) / 3).then(() => sampleAllocations(Number(opts.alloc), () => gen.received()))
        : undefined;
      const sentByRoom = await gen.publish(run, rate, seconds, senders).finally(() => clearInterval(sampler));
      const wall = (performance.now() - started) / 1000;
      const atEnd = await stored();
      const cpuUs = Object.fromEntries(Object.entries(cpu).map(([name, used]) => [name, used()]));
      const mainUs = nodesMain();
      const gc1 = gcPauses();
      const genCpu = process.cpuUsage(gen0);
      cpuUs.generator = genCpu.user + genCpu.system;
      const cpuPct = Object.fromEntries(Object.entries(cpuUs).map(([name, us]) => [name, us / wall / 1e4]));
      const usPerStored = Object.fromEntries(
        Object.entries(cpuUs).map(([name, us]) => [name, Math.round(us / Math.max(1, atEnd - before))]),
      );
      const gcMs = Object.fromEntries(Object.entries(gc1).map(([kind, ms]) => [kind, ms - (gc0[kind] ?? 0)]));
      const gcAllMs = Object.values(gcMs).reduce((a, b) => a + b, 0);
      const machine1 = machineTicks();
      const machineBusyPct = (100 * (machine1.busy - machine0.busy)) / Math.max(1, machine1.total - machine0.total);
      const softirqPct = (100 * (machine1.softirq - machine0.softirq)) / Math.max(1, machine1.total - machine0.total);
      const sent = Object.values(sentByRoom).reduce((a, b) => a + b, 0);
      const commandstats = redis?.report(sent);
      // What the senders had sent and the database had not taken when they stopped; then wait for it to drain.
      const backlogAtEnd = Math.max(0, before + sent - atEnd);
      for (let waited = 0; waited < 60_000 && (await stored()) < before + sent; waited += 500) await sleep(500);
      const { received, latencies } = await gen.collect();
      const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
      const early = (xs: number[]) => mean(xs.slice(0, Math.max(1, Math.floor(xs.length / 3))));
      const late = (xs: number[]) => mean(xs.slice(-Math.max(1, Math.floor(xs.length / 3))));
      const step: IngestStep = {
        engine,
        rate,
        seconds,
        sent,
        storedPerSec: (atEnd - before) / wall,
        backlogAtEnd,
        behindEarly: early(behind),
        behindLate: late(behind),
        behindMost: Math.max(0, ...behind),
        behindEvery5s: behind.filter((_, i) => i % 5 === 4).map((n) => Math.round(n / 1000)),
        lagEarly: early(lags),
        lagLate: late(lags),
        lost: Math.max(0, sent - received),
        cpuPct,
        machineBusyPct,
        softirqPct,
        load1: os.loadavg()[0] ?? 0,
        loadBefore,
        usPerStored,
        nodesMainThreadPct: mainUs / wall / 1e4,
        gcPausePct: (100 * gcAllMs) / (wall * 1000 * Math.max(1, procs.nodes?.().length ?? 1)),
        gcMsPerSec: Object.fromEntries(Object.entries(gcMs).map(([kind, ms]) => [kind, Math.round(ms / wall)])),
        ...latency(latencies),
      };
      progressDone();
      console.log(JSON.stringify(step));
      if (commandstats) console.log(commandstats);
      if (sampled) console.log(await sampled);
      steps.push(step);
      await sleep(2000);
    }
  } finally {
    await gen.stop();
  }
  return steps;
}

const pgSettings = opts["pg-settings"].split(",").filter(Boolean);

/**
 * Two nodes and Redis, carrying into PostgreSQL; or, `withDatabase` false,
 * the same stack and load with no archive, for what a message costs without it.
 */
async function ingestPostgres(withDatabase = true): Promise<IngestStep[]> {
  const pgsql = await startPostgres(pgSettings);
  const redis = await startRedis();
  const nodes: Proc[] = [];
  const metricsPorts = [await freePort(), await freePort()];
  const reader = await pgsql.client();
  try {
    for (const metrics of metricsPorts) {
      nodes.push(
        await startNode({
          REDIS_URL: `redis://127.0.0.1:${redis.port}`,
          ...(withDatabase ? { DATABASE_URL: pgsql.url } : {}),
          METRICS_PORT: String(metrics),
          METRICS_HOST: "127.0.0.1",
        }),
      );
    }
    // Every room's mids start at 1 and are carried in order: the sum of the tops is the count, without a scan.
    const stored = async () =>
      Number((await reader.query("SELECT coalesce(sum(top), 0) AS n FROM places WHERE place LIKE 'a%'")).rows[0].n);
    return await ingest(
      withDatabase ? "postgres" : "redis, no archive",
      nodes.map((n) => n.port),
      metricsPorts,
      withDatabase ? stored : undefined,
      {
        nodes: () => nodes.map((n) => n.pid),
        redis: () => [redis.pid],
        postgres: pgsql.pids,
      },
      profileDir ? redisStats(redis.port) : undefined,
    );
  } finally {
    await reader.end();
    await Promise.all(nodes.map((n) => n.stop()));
    await redis.stop();
    await pgsql.stop();
  }
}

async function ingestSqlite(): Promise<IngestStep[]> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "bench-sqlite-"));
  const node = await startNode({ DATA_DIR: dataDir });
  const db = new Database(path.join(dataDir, "chat.sqlite"), { readonly: true });
  try {
    const stored = async () =>
      Number(
        (db.prepare("SELECT coalesce(sum(top), 0) AS n FROM places WHERE place LIKE 'a%'").get() as { n: number }).n,
      );
    return await ingest("sqlite", [node.port], [], stored, { nodes: () => [node.pid] });
  } finally {
    db.close();
    await node.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** One stored message frame, as the server would have written it. */
const frame = (room: string, mid: number, ts: number) =>
  JSON.stringify({
    action: "message",
    mid,
    room,
    message: `seeded message ${mid} of ${room}, about as long as a line of chat`,
    id: `seed.${room}.${mid}`,
    uid: "g-seeded0000000000000000",
    name: "Seed",
    ts,
  });

const SEED_EPOCH = "5eed0001";

async function seedPostgres(pgsql: Postgres, rooms: number, perRoom: number): Promise<void> {
  const c = await pgsql.client();
  try {
    const now = Date.now();
    await c.query(
      "INSERT INTO places (place, epoch, top, created, last_active) SELECT 's' || r, $1, $2::bigint, $3::bigint, $3::bigint FROM generate_series(0, $4::int - 1) r",
      [SEED_EPOCH, perRoom, now, rooms],
    );
    // Built in the database, one statement: the same frame, byte for byte, as frame() above.
    await c.query(
      `INSERT INTO messages (place, mid, uid, ts, text, json)
       SELECT 's' || r, m, 'g-seeded0000000000000000', $1::bigint - ($2::int - m) * 1000,
              'seeded message ' || m || ' of s' || r || ', about as long as a line of chat',
              '{"action":"message","mid":' || m || ',"room":"s' || r || '","message":"seeded message ' || m ||
              ' of s' || r || ', about as long as a line of chat","id":"seed.s' || r || '.' || m ||
              '","uid":"g-seeded0000000000000000","name":"Seed","ts":' || ($1::bigint - ($2::int - m) * 1000) || '}'
       FROM generate_series(0, $3::int - 1) r, generate_series(1, $2::int) m`,
      [now, perRoom, rooms],
    );
    await c.query("ANALYZE");
  } finally {
    await c.end();
  }
}

function seedSqlite(file: string, rooms: number, perRoom: number): void {
  const db = new Database(file);
  try {
    const now = Date.now();
    const place = db.prepare("INSERT INTO places (place, epoch, top, created, last_active) VALUES (?, ?, ?, ?, ?)");
    const message = db.prepare("INSERT INTO messages (place, mid, uid, ts, text, json) VALUES (?, ?, ?, ?, ?, ?)");
    db.transaction(() => {
      for (let r = 0; r < rooms; r++) {
        const room = `s${r}`;
        place.run(room, SEED_EPOCH, perRoom, now, now);
        for (let m = 1; m <= perRoom; m++) {
          const ts = now - (perRoom - m) * 1000;
          const json = frame(room, m, ts);
          message.run(room, m, "g-seeded0000000000000000", ts, JSON.parse(json).message, json);
        }
      }
    })();
    db.pragma("wal_checkpoint(TRUNCATE)");
  } finally {
    db.close();
  }
}

interface Scroll {
  engine: string;
  messages: number;
  pages: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * `pages` history requests of 50, one at a time, over one connection per
 * 20 rooms (a connection's default room limit), each `before` drawn at
 * random below the newest 100 (the window a join shows): every page comes
 * from the archive. Latency is the client's: request sent to page read.
 */
async function scroll(engine: string, port: number, rooms: number, perRoom: number): Promise<Scroll> {
  const pages = Number(opts.pages);
  const sockets: { ws: WebSocket; rooms: string[] }[] = [];
  const waiting: ((frame: { action: string; messages?: unknown[] }) => void)[] = [];
  const open = () =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(
        `ws://127.0.0.1:${port}/sock/000/${Math.random().toString(36).slice(2)}/websocket?lobby=0`,
      );
      ws.on("error", reject);
      ws.on("message", (data) => {
        const text = data.toString();
        if (text === "o") resolve(ws);
        if (text[0] !== "a") return;
        for (const f of JSON.parse(text.slice(1)) as string[]) {
          const parsed = JSON.parse(f) as { action: string };
          if (parsed.action === "history" || parsed.action === "error") waiting.shift()?.(parsed);
        }
      });
    });
  const ask = (ws: WebSocket, request: object) =>
    new Promise<{ action: string; messages?: unknown[] }>((resolve) => {
      waiting.push(resolve);
      ws.send(JSON.stringify([JSON.stringify(request)]));
    });
  const sample = Math.min(rooms, 200);
  for (let i = 0; i < sample; i += 20) {
    const ws = await open();
    const mine: string[] = [];
    for (let j = i; j < Math.min(sample, i + 20); j++) {
      const room = `s${Math.floor((j * rooms) / sample)}`;
      const joined = await ask(ws, { action: "join", room });
      if (joined.action !== "history") throw new Error(`join ${room}: ${JSON.stringify(joined)}`);
      mine.push(room);
    }
    sockets.push({ ws, rooms: mine });
  }
  const samples = new Float64Array(pages);
  for (let i = 0; i < pages; i++) {
    const { ws, rooms: mine } = sockets[i % sockets.length] as (typeof sockets)[number];
    const room = mine[Math.floor(Math.random() * mine.length)] as string;
    const before = 1 + Math.floor(Math.random() * (perRoom - 100));
    const t0 = performance.now();
    const page = await ask(ws, { action: "history", room, before, limit: 50 });
    samples[i] = performance.now() - t0;
    const want = Math.min(50, before - 1);
    if (page.action !== "history" || page.messages?.length !== want)
      throw new Error(`history ${room} before ${before}: ${JSON.stringify(page).slice(0, 200)}`);
    if (i % 100 === 0) progress(`${engine} scroll-back: ${i}/${pages} pages`);
  }
  progressDone();
  for (const { ws } of sockets) ws.close();
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.ceil(q * sorted.length) - 1] as number;
  const result = { engine, messages: rooms * perRoom, pages, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: at(1) };
  console.log(JSON.stringify(result));
  return result;
}

/**
 * Both engines as the lone node serves them (DATABASE_URL alone, or
 * DATA_DIR): with Redis a page past its window asks the same archive the
 * same query, and Redis would only add its own hop in front.
 */
async function scrollback(engine: string): Promise<Scroll> {
  const rooms = Number(opts["seed-rooms"]);
  const perRoom = Number(opts["seed-per-room"]);
  if (engine === "postgres") {
    const pgsql = await startPostgres(pgSettings);
    try {
      // A first start runs the migrations; then the rows go in behind its back, and a second start reads them.
      await (await startNode({ DATABASE_URL: pgsql.url })).stop();
      progress(`postgres: seeding ${rooms * perRoom} messages`);
      await seedPostgres(pgsql, rooms, perRoom);
      const node = await startNode({ DATABASE_URL: pgsql.url, MAX_ROOMS_PER_CONNECTION: "20" });
      try {
        return await scroll(engine, node.port, rooms, perRoom);
      } finally {
        await node.stop();
      }
    } finally {
      await pgsql.stop();
    }
  }
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "bench-sqlite-"));
  try {
    await (await startNode({ DATA_DIR: dataDir })).stop();
    progress(`sqlite: seeding ${rooms * perRoom} messages`);
    seedSqlite(path.join(dataDir, "chat.sqlite"), rooms, perRoom);
    const node = await startNode({ DATA_DIR: dataDir, MAX_ROOMS_PER_CONNECTION: "20" });
    try {
      return await scroll(engine, node.port, rooms, perRoom);
    } finally {
      await node.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * `npm start` as a new user runs it: no Redis, no database, a fresh DATA_DIR,
 * the shipped node flags; RSS 5 s after it answers /readyz, no client.
 */
async function idleRss(): Promise<void> {
  const builds: [string, string][] = [["with the embedded archive", server]];
  if (opts.before) builds.push(["before", path.resolve(opts.before)]);
  const runs = Number(opts["idle-runs"]);
  const seen = new Map<string, number[]>(builds.map(([name]) => [name, []]));
  // Alternating, so that drift on a shared machine hits both alike.
  for (let run = 0; run < runs; run++) {
    for (const [name, entry] of builds) {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), "bench-idle-"));
      const node = await startNodeServer([...nodeFlags, entry], { DATA_DIR: dataDir }, "chat node");
      await sleep(5000);
      seen.get(name)?.push(rssBytes(node.pid) / 2 ** 20);
      await node.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  for (const [name, mib] of seen) console.log(JSON.stringify({ idle: name, rssMiB: mib.map((m) => Math.round(m)) }));
}

/**
 * RSS of one node before and after `connections` idle SockJS clients, each
 * joined to a room of 20 (rooms new to the archive), 5 s after the last
 * join: the archive on (embedded; Redis with PostgreSQL) and off (Redis
 * alone; `--before`, the lone node from before the archive).
 */
async function connectionRss(): Promise<void> {
  const n = Number(opts.connections);
  const measure = async (label: string, start: () => Promise<Proc>) => {
    const node = await start();
    const gen = new Generator(Number(opts.workers));
    try {
      await sleep(3000);
      const before = rssBytes(node.pid);
      const { failed } = await gen.connect("sockjs", [node.port], n);
      if (failed > 0) throw new Error(`${failed} connections failed`);
      await gen.join((i) => `c${Math.floor(i / 20)}`);
      await sleep(5000);
      const after = rssBytes(node.pid);
      const row = {
        setup: label,
        connections: n,
        idleMiB: Math.round(before / 2 ** 20),
        withMiB: Math.round(after / 2 ** 20),
        perConnectionKiB: Math.round((after - before) / n / 1024),
        load1: os.loadavg()[0],
      };
      console.log(JSON.stringify(row));
    } finally {
      await gen.stop();
      await node.stop();
    }
  };
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "bench-conns-"));
  try {
    await measure("embedded archive (DATA_DIR)", () => startNode({ DATA_DIR: dataDir }));
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  if (opts.before) {
    const entry = path.resolve(opts.before);
    const dir = mkdtempSync(path.join(os.tmpdir(), "bench-conns-"));
    try {
      await measure("before the archive (history in memory)", () =>
        startNodeServer([...nodeFlags, entry], { ...UNLIMITED, DATA_DIR: dir }, "chat node"),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const redis = await startRedis();
  const pgsql = await startPostgres(pgSettings);
  try {
    await measure("Redis, no archive", () =>
      startNode({ REDIS_URL: `redis://127.0.0.1:${redis.port}`, REDIS_PREFIX: "off" }),
    );
    await measure("Redis + PostgreSQL archive", () =>
      startNode({ REDIS_URL: `redis://127.0.0.1:${redis.port}`, REDIS_PREFIX: "on", DATABASE_URL: pgsql.url }),
    );
  } finally {
    await redis.stop();
    await pgsql.stop();
  }
}

const only = opts.only.split(",");
const engines = opts.engines.split(",");
console.log(`nodes' flags: ${nodeFlags.join(" ") || "none (Node's defaults)"}`);
if (only.includes("ingest")) {
  if (engines.includes("postgres")) await ingestPostgres();
  if (engines.includes("redis")) await ingestPostgres(false);
  if (engines.includes("sqlite")) await ingestSqlite();
}
if (only.includes("scrollback")) for (const engine of engines) await scrollback(engine);
if (only.includes("idle")) await idleRss();
if (only.includes("conns")) await connectionRss();
rmSync(gcMeterDir, { recursive: true, force: true });
