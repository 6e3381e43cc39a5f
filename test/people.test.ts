/**
 * People, not connections: identity across reloads and nodes, presence per
 * user with a grace period, direct messages as stored conversations, read
 * state that follows the user. Each case runs on the embedded bus and on two
 * nodes sharing one Redis.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { connectUser, joinedUser, joinRoom, say, type User } from "./support/chat.js";
import type { NodeProcess } from "./support/processes.js";
import { perFile } from "./support/scope.js";
import type { Frame } from "./support/sockjs-client.js";

const GRACE_MS = 2000;
/** Long enough past the grace period for any departure to have been announced. */
const AFTER_GRACE_MS = GRACE_MS + 2000;

const scope = perFile();

/** A `proto=2` client: a lasting guest (the same one again when `as` gives its token), joining rooms itself. */
async function guest(node: NodeProcess, as?: User | string): Promise<User> {
  const token = typeof as === "string" ? as : as?.guest;
  const query = `proto=2&lobby=0${token ? `&guest=${encodeURIComponent(token)}` : ""}`;
  const u = await connectUser(node.url, { query });
  scope.defer(() => u.client.close());
  return u;
}

/** A client of the original protocol, in the lobby. */
async function original(node: NodeProcess): Promise<User> {
  const u = await joinedUser(node.url);
  scope.defer(() => u.client.close());
  return u;
}

async function nick(u: User, name: string): Promise<void> {
  const ref = `nick-${Math.random()}`;
  await u.client.send({ action: "nick", name, ref });
  await u.client.action("ack", (f) => f.ref === ref);
}

async function dm(from: User, to: User, message: string): Promise<number> {
  const ref = `dm-${Math.random()}`;
  await from.client.send({ action: "dm", to: to.uid, message, ref });
  const reply = await from.client.next((f) => f.ref === ref && (f.action === "ack" || f.action === "error"));
  if (reply.action === "error") throw new Error(`dm refused: ${JSON.stringify(reply)}`);
  return Number(reply.mid);
}

async function openWith(u: User, other: User, extra: Record<string, unknown> = {}): Promise<Frame> {
  const ref = `open-${Math.random()}`;
  await u.client.send({ action: "join", with: other.uid, ref, ...extra });
  return u.client.next((f) => f.ref === ref && (f.action === "history" || f.action === "error"));
}

/**
 * Resolves once `watcher` (an original-protocol client in `room`) has heard of
 * a departure due after anything it has been wrongly sent so far: a guest who
 * can come back enters, closes, and is announced gone a grace period later.
 * What the watcher has not heard by then, no grace period was running for.
 */
async function afterALaterDeparture(node: NodeProcess, room: string, watcher: User): Promise<void> {
  const marker = await guest(node);
  await joinRoom(marker, room);
  await watcher.client.action("user_join", (f) => f.uid === marker.uid && f.room === room);
  marker.client.close();
  await watcher.client.action("user_left", (f) => f.uid === marker.uid && f.room === room, GRACE_MS + 5000);
}

const presenceOf = (u: User, uid: string, key: "joined" | "left") =>
  u.client.all("presence").filter((f) => (f[key] as { uid: string }[]).some((p) => p.uid === uid));

