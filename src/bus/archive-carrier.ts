import type { Logger } from "pino";
import type { Archive, ArchivedEntry, CarryBatch } from "../archive/archive.js";
import { CARRY_SHARDS, type RedisKeys } from "../redis/redis-keys.js";
import type { RedisLink } from "../redis/redis-link.js";
import type { StreamEntry } from "../redis/scripts.js";

/** Entries taken from one room's carry stream in one round. */
const BATCH = 500;
/** Entries written in one transaction, over all the rooms of a round. */
const ENTRIES_PER_TRANSACTION = 5000;
/** Rooms read at once: what a pass holds in memory stays bounded (a backlog after an outage is read in steps). */
const ROOMS_PER_STEP = 100;
/**
 * Rooms a carry script takes at once on one Redis: a script holds Redis
 * while it runs, and a backlog read at BATCH entries a room must not hold up
 * the messages being stored meanwhile for long.
 */
const ROOMS_PER_CALL = 25;
/** Rounds of a pass: a room with a long backlog gets a BATCH a round, so it does not starve the others. */
const ROUNDS_PER_PASS = 20;

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

/**
 * On one Redis (or behind Sentinel) the script that stores a message notes
 * its room in the carry index in the same step; in a Cluster the index sets
 * live on other shards than the room, and the node notes the room after
 * the script, before the ack.
 */
export const notedByScript = (link: RedisLink): boolean => !link.sharded;

/** A room of the carry index, and the index set it is noted in. */
interface Room {
  room: string;
  index: string;
}

/** A room this node holds the lease of, and what it read of its stream this round. */
interface Taken extends Room {
  entries: StreamEntry[];
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

/** An edit or a deletion on its way to the database, or just arrived there. */
export interface CarriedChange {
  kind: "edit" | "delete";
  mid: number;
  /** When it was stored: an archived message edited at this time has it. */
  ts: number;
  json: string;
}

/** `kind TAB mid TAB time TAB carried TAB frame`, as store-and-publish.lua writes it. */
function carriedChange(value: string): CarriedChange | undefined {
  // A frame is JSON, which has no raw tab in it.
  const [kind, mid, ts, , json = ""] = value.split("\t");
  if (kind !== "edit" && kind !== "delete") return undefined;
  return { kind, mid: Number(mid), ts: Number(ts), json };
}

/** Consecutive entries of one epoch make one batch. */
function batchesOf(room: string, entries: Carried[]): CarryBatch[] {
  const batches: CarryBatch[] = [];
  for (const entry of entries) {
    const last = batches.at(-1);
    if (last?.epoch === entry.epoch) last.entries.push(entry);
    else batches.push({ place: room, epoch: entry.epoch, entries: [entry] });
  }
  return batches;
}

/**
 * Takes what Redis stored into the database (DATABASE_URL with Redis). The
 * script that stores a message also appends it to its room's carry stream,
 * in the room's hash slot, and notes the room in one of CARRY_SHARDS index
 * sets (in a Cluster the node notes it, before the sender hears its ack). Every node walks the index; of the
 * rooms whose lease it takes, it reads each stream in mid order and writes
 * what it read of all of them in one transaction, which skips mids the
 * database already has (so a batch carried twice, after a crash between
 * commit and delete, is stored once); only then does it delete what it
 * wrote from the streams. Each step is one pipelined round trip for all the
 * rooms, so a pass costs about the same for 1 room as for 500. A node that
 * dies lets its leases lapse, and the others carry on from the streams; a
 * database that is away leaves the entries where they are until it is back.
 */
export class ArchiveCarrier {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private seen: ArchiveLag = { behind: 0, up: true };
  /** What each room had left at the end of the last pass. */
  private lastLeft = new Map<string, number>();
  /** One Redis: the scripts note rooms in the carry index and take them out of it. */
  private readonly inScript: boolean;

  constructor(
    private readonly link: RedisLink,
    private readonly keys: RedisKeys,
    private readonly archive: Archive,
    private readonly nodeId: string,
    private readonly log: Logger,
    private readonly timing: CarryTiming,
  ) {
    this.inScript = notedByScript(link);
  }

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

