import type { Logger } from "pino";
import type { Archive, ArchivedEntry } from "../archive/archive.js";
import type { RedisKeys } from "../redis/redis-keys.js";
import type { RedisLink } from "../redis/redis-link.js";
import type { StreamEntry } from "../redis/scripts.js";

/** Sets the rooms to carry are noted in; a Cluster spreads them over its shards. */
const SHARDS = 16;
/** Entries taken from one room's carry stream into one transaction. */
const BATCH = 500;
/** Batches one room gets in a pass, so that a long backlog does not starve the other rooms. */
const BATCHES_PER_PASS = 20;

export interface CarryTiming {
  /** How often each node looks for rooms to carry. */
  intervalMs: number;
  /** How long a room stays with the node carrying it without that node renewing it. */
  leaseMs: number;
}

/** How far the archive trails what Redis stored, as this node last saw it. */
export interface ArchiveLag {
  /** Messages stored in Redis and not yet in the database. */
  behind: number;
  /** False while the database refuses or cannot be reached. */
  up: boolean;
}

function shardOf(room: string): number {
  let h = 0;
  for (let i = 0; i < room.length; i++) h = (h * 31 + room.charCodeAt(i)) >>> 0;
  return h % SHARDS;
}

/** What a pass did with one room: entries left behind, whether the database refused, whether it took any. */
interface Carrying {
  left: number;
  refused: boolean;
  carried: boolean;
}

interface Carried extends ArchivedEntry {
  epoch: string;
}

/**
 * One carry stream entry as the archive takes it. A deletion whose message
 * had not reached the database yet took that message's entry out of the
 * stream (its text must not wait there) and brings the tombstone instead.
 */
function toCarried([, fields]: StreamEntry): Carried[] {
  const field = (name: string) => {
    for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
    return undefined;
  };
  const epoch = field("e") ?? "";
  const entry = { mid: Number(field("m")), epoch, ts: Number(field("t")), json: field("f") ?? "" };
  const tomb = field("x");
  if (tomb === undefined) return [entry];
  const tab = tomb.indexOf("\t");
  const json = tomb.slice(tab + 1);
  const mid = Number((JSON.parse(json) as { mid?: unknown }).mid);
  return [{ mid, epoch, ts: Number(tomb.slice(0, tab)), json }, entry];
}

/**
 * Takes what Redis stored into the database (DATABASE_URL with Redis). The
 * script that stores a message also appends it to its room's carry stream,
 * in the room's hash slot; before the sender hears its ack, the room is
 * noted in one of SHARDS index sets. Every node walks the index; for each
 * room, the node holding its lease reads the stream in mid order, writes it
 * in one transaction that skips mids the database already has (so a batch
 * carried twice, after a crash between commit and delete, is stored once),
 * and only then deletes what it wrote from the stream. A node that dies
 * lets its leases lapse, and the others carry on from the stream; a
 * database that is away leaves the entries where they are until it is back.
 */
export class ArchiveCarrier {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private seen: ArchiveLag = { behind: 0, up: true };

  constructor(
    private readonly link: RedisLink,
    private readonly keys: RedisKeys,
    private readonly archive: Archive,
    private readonly nodeId: string,
    private readonly log: Logger,
    private readonly timing: CarryTiming,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.pass().finally(() => {
        this.running = undefined;
      });
    }, this.timing.intervalMs);
  }

  get lag(): ArchiveLag {
    return this.seen;
  }

  /** Notes that a room has entries to carry; the caller waits for it before acknowledging the message. */
  async note(room: string): Promise<void> {
    await this.link.pub.sadd(this.keys.carryIndex(shardOf(room)), room);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  private async pass(): Promise<void> {
    if (!this.link.ready) return;
    let behind = 0;
    let up = true;
    let wrote = false;
    try {
      for (let shard = 0; shard < SHARDS && !this.stopped; shard++) {
        const index = this.keys.carryIndex(shard);
        for (const room of await this.link.pub.smembers(index)) {
          if (this.stopped) return;
          // Once the database refused, the other rooms are only counted: it is not asked again until the next pass.
          const { left, refused, carried } = up ? await this.carryRoom(room, index) : await this.count(room);
          behind += left;
          if (refused) up = false;
          if (carried) wrote = true;
        }
      }
    } catch (err) {
      // Redis away: the pass ends, and the last figures stand until one completes.
      this.log.debug({ err }, "carry pass cut short");
      return;
    }
    // A node whose rooms are all carried by others still says whether the database answers.
    if (up && !wrote)
      up = await this.archive.ping().then(
        () => true,
        () => false,
      );
    if (up !== this.seen.up) {
      if (up) this.log.info({ behind }, "the database is back; the archive is catching up");
      else this.log.warn({ behind }, "the database is out of reach; messages wait in Redis until it is back");
    }
    this.seen = { behind, up };
  }

  /** Carries what it can of one room: the entries left behind, and whether the database refused them. */
  private async carryRoom(room: string, index: string): Promise<Carrying> {
    const pub = this.link.pub;
    const stream = this.keys.roomCarry(room);
    const lease = this.keys.roomCarrier(room);
    let batch = 0;
    for (; batch < BATCHES_PER_PASS && !this.stopped; batch++) {
      if ((await pub.chatCarryLease(lease, this.nodeId, this.timing.leaseMs)) !== 1) break;
      const entries = (await pub.xrange(stream, "-", "+", "COUNT", BATCH)) as StreamEntry[];
      if (entries.length === 0) {
        await pub.srem(index, room);
        // A message stored since the read above was noted after it: either this
        // sees it, or its note comes after the removal. The room is not lost either way.
        if ((await pub.xlen(stream)) > 0) await pub.sadd(index, room);
        return { left: 0, refused: false, carried: batch > 0 };
      }
      try {
        await this.write(room, entries.flatMap(toCarried));
      } catch (err) {
        this.log.debug({ err, room }, "could not carry into the database");
        return { left: await pub.xlen(stream), refused: true, carried: false };
      }
      if ((await pub.chatCarryDone(stream, ...entries.map(([id]) => id))) === 0) {
        await pub.srem(index, room);
        // As above: a message stored after the stream emptied is noted after this removal, or seen here.
        if ((await pub.xlen(stream)) > 0) await pub.sadd(index, room);
        return { left: 0, refused: false, carried: true };
      }
    }
    return { left: await pub.xlen(stream), refused: false, carried: batch > 0 };
  }

  private async count(room: string): Promise<Carrying> {
    return { left: await this.link.pub.xlen(this.keys.roomCarry(room)), refused: true, carried: false };
  }

  /** Consecutive entries of one epoch go in one call. */
  private async write(room: string, entries: Carried[]): Promise<void> {
    let from = 0;
    while (from < entries.length) {
      const epoch = (entries[from] as Carried).epoch;
      let to = from;
      while (to < entries.length && (entries[to] as Carried).epoch === epoch) to++;
      await this.archive.carry(room, epoch, entries.slice(from, to));
      from = to;
    }
  }
}