describe.each(["embedded", "Redis"] as const)("people (%s)", (mode) => {
  let a: NodeProcess;
  let b: NodeProcess;

  beforeAll(async () => {
    const env: Record<string, string> = { PRESENCE_GRACE: String(GRACE_MS / 1000), RATE_LIMIT: "0" };
    if (mode === "embedded") {
      a = await scope.node(env);
      b = a;
      return;
    }
    const redis = await scope.redis();
    Object.assign(env, { REDIS_URL: redis.url, PRESENCE_TTL: "3" });
    [a, b] = await Promise.all([scope.node(env), scope.node(env)]);
  }, 60_000);

  it("keeps a guest's identity, name and rooms when it comes back with its token, on any node", async () => {
    const first = await guest(a);
    expect(first.uid).toMatch(/^g-/);
    expect(first.guest).toBeTypeOf("string");
    await nick(first, "Quinn");
    await joinRoom(first, "plans");
    first.client.close();
    const again = await guest(b, first);
    expect(again.uid).toBe(first.uid);
    expect(again.id).not.toBe(first.id);
    expect(again.name).toBe("Quinn");
    expect(again.info.rooms).toEqual(["plans"]);
    // A token with another signature makes a new guest, not the same one.
    const forged = `${first.guest?.slice(0, -4)}AAAA`;
    const stranger = await guest(a, forged);
    expect(stranger.uid).not.toBe(first.uid);
    // A client of the original protocol is somebody new each time, and is given nothing to keep.
    const [one, two] = [await original(a), await original(a)];
    expect(one.uid).not.toBe(two.uid);
    expect(one.info.guest).toBeUndefined();
    expect(one.info.rooms).toBeUndefined();
  });

  it("shows a user once however many connections, and announces them gone once, after the last", async () => {
    const room = `once-${mode.toLowerCase()}`;
    const oldWatcher = await original(a);
    await joinRoom(oldWatcher, room);
    const newWatcher = await guest(b);
    await joinRoom(newWatcher, room);
    const tab1 = await guest(a);
    const tab2 = await guest(b, tab1);
    await joinRoom(tab1, room);
    const list = await joinRoom(tab2, room);
    expect((list.users as { uid: string }[]).filter((u) => u.uid === tab1.uid)).toHaveLength(1);
    expect(list.count).toBe(3);
    await oldWatcher.client.action("user_join", (f) => f.uid === tab1.uid && f.room === room);
    await expect.poll(() => presenceOf(newWatcher, tab1.uid, "joined")).toHaveLength(1);

    tab1.client.close();
    await afterALaterDeparture(b, room, oldWatcher);
    expect(oldWatcher.client.all("user_left").filter((f) => f.uid === tab1.uid)).toEqual([]);
    expect(presenceOf(newWatcher, tab1.uid, "left")).toEqual([]);

    const closed = Date.now();
    tab2.client.close();
    await oldWatcher.client.action("user_left", (f) => f.uid === tab1.uid, AFTER_GRACE_MS + 2000);
    expect(Date.now() - closed).toBeGreaterThanOrEqual(GRACE_MS - 100);
    await expect.poll(() => presenceOf(newWatcher, tab1.uid, "left")).toHaveLength(1);
    expect(oldWatcher.client.all("user_join").filter((f) => f.uid === tab1.uid)).toHaveLength(1);
    expect(oldWatcher.client.all("user_left").filter((f) => f.uid === tab1.uid)).toHaveLength(1);
  });

  it("announces nothing when a user reloads within the grace period", async () => {
    const room = `reload-${mode.toLowerCase()}`;
    const watcher = await original(b);
    await joinRoom(watcher, room);
    const before = await guest(a);
    await joinRoom(before, room);
    await watcher.client.action("user_join", (f) => f.uid === before.uid);
    before.client.close();
    const after = await guest(b, before);
    await joinRoom(after, room);
    await afterALaterDeparture(a, room, watcher);
    expect(watcher.client.all("user_left").filter((f) => f.uid === before.uid)).toEqual([]);
    expect(watcher.client.all("user_join").filter((f) => f.uid === before.uid)).toHaveLength(1);
  });

  it("takes a user out of a room everywhere when one connection leaves it, and says so at once", async () => {
    const room = `exit-${mode.toLowerCase()}`;
    const watcher = await original(a);
    await joinRoom(watcher, room);
    const tab1 = await guest(a);
    const tab2 = await guest(b, tab1);
    await joinRoom(tab1, room);
    await joinRoom(tab2, room);
    await tab1.client.send({ action: "leave", room, ref: "bye" });
    await tab1.client.action("left", (f) => f.ref === "bye");
    await tab2.client.action("left", (f) => f.room === room);
    await watcher.client.action("user_left", (f) => f.uid === tab1.uid, GRACE_MS - 500);
    const back = await guest(a, tab1);
    expect(back.info.rooms).not.toContain(room);
  });

  it("tells a user's other connections when it joins a room", async () => {
    const tab1 = await guest(a);
    const tab2 = await guest(b, tab1);
    await joinRoom(tab1, `follow-${mode.toLowerCase()}`);
    expect(await tab2.client.action("joined")).toEqual({ action: "joined", room: `follow-${mode.toLowerCase()}` });
  });

  it("lists a user under a connection that is still there, so an original-protocol pm reaches them", async () => {
    const room = `reps-${mode.toLowerCase()}`;
    const old = await original(a);
    await joinRoom(old, room);
    const tab1 = await guest(a);
    const tab2 = await guest(b, tab1);
    await joinRoom(tab1, room);
    await joinRoom(tab2, room);
    tab2.client.close();
    await vi.waitFor(async () => {
      const ref = `who-${Math.random()}`;
      await old.client.send({ action: "users", room, ref });
      const list = await old.client.action("users", (f) => f.ref === ref);
      expect((list.users as Frame[]).find((u) => u.uid === tab1.uid)?.id).toBe(tab1.id);
    });
    await old.client.send({ action: "pm", target: { id: tab1.id }, message: "still there?" });
    expect(await tab1.client.action("pm")).toMatchObject({ message: "still there?", id: old.id });
  });

  it("renames a user in every room it is in, also those only its other connections have joined", async () => {
    const room = `renamed-${mode.toLowerCase()}`;
    const watcher = await guest(a);
    await joinRoom(watcher, room);
    const tab1 = await guest(a);
    const tab2 = await guest(b, tab1);
    await joinRoom(tab1, room);
    await nick(tab2, `Renamed ${mode}`);
    expect(await watcher.client.action("user_renamed", (f) => f.uid === tab1.uid)).toMatchObject({
      room,
      name: `Renamed ${mode}`,
    });
    const ref = `who-${mode}`;
    await watcher.client.send({ action: "users", room, ref });
    const list = await watcher.client.action("users", (f) => f.ref === ref);
    expect((list.users as Frame[]).find((u) => u.uid === tab1.uid)?.name).toBe(`Renamed ${mode}`);
  });

  it("stores a direct message to a user who is offline, and delivers it when they return, once and in order", async () => {
    const bob = await guest(b);
    await nick(bob, "Bob");
    bob.client.close();
    const alice = await guest(a);
    await nick(alice, "Alice");
    const mids = [await dm(alice, bob, "one"), await dm(alice, bob, "two"), await dm(alice, bob, "three")];
    expect(mids).toEqual([1, 2, 3]);

    const back = await guest(a, bob);
    expect(back.info.conversations).toEqual([{ uid: alice.uid, name: "Alice" }]);
    const history = await openWith(back, alice);
    expect(history).toMatchObject({
      action: "history",
      with: alice.uid,
      name: "Alice",
      top: 3,
      read: 0,
      more: false,
    });
    const messages = history.messages as Frame[];
    expect(messages.map((m) => [m.mid, m.message, m.uid, m.to])).toEqual([
      [1, "one", alice.uid, bob.uid],
      [2, "two", alice.uid, bob.uid],
      [3, "three", alice.uid, bob.uid],
    ]);

    // Live: to each of the recipient's connections that has it open, and the sender's other ones.
    const aliceTab = await guest(b, alice);
    await openWith(aliceTab, back);
    const four = await dm(alice, bob, "four");
    // A later message of the same conversation comes after any copy of the one before.
    const marker = await dm(alice, bob, "marker");
    for (const u of [back, aliceTab]) {
      await u.client.action("dm", (f) => f.mid === marker);
      expect(u.client.all("dm").map((f) => f.mid)).toEqual([four, marker]);
    }

    // Away and back with `since`: exactly what it missed.
    const epoch = String(history.epoch);
    back.client.close();
    await dm(alice, bob, "five");
    await dm(alice, bob, "six");
    const resumed = await guest(b, bob);
    const missed = await openWith(resumed, alice, { since: marker, epoch });
    expect(missed.recovered).toBe(true);
    expect((missed.messages as Frame[]).map((m) => m.message)).toEqual(["five", "six"]);
  });

  it("tells a connection that has not opened the conversation that a message came, and who wrote it", async () => {
    const dana = await guest(a);
    await nick(dana, "Dana");
    const eli = await guest(b);
    await dm(dana, eli, "are you there?");
    expect(await eli.client.action("conversation")).toEqual({
      action: "conversation",
      with: { uid: dana.uid, name: "Dana" },
    });
    expect(eli.client.all("dm")).toEqual([]);
  });

  it("lets nobody else read a conversation, by any action", async () => {
    const [ann, ben, cat] = [await guest(a), await guest(b), await guest(a)];
    await dm(ann, ben, "between ann and ben");
    // Cat names users, never a conversation: each of her requests reaches only conversations she is in.
    const withAnn = await openWith(cat, ann);
    expect(withAnn.messages).toEqual([]);
    const withBen = await openWith(cat, ben);
    expect(withBen.messages).toEqual([]);
    await cat.client.send({ action: "history", with: ann.uid, ref: "h" });
    expect((await cat.client.action("history", (f) => f.ref === "h")).messages).toEqual([]);
    await cat.client.send({ action: "typing", with: ben.uid });
    await dm(ann, ben, "still private");
    await ben.client.action("conversation");
    const marker = await dm(cat, ann, "a marker of cat's own");
    await ann.client.action("conversation", (f) => (f.with as { uid: string }).uid === cat.uid);
    await cat.client.next((f) => f.action === "ack" && f.mid === marker);
    const seen = JSON.stringify(cat.client.frames);
    expect(seen).not.toContain("between ann and ben");
    expect(seen).not.toContain("still private");
    // An unknown user has no conversation to open.
    await cat.client.send({ action: "join", with: "g-nobody", ref: "x" });
    expect(await cat.client.action("error", (f) => f.ref === "x")).toMatchObject({ code: "no_such_user" });
  });

  it("keeps read state per user: one connection reads, the others are told, and a new one starts there", async () => {
    const room = `reading-${mode.toLowerCase()}`;
    const writer = await original(a);
    await joinRoom(writer, room);
    const tab1 = await guest(a);
    const tab2 = await guest(b, tab1);
    const joined = await joinRoom(tab1, room);
    expect((joined.users as { uid: string }[]).map((u) => u.uid).sort()).toEqual([writer.uid, tab1.uid].sort());
    expect(joined.count).toBe(2);
    await joinRoom(tab2, room);
    for (const text of ["r1", "r2", "r3"]) await say(writer, text, room);
    const history = await tab1.client.action("history", (f) => f.room === room);
    await tab1.client.send({ action: "read", room, mid: 3, epoch: history.epoch, ref: "rd" });
    await tab1.client.action("ack", (f) => f.ref === "rd");
    expect(await tab2.client.action("read")).toEqual({ action: "read", room, mid: 3, epoch: history.epoch });
    const later = await guest(a, tab1);
    await joinRoom(later, room);
    expect(await later.client.action("history", (f) => f.room === room)).toMatchObject({ top: 3, read: 3 });
    // A mark only moves forward: not by a lower mid, nor by a tab holding on to a history that is gone.
    await tab2.client.send({ action: "read", room, mid: 1, epoch: history.epoch, ref: "back" });
    await tab2.client.action("ack", (f) => f.ref === "back");
    await tab2.client.send({ action: "read", room, mid: 1, epoch: "stale", ref: "stale" });
    await tab2.client.action("ack", (f) => f.ref === "stale");
    const last = await guest(b, tab1);
    await joinRoom(last, room);
    expect(await last.client.action("history", (f) => f.room === room)).toMatchObject({ read: 3 });
    // A client of the original protocol has no lasting identity to keep it for.
    await writer.client.send({ action: "read", room, mid: 3, epoch: history.epoch, ref: "no" });
    expect(await writer.client.action("error", (f) => f.ref === "no")).toMatchObject({ code: "forbidden" });
  });
});

