/**
 * The parts of the chat layer on their own, in one process: the gate that
 * orders and de-duplicates, a room feed filling its gaps, the flood guard,
 * the request queue, and the hub's rooms over the embedded broker.
 */
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { HistoryPage } from "../src/bus/broker.js";
import type { Envelope } from "../src/bus/envelope.js";
import { MemoryBroker } from "../src/bus/memory-broker.js";
import { MidGate } from "../src/bus/mid-gate.js";
import { RoomFeed } from "../src/bus/room-feed.js";
import { FloodGuard, SEARCH_MS_PER_TOKEN } from "../src/chat/flood-guard.js";
import { Hub } from "../src/chat/hub.js";
import type { Recipient } from "../src/chat/local-rooms.js";
import type { Meter } from "../src/chat/meter.js";
import { RequestQueue } from "../src/chat/request-queue.js";
import { SearchTurns } from "../src/chat/search-turns.js";
import { MemoryPresence } from "../src/presence/memory-presence.js";
import { RequestError } from "../src/protocol/errors.js";
import type { Ref } from "../src/protocol/requests.js";
import type { OutFrame } from "../src/transport/out-frame.js";

const log = pino({ level: "silent" });
const meter = (): Meter => ({
  stats: { framesIn: 0, framesOut: 0, deliveries: 0 },
  refused: () => undefined,
  publishTimer: () => () => undefined,
});
const numbered = (mid: number, epoch = "e1"): Envelope => ({ mid, epoch, json: `{"mid":${mid}}` });

describe("MidGate", () => {
  it("lets each mid through once and only upwards, and unnumbered items always", () => {
    const gate = new MidGate<{ mid?: number }>();
    const passed = [{ mid: 1 }, { mid: 2 }, { mid: 2 }, {}, { mid: 1 }, { mid: 5 }].map((x) => gate.admit(x));
    expect(passed).toEqual([true, true, false, true, false, true]);
    expect(gate.last).toBe(5);
  });

  it("keeps what arrives while holding, and gives it back in arrival order", () => {
    const gate = new MidGate<{ mid?: number }>();
    expect(gate.keep({ mid: 1 })).toBe(false);
    gate.hold();
    expect([gate.keep({ mid: 3 }), gate.keep({}), gate.keep({ mid: 4 })]).toEqual([true, true, true]);
    expect(gate.release()).toEqual([{ mid: 3 }, {}, { mid: 4 }]);
    expect(gate.holding).toBe(false);
  });
});

describe("RoomFeed", () => {
  /** `failing`: how many reads fail first, as while Redis restarts. */
  function feed(stored: Envelope[], failing = 0) {
    const delivered: (number | undefined)[] = [];
    const resets: string[] = [];
    const reads: number[] = [];
    const history = {
      readSince: async (_room: string, since: number, epoch: string): Promise<HistoryPage> => {
        reads.push(since);
        if (reads.length <= failing) throw new Error("Connection is closed.");
        const messages = stored.filter((e) => (e.mid ?? 0) > since).map((e) => ({ mid: e.mid ?? 0, json: e.json }));
        return { epoch, top: stored.length, messages, complete: true };
      },
    };
    const handler = {
      onRoom: (_room: string, e: Envelope) => delivered.push(e.mid),
      onNode: () => undefined,
      onHistoryReset: (_room: string, epoch: string) => resets.push(epoch),
    };
    return { room: new RoomFeed("r", "chan", history, handler, log), delivered, resets, reads };
  }

  it("reads a skipped mid from history, then delivers what waited, each once and in order", async () => {
    const stored = [1, 2, 3, 4, 5].map((m) => numbered(m));
    const f = feed(stored);
    f.room.receive(numbered(1));
    f.room.receive(numbered(4));
    f.room.receive(numbered(5));
    f.room.receive({ json: "typing" });
    await expect.poll(() => f.delivered).toEqual([1, 2, 3, 4, 5, undefined]);
    expect(f.reads).toEqual([1]);
  });

  it("keeps what came after a gap until a read of the gap succeeds, rather than skip it when the first read fails", async () => {
    const f = feed(
      [1, 2, 3].map((m) => numbered(m)),
      2,
    );
    f.room.receive(numbered(1));
    f.room.receive(numbered(3));
    await expect.poll(() => f.delivered, { timeout: 5000 }).toEqual([1, 2, 3]);
    expect(f.reads).toEqual([1, 1, 1]);
  });

  it("passes a new epoch on as a reset, and counts from its first mid again", () => {
    const f = feed([]);
    f.room.receive(numbered(7));
    f.room.receive(numbered(1, "e2"));
    f.room.receive(numbered(2, "e2"));
    expect(f.delivered).toEqual([7, 1, 2]);
    expect(f.resets).toEqual(["e2"]);
  });
});