  /** Notes that a room has entries to carry, unless the script did; the caller waits for it before acknowledging the message. */
  async note(room: string): Promise<void> {
    if (notedByScript(this.link)) return;
    await this.link.pub.sadd(this.keys.carryIndexOf(room), room);
  }

  /**
   * The edits and deletions of a room's messages that the database may not
   * hold yet (they stay listed a while after they are carried), by the
   * message they change: a few at most, those of the last seconds.
   */
  async changesOf(place: string): Promise<Map<number, CarriedChange>> {
    const found = new Map<number, CarriedChange>();
    const all = await this.link.pub.hgetall(this.keys.roomCarryChanges(place));
    for (const [target, value] of Object.entries(all)) {
      const change = carriedChange(value);
      if (change) found.set(Number(target), change);
    }
    return found;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  private async pass(): Promise<void> {
    if (!this.link.ready) return;
    const pub = this.link.pub;
    /** Entries each room has left in its stream, as this pass last saw them. */
    const left = new Map<string, number>();
    let up = true;
    let wrote = false;
    try {
      const indexes = Array.from({ length: CARRY_SHARDS }, (_, shard) => this.keys.carryIndex(shard));
      const members = await Promise.all(indexes.map((index) => pub.smembers(index)));
      let todo = indexes.flatMap((index, shard) => (members[shard] ?? []).map((room) => ({ room, index })));
      // While the database is away, a pass asks it once rather than read every room's backlog for nothing.
      if (!this.seen.up && todo.length > 0 && !(await this.ping())) {
        up = false;
        await this.count(
          todo.map((t) => t.room),
          left,
        );
        todo = [];
      }
      for (let round = 0; round < ROUNDS_PER_PASS && todo.length > 0; round++) {
        const next: Room[] = [];
        for (let from = 0; from < todo.length; from += ROOMS_PER_STEP) {
          if (this.stopped) return;
          const rooms = todo.slice(from, from + ROOMS_PER_STEP);
          // Once the database refused, the other rooms are only counted: it is not asked again until the next pass.
          if (!up) {
            await this.count(
              rooms.map((r) => r.room),
              left,
            );
            continue;
          }
          const step = await this.step(rooms, left);
          if (step === undefined) {
            up = false;
            continue;
          }
          if (step.wrote) wrote = true;
          next.push(...step.more);
          this.showLag(left);
        }
        todo = up ? next : [];
      }
    } catch (err) {
      // Redis away: the pass ends, and the last figures stand until one completes.
      this.log.debug({ err }, "carry pass cut short");
      return;
    }
    let behind = 0;
    for (const n of left.values()) behind += n;
    // A node whose rooms are all carried by others still says whether the database answers.
    if (up && !wrote) up = await this.ping();
    if (up !== this.seen.up) {
      if (up) this.log.info({ behind }, "the database is back; the archive is catching up");
      else this.log.warn({ behind }, "the database is out of reach; messages wait in Redis until it is back");
    }
    this.seen = { behind, up };
    this.lastLeft = left;
  }

  /**
   * The lag while a pass runs: the rooms it has been through as it found
   * them, the others as the pass before left them. A pass through a long
   * backlog takes a while, and the gauge must not say nothing is behind
   * meanwhile.
   */
  private showLag(left: Map<string, number>): void {
    let behind = 0;
    for (const [room, n] of this.lastLeft) if (!left.has(room)) behind += n;
    for (const n of left.values()) behind += n;
    this.seen = { ...this.seen, behind };
  }

  /**
   * Carries what this node holds of some rooms: the rooms with more to
   * carry than one read took, and whether it wrote anything; undefined when
   * the database refused (the rooms are then counted).
   */
  private async step(rooms: Room[], left: Map<string, number>): Promise<{ more: Room[]; wrote: boolean } | undefined> {
    const pub = this.link.pub;
    const took = (
      await Promise.all(
        this.calls(rooms).map((call) =>
          pub.chatCarryTake(
            call.length * 2,
            ...call.flatMap(({ room }) => [this.keys.roomCarrier(room), this.keys.roomCarry(room)]),
            this.nodeId,
            this.timing.leaseMs,
          ),
        ),
      )
    ).flat();
    const held: Room[] = [];
    for (const [i, r] of rooms.entries()) {
      const reply = took[i];
      if (reply?.[0] === 1) held.push(r);
      // Another node carries this one: counted, not touched.
      else left.set(r.room, reply?.[1] ?? 0);
    }
    const reads = await Promise.all(
      held.map(({ room }) => pub.xrange(this.keys.roomCarry(room), "-", "+", "COUNT", BATCH)),
    );
    const taken: Taken[] = [];
    const empty: Taken[] = [];
    for (const [i, r] of held.entries()) {
      const entries = reads[i] ?? [];
      (entries.length > 0 ? taken : empty).push({ ...r, entries });
    }
    await this.forget(empty, left);
    const more: Room[] = [];
    for (const group of groups(taken)) {
      try {
        await this.archive.carryMany(group.flatMap(({ room, entries }) => batchesOf(room, entries.flatMap(toCarried))));
      } catch (err) {
        this.log.debug({ err }, "could not carry into the database");
        await this.count(
          taken.map((t) => t.room),
          left,
        );
        return undefined;
      }
      const remaining = (
        await Promise.all(
          this.calls(group).map((call) =>
            pub.chatCarryDone(
              call.length * 3,
              ...call.flatMap(({ room, index }) => [
                this.keys.roomCarry(room),
                this.inScript ? index : this.keys.roomCarry(room),
                this.keys.roomCarryChanges(room),
              ]),
              ...call.flatMap(({ room, entries }) => [entries.at(-1)?.[0] ?? "0-0", this.inScript ? room : ""]),
            ),
          ),
        )
      ).flat();
      const done: Taken[] = [];
      for (const [i, t] of group.entries()) {
        const n = remaining[i] ?? 0;
        if (n === 0) done.push(t);
        left.set(t.room, n);
        // A full read may have more behind it: another round. The rest wait for the next pass.
        if (n > 0 && t.entries.length === BATCH) more.push({ room: t.room, index: t.index });
      }
      // On one Redis the script took the emptied rooms out of the index itself.
      if (!this.inScript) await this.forget(done, left);
    }
    return { more, wrote: taken.length > 0 };
  }

  /**
   * Rooms as the carry scripts take them: ROOMS_PER_CALL a call on one
   * Redis (or behind Sentinel), so a pass over 500 rooms is a few dozen
   * commands, not a few per room; one room a call in a Cluster, where each
   * script may only touch one slot.
   */
  private calls<T extends Room>(rooms: T[]): T[][] {
    const per = this.inScript ? ROOMS_PER_CALL : 1;
    const out: T[][] = [];
    for (let from = 0; from < rooms.length; from += per) out.push(rooms.slice(from, from + per));
    return out;
  }

  private ping(): Promise<boolean> {
    return this.archive.ping().then(
      () => true,
      () => false,
    );
  }

  /** How many entries each room has left, in one pipelined round trip. */
  private async count(rooms: string[], left: Map<string, number>): Promise<void> {
    const lengths = await Promise.all(rooms.map((room) => this.link.pub.xlen(this.keys.roomCarry(room))));
    for (const [i, room] of rooms.entries()) left.set(room, lengths[i] ?? 0);
  }

  /** Takes rooms whose streams emptied out of the index. */
  private async forget(rooms: Taken[], left: Map<string, number>): Promise<void> {
    if (rooms.length === 0) return;
    const pub = this.link.pub;
    await Promise.all(rooms.map(({ room, index }) => pub.srem(index, room)));
    // A message stored since the stream emptied was noted after this removal, or is seen here: the room is not lost either way.
    const lengths = await Promise.all(rooms.map(({ room }) => pub.xlen(this.keys.roomCarry(room))));
    await Promise.all(
      rooms.map(({ room, index }, i) => {
        left.set(room, lengths[i] ?? 0);
        return (lengths[i] ?? 0) > 0 ? pub.sadd(index, room) : undefined;
      }),
    );
  }
}

/** The rooms of a round, in transactions of about ENTRIES_PER_TRANSACTION entries. */
function groups(taken: Taken[]): Taken[][] {
  const out: Taken[][] = [];
  let size = ENTRIES_PER_TRANSACTION;
  for (const t of taken) {
    if (size + t.entries.length > ENTRIES_PER_TRANSACTION) {
      out.push([]);
      size = 0;
    }
    out.at(-1)?.push(t);
    size += t.entries.length;
  }
  return out;
}