describe.each(["embedded", "Redis"] as const)("one's own messages (%s)", (mode) => {
  it("are read: after a reload, neither a room's nor a conversation's own messages count as unread", async () => {
    const env: Record<string, string> = { RATE_LIMIT: "0" };
    if (mode === "Redis") env.REDIS_URL = (await scope.redis()).url;
    const n = await scope.node(env);
    const room = "own-words";
    const writer = await guest(n);
    const reader = await guest(n);
    await joinRoom(writer, room);
    await joinRoom(reader, room);
    const heard = await say(reader, "before", room);
    for (const text of ["one", "two", "three"]) await say(writer, text, room);
    for (const text of ["dm one", "dm two"]) await dm(writer, reader, text);

    const reloaded = await guest(n, writer);
    await joinRoom(reloaded, room);
    expect(await reloaded.client.action("history", (f) => f.room === room)).toMatchObject({ top: 4, read: 4 });
    expect(await openWith(reloaded, reader)).toMatchObject({ top: 2, read: 2 });
    // The mark is the writer's alone: the reader has read only what it wrote itself.
    const other = await guest(n, reader);
    await joinRoom(other, room);
    expect(await other.client.action("history", (f) => f.room === room)).toMatchObject({ top: 4, read: heard });
    expect(await openWith(other, writer)).toMatchObject({ top: 2, read: 0 });
  });
});