describe("FloodGuard", () => {
  it("passes a burst, refuses past it (naming the first refusal), and closes after FLOOD_CLOSE_AFTER", () => {
    const guard = new FloodGuard({
      rateLimit: 0.001,
      rateBurst: 2,
      floodCloseAfter: 3,
      maxRooms: 1,
      maxConversations: 1,
      maxRoomsPerUser: 50,
    });
    expect(Array.from({ length: 5 }, () => guard.check())).toEqual([
      "pass",
      "pass",
      "first_refusal",
      "refusal",
      "close",
    ]);
  });

  it("charges a search by the time it took: a request's worth per SEARCH_MS_PER_TOKEN", () => {
    const policy = {
      rateLimit: 0.001,
      rateBurst: 10,
      floodCloseAfter: 100,
      maxRooms: 1,
      maxConversations: 1,
      maxRoomsPerUser: 50,
    };
    const quick = new FloodGuard(policy);
    quick.chargeWork(SEARCH_MS_PER_TOKEN - 1);
    const slow = new FloodGuard(policy);
    slow.chargeWork(9 * SEARCH_MS_PER_TOKEN);
    const passes = (guard: FloodGuard) =>
      Array.from({ length: 10 }, () => guard.check()).filter((v) => v === "pass").length;
    expect(passes(quick)).toBe(10);
    expect(passes(slow)).toBe(1);
  });
});

describe("SearchTurns", () => {
  it("runs one search at a time for each user and each address, and any others side by side", async () => {
    const turns = new SearchTurns();
    const order: string[] = [];
    const run = async (name: string, uid: string, address: string, ms: number) => {
      const done = await turns.take(uid, address);
      order.push(`${name} starts`);
      await new Promise((r) => setTimeout(r, ms));
      order.push(`${name} ends`);
      done();
    };
    await Promise.all([
      run("ada 1", "ada", "10.0.0.1", 30),
      // Ada again from another address, and another guest from Ada's: each waits for Ada's first.
      run("ada 2", "ada", "10.0.0.2", 10),
      run("eve", "eve", "10.0.0.1", 10),
      // Someone else from elsewhere is not held up.
      run("bob", "bob", "10.0.0.3", 10),
    ]);
    expect(order.slice(0, 2)).toEqual(["ada 1 starts", "bob starts"]);
    expect(order.indexOf("ada 2 starts")).toBeGreaterThan(order.indexOf("ada 1 ends"));
    expect(order.indexOf("eve starts")).toBeGreaterThan(order.indexOf("ada 1 ends"));
    expect(turns.size).toBe(0);
  });
});

describe("RequestQueue", () => {
  it("runs requests one after another and refuses a failed one once, with its ref", async () => {
    const refused: [string, Ref][] = [];
    const queue = new RequestQueue({ refuse: (err, ref) => refused.push([(err as Error).message, ref]) });
    const ran: number[] = [];
    queue.push(async () => {
      await new Promise((r) => setTimeout(r, 20));
      ran.push(1);
    });
    queue.push(
      async () => {
        throw new RequestError("bad_room", "no");
      },
      () => "r2",
    );
    queue.push(async () => {
      ran.push(3);
    });
    await queue.settled;
    expect(ran).toEqual([1, 3]);
    expect(refused).toEqual([["no", "r2"]]);
  });

  it("lets 63 operations run detached and makes the 64th wait", async () => {
    const queue = new RequestQueue({ refuse: () => undefined });
    const never = new Promise<void>(() => undefined);
    const waits = Array.from({ length: 64 }, () => queue.detach(never, undefined));
    expect(waits.slice(0, 63).every((w) => w === undefined)).toBe(true);
    expect(waits[63]).toBeInstanceOf(Promise);
  });
});

describe("Hub over the embedded broker", () => {
  class Member implements Recipient {
    readonly got: string[] = [];
    readonly uid: string;
    constructor(
      readonly id: string,
      public name: string,
      readonly proto: 1 | 2 = 1,
    ) {
      this.uid = `u-${id}`;
    }
    get nameKey(): string {
      return this.name.toLowerCase();
    }
    write(frame: OutFrame): void {
      this.got.push(frame.text);
    }
    send(json: string): void {
      this.got.push(json);
    }
    left(): void {}
    renamed(name: string): void {
      this.name = name;
    }
    readonly persistent = false;
    readonly kept = false;
    peerIn(): string | undefined {
      return undefined;
    }
  }

  async function hub() {
    const h = new Hub(
      new MemoryBroker("n1", { size: 100, maxAgeMs: 0, idleMs: 60_000 }),
      new MemoryPresence(),
      log,
      { maxRoomsHere: 100, bigRoom: 3 },
      meter(),
    );
    await h.start();
    return h;
  }
  const mids = (m: Member) =>
    m.got
      .map((t) => JSON.parse(t) as { action: string; mid?: number })
      .filter((f) => f.action === "message")
      .map((f) => f.mid);

  it("holds a joining member's live messages until its history is sent, then sends only what is newer", async () => {
    const h = await hub();
    const talker = new Member("n1.a", "A");
    const joiner = new Member("n1.b", "B");
    await h.enter("r", talker, false);
    await h.publishMessage("r", talker, "one", undefined);
    await h.enter("r", joiner, true);
    // Sent while the joiner's history is being read: the history (read now) holds 1-2, 3 comes after.
    await h.publishMessage("r", talker, "two", undefined);
    const page = await h.history("r", { limit: 10 });
    await h.publishMessage("r", talker, "three", undefined);
    expect(mids(joiner)).toEqual([]);
    h.release("r", joiner, page.top);
    expect(page.messages.map((m) => m.mid)).toEqual([1, 2]);
    expect(mids(joiner)).toEqual([3]);
    expect(mids(talker)).toEqual([1, 2, 3]);
    await h.stop();
  });

  it("sends a private message to a local connection and pm_sent back, and refuses an unknown one as offline", async () => {
    const h = await hub();
    const from = new Member("n1.a", "A");
    const to = new Member("n1.b", "B");
    await h.register(from);
    await h.register(to);
    await h.sendPm(from, to.id, "psst", 7);
    expect(JSON.parse(to.got[0] ?? "{}")).toMatchObject({ action: "pm", message: "psst", target: { id: to.id } });
    expect(JSON.parse(from.got[0] ?? "{}")).toMatchObject({ action: "pm_sent", ref: 7, target: { name: "B" } });
    await expect(h.sendPm(from, "n1.gone", "hi", undefined)).rejects.toMatchObject({ code: "offline" });
    await expect(h.sendPm(from, "other-node.x", "hi", undefined)).rejects.toMatchObject({ code: "offline" });
    await h.stop();
  });
});