describe("a big room", () => {
  let n: NodeProcess;
  beforeAll(async () => {
    n = await scope.node({ PRESENCE_BIG_ROOM: "5", RATE_LIMIT: "0", MAX_CONNECTIONS_PER_IP: "0" });
  });
  afterAll(() => undefined);

  it("counts arrivals instead of naming them, and lists its users a page at a time", async () => {
    const oldWatcher = await original(n);
    const newWatcher = await guest(n);
    await joinRoom(newWatcher, "lobby");
    const crowd: User[] = [];
    for (let i = 0; i < 120; i++) crowd.push(await original(n));
    // Below five users each arrival was named; from then on nobody is, and the count moves at most once a second.
    const named = oldWatcher.client.all("user_join").map((f) => f.uid);
    expect(named).toEqual([newWatcher.uid, crowd[0]?.uid, crowd[1]?.uid]);
    await expect
      .poll(() => newWatcher.client.all("presence").at(-1), { timeout: 5000 })
      .toMatchObject({ joined: [], left: [], count: 122 });
    expect(newWatcher.client.all("presence").length).toBeLessThan(20);

    const first = await newWatcher.client
      .send({ action: "users", ref: "p1" })
      .then(() => newWatcher.client.action("users", (f) => f.ref === "p1"));
    expect(first.count).toBe(122);
    const seen = new Set((first.users as { uid: string }[]).map((u) => u.uid));
    expect(seen.size).toBe(100);
    let next = first.next as string | undefined;
    expect(next).toBeDefined();
    for (let page = 2; next !== undefined && page < 10; page++) {
      await newWatcher.client.send({ action: "users", after: next, ref: `p${page}` });
      const more = await newWatcher.client.action("users", (f) => f.ref === `p${page}`);
      for (const u of more.users as { uid: string }[]) seen.add(u.uid);
      next = more.next as string | undefined;
    }
    expect(seen.size).toBe(122);
    for (const u of crowd) expect(seen.has(u.uid)).toBe(true);
  }, 60_000);
});