describe("presence, per user and coalesced", () => {
  const frames = (m: { got: string[] }) => m.got.map((t) => JSON.parse(t) as Record<string, unknown>);
  class Conn implements Recipient {
    readonly got: string[] = [];
    constructor(
      readonly id: string,
      readonly uid: string,
      readonly name: string,
      readonly proto: 1 | 2,
    ) {}
    get nameKey(): string {
      return this.name.toLowerCase();
    }
    write(frame: OutFrame): void {
      this.got.push(frame.text);
    }
    send(json: string): void {
      this.got.push(json);
    }
    left(): void {}
    renamed(): void {}
    readonly persistent = false;
    readonly kept = false;
    peerIn(): string | undefined {
      return undefined;
    }
  }

  async function hub(bigRoom = 100) {
    const h = new Hub(
      new MemoryBroker("n1", { size: 100, maxAgeMs: 0, idleMs: 60_000 }),
      new MemoryPresence(),
      log,
      { maxRoomsHere: 100, bigRoom },
      meter(),
    );
    await h.start();
    return h;
  }

  it("announces a user once however many connections, and their departure only when the last is gone", async () => {
    const h = await hub();
    const watcherNew = new Conn("n1.w2", "w2", "W2", 2);
    const watcherOld = new Conn("n1.w1", "w1", "W1", 1);
    await h.enter("r", watcherNew, false);
    await h.enter("r", watcherOld, false);
    const tab1 = new Conn("n1.a1", "alice", "Alice", 2);
    const tab2 = new Conn("n1.a2", "alice", "Alice", 2);
    await h.enter("r", tab1, false);
    await h.enter("r", tab2, false);
    await new Promise((r) => setImmediate(r));
    await h.exit("r", tab1, 0);
    await new Promise((r) => setTimeout(r, 20));
    const joins = frames(watcherOld).filter((f) => f.action === "user_join" && f.uid === "alice");
    expect(joins).toHaveLength(1);
    expect(
      frames(watcherNew).filter((f) => f.action === "presence" && JSON.stringify(f.joined).includes("alice")),
    ).toHaveLength(1);
    expect(frames(watcherOld).some((f) => f.action === "user_left")).toBe(false);
    await h.exit("r", tab2, 30);
    await expect.poll(() => frames(watcherOld).filter((f) => f.action === "user_left")).toHaveLength(1);
    const left = frames(watcherNew).filter((f) => f.action === "presence" && (f.left as unknown[]).length > 0);
    expect(left).toEqual([
      { action: "presence", room: "r", joined: [], left: [expect.objectContaining({ uid: "alice" })], count: 2 },
    ]);
    await h.stop();
  });

  it("coalesces a crowd into one presence frame a step, and names nobody once the room is big", async () => {
    const h = await hub(5);
    const watcher = new Conn("n1.w", "w", "W", 2);
    const old = new Conn("n1.o", "o", "O", 1);
    await h.enter("r", watcher, false);
    await h.enter("r", old, false);
    await new Promise((r) => setImmediate(r));
    await Promise.all([1, 2].map((i) => h.enter("r", new Conn(`n1.c${i}`, `c${i}`, `C${i}`, 1), false)));
    await new Promise((r) => setImmediate(r));
    const steps = frames(watcher).filter((f) => f.action === "presence");
    expect(steps.at(-1)).toMatchObject({ count: 4 });
    expect(steps.at(-1)?.joined).toHaveLength(2);
    // Past five, arrivals are only counted, and the original protocol's clients hear nothing of them.
    const before = old.got.length;
    await Promise.all([3, 4, 5].map((i) => h.enter("r", new Conn(`n1.c${i}`, `c${i}`, `C${i}`, 1), false)));
    await expect.poll(() => frames(watcher).at(-1), { timeout: 3000 }).toMatchObject({ joined: [], count: 7 });
    expect(old.got.length).toBe(before);
    await h.stop();
  });
});