describe("a node restart that users ride out", () => {
  it("announces nothing to the rooms when its users come back on another node within the grace period", async () => {
    const redis = await scope.redis();
    const env = { REDIS_URL: redis.url, PRESENCE_GRACE: "3", PRESENCE_TTL: "3", RATE_LIMIT: "0" };
    const [restarting, staying] = await Promise.all([scope.node(env), scope.node(env)]);
    const watcher = await original(staying);
    const riders = await Promise.all([guest(restarting), guest(restarting), guest(restarting)]);
    for (const r of riders) await joinRoom(r, "lobby");
    for (const r of riders) await watcher.client.action("user_join", (f) => f.uid === r.uid);
    const joinsBefore = watcher.client.all("user_join").filter((f) => riders.some((r) => r.uid === f.uid)).length;
    // Each rider reconnects to the other node as soon as it is told the server is going away.
    const back = riders.map(
      (r) =>
        new Promise<User>((resolve) =>
          r.client.onClose(() => {
            void guest(staying, r).then(async (again) => {
              await joinRoom(again, "lobby");
              resolve(again);
            });
          }),
        ),
    );
    await restarting.stop();
    await Promise.all(back);
    await afterALaterDeparture(staying, "lobby", watcher);
    const riding = (f: Frame) => riders.some((r) => r.uid === f.uid);
    expect(watcher.client.all("user_left").filter(riding)).toEqual([]);
    expect(watcher.client.all("user_join").filter(riding).length).toBe(joinsBefore);
  }, 60_000);
});

describe.each(["embedded", "Redis"] as const)("what is kept while people are away (%s)", (mode) => {
  it("keeps a conversation for as long as its users, after an idle room has been forgotten (Redis) or kept (embedded)", async () => {
    const env: Record<string, string> = { ROOM_IDLE_TTL: "2", RATE_LIMIT: "0" };
    if (mode === "Redis") env.REDIS_URL = (await scope.redis()).url;
    const n = await scope.node(env);
    const ada = await guest(n);
    const bob = await guest(n);
    // A guest is kept once it has done something worth keeping: here, taken a name.
    await nick(bob, `Bob ${mode}`);
    bob.client.close();
    await dm(ada, bob, "for when you are back");
    await joinRoom(ada, "quiet");
    await say(ada, "anyone?", "quiet");
    await joinRoom(ada, "lobby");
    await ada.client.send({ action: "leave", room: "quiet", ref: "bye" });
    await ada.client.action("left", (f) => f.ref === "bye");
    // Well past the rooms' idle time (2 s), well within the users' (30 days).
    await sleep(5000);
    const again = await guest(n, bob);
    const conversation = await openWith(again, ada);
    expect((conversation.messages as Frame[]).map((m) => m.message)).toEqual(["for when you are back"]);
    const history = await (async () => {
      await joinRoom(again, "quiet");
      return again.client.action("history", (f) => f.room === "quiet");
    })();
    if (mode === "Redis") {
      expect(history).toMatchObject({ top: 0, messages: [] });
    } else {
      // The embedded archive is a system of record: a room is kept for RETENTION_DAYS, however idle.
      expect(history).toMatchObject({ top: 1 });
      expect((history.messages as Frame[]).map((m) => m.message)).toEqual(["anyone?"]);
    }
  }, 30_000);
});

describe.each(["embedded", "Redis"] as const)("USER_IDLE_TTL (%s)", (mode) => {
  it("keeps a user who stays connected past it, and forgets one gone for longer", async () => {
    const env: Record<string, string> = { USER_IDLE_TTL: "2", RATE_LIMIT: "0" };
    if (mode === "Redis") env.REDIS_URL = (await scope.redis()).url;
    const n = await scope.node(env);
    const stays = await guest(n);
    await nick(stays, `Stays ${mode}`);
    const goes = await guest(n);
    await nick(goes, `Goes ${mode}`);
    goes.client.close();
    const writer = await guest(n);
    // Three of its idle times: kept only because it is still connected.
    await sleep(6000);
    expect(await dm(writer, stays, "still here?")).toBe(1);
    await writer.client.send({ action: "dm", to: goes.uid, message: "gone?", ref: "gone" });
    expect(await writer.client.action("error", (f) => f.ref === "gone")).toMatchObject({ code: "no_such_user" });
    // It comes back with its token as the same user, a fresh one: its kept name is gone.
    const back = await guest(n, goes);
    expect(back.uid).toBe(goes.uid);
    expect(back.name).not.toBe(`Goes ${mode}`);
  }, 30_000);
});

describe("guest identities when Redis loses its data", () => {
  it("keeps every guest who they are, on the nodes that were there and on one started after", async () => {
    const redis = await scope.redis();
    const env = { REDIS_URL: redis.url, RATE_LIMIT: "0" };
    const [a, b] = await Promise.all([scope.node(env), scope.node(env)]);
    const before = await guest(a);
    await redis.stop();
    await redis.restart();
    const ready = async (n: NodeProcess) => (await fetch(`${n.url}/readyz`)).status;
    for (const n of [a, b]) await expect.poll(() => ready(n), { timeout: 15_000 }).toBe(200);
    // The nodes that were there put their secret back; a node started now finds it.
    await expect
      .poll(
        async () => {
          const c = await scope.node(env);
          const again = await guest(c, before);
          return again.uid;
        },
        { timeout: 15_000 },
      )
      .toBe(before.uid);
    const after = await guest(b);
    expect((await guest(a, after)).uid).toBe(after.uid);
  }, 60_000);
});
