/**
 * Moderation (issue 23): a room's moderators kick, ban, mute, remove, slow
 * and pin, each checked against the actor's role on the server and felt on
 * every node at once; a member who forges one is refused. Members report
 * messages, which moderators read in context. Each case runs on two nodes
 * sharing one Redis (the Redis stores) and on one node with the embedded
 * archive (the SQL stores).
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ask, connectUser, joinRoom, say, type User } from "./support/chat.js";
import type { NodeProcess } from "./support/processes.js";
import { perFile } from "./support/scope.js";
import type { Frame } from "./support/sockjs-client.js";

const scope = perFile();

async function person(node: NodeProcess, as?: User): Promise<User> {
  const query = `proto=2&lobby=0${as?.guest ? `&guest=${encodeURIComponent(as.guest)}` : ""}`;
  const u = await connectUser(node.url, { query });
  scope.defer(() => u.client.close());
  return u;
}

/** What a refusal looks like to its client, the room's id (which the client itself sent) blanked out. */
function answer(f: Frame, id: string): unknown {
  return { action: f.action, code: f.code, message: String(f.message).replaceAll(id, "<room>") };
}

describe.each(["Redis", "embedded"] as const)("moderation (%s)", (mode) => {
  let a: NodeProcess;
  let b: NodeProcess;
  /** What the test reads Redis with, in the Redis setup. */
  let redis: Redis | undefined;

  beforeAll(async () => {
    const env: Record<string, string> = { RATE_LIMIT: "0", REPORTS_PER_HOUR: "2" };
    if (mode === "Redis") {
      env.REDIS_URL = (await scope.redis()).url;
      const client = new Redis(env.REDIS_URL);
      scope.defer(() => client.quit());
      redis = client;
    }
    a = await scope.node(env);
    b = mode === "Redis" ? await scope.node(env) : a;
  });
  afterAll(() => undefined);

  /** A public room owned by a user on node A, with a moderator on node B and a member on each node. */
  async function moderatedRoom(name: string) {
    const owner = await person(a);
    const room = String((await ask(owner, { action: "room_create", name })).room);
    await joinRoom(owner, room);
    const mod = await person(b);
    // One belongs to a public room by a link, as to a private one; then the owner may name them.
    const link = await ask(owner, { action: "invite_link", room });
    expect(await ask(mod, { action: "accept", token: link.token })).toMatchObject({ action: "room", role: "member" });
    await joinRoom(mod, room);
    expect(await ask(owner, { action: "role", room, uid: mod.uid, role: "moderator" })).toMatchObject({
      action: "ack",
      of: "role",
    });
    const troll = await person(a);
    await joinRoom(troll, room);
    // The same person again, on the other node.
    const trollToo = await person(b, troll);
    await joinRoom(trollToo, room);
    return { room, owner, mod, troll, trollToo };
  }

  it("kicks, mutes and bans on every node, refuses a member who forges it, and logs what was done", async () => {
    const { room, owner, mod, troll, trollToo } = await moderatedRoom("Town Square");

    // A member forging a moderator's request is refused, whatever it asks.
    for (const body of [
      { action: "ban", room, user: mod.uid },
      { action: "kick", room, user: mod.uid },
      { action: "mute", room, user: mod.uid },
      { action: "slow", room, seconds: 5 },
      { action: "modlog", room },
      { action: "reports", room },
    ]) {
      expect(await ask(troll, body)).toMatchObject({ action: "error", code: "forbidden" });
    }
    // A moderator cannot take out the owner.
    expect(await ask(mod, { action: "ban", room, user: owner.uid })).toMatchObject({ code: "forbidden" });

    // Kicked: out on both nodes, told why; a public room takes them back.
    expect(await ask(mod, { action: "kick", room, user: troll.uid, reason: "calm down" })).toMatchObject({
      action: "ack",
      of: "kick",
    });
    for (const c of [troll, trollToo]) {
      await c.client.action("left", (f) => f.room === room && f.reason === "kicked");
      expect(await ask(c, { action: "message", room, message: "still here?" })).toMatchObject({ code: "not_in_room" });
    }
    for (const c of [troll, trollToo]) await joinRoom(c, room);

    // Muted: reads, but may neither post nor react, and is told how long is left.
    const before = await say(owner, "read this", room);
    expect(await ask(mod, { action: "mute", room, user: troll.uid, seconds: 600 })).toMatchObject({ of: "mute" });
    const muted = await ask(troll, { action: "message", room, message: "let me speak" });
    expect(muted).toMatchObject({ action: "error", code: "muted" });
    expect(muted.wait).toBeGreaterThan(590);
    expect(muted.wait).toBeLessThanOrEqual(600);
    expect(await ask(troll, { action: "react", room, mid: before, emoji: "👍" })).toMatchObject({ code: "muted" });
    await say(owner, "still read by the muted", room);
    await troll.client.action("message", (f) => f.message === "still read by the muted");
    expect(await ask(mod, { action: "unmute", room, user: troll.uid })).toMatchObject({ of: "unmute" });
    await say(troll, "thank you", room);

    // Banned: out on both nodes, and then the room answers as one that does not exist, by every way in.
    expect(await ask(mod, { action: "ban", room, user: troll.uid, reason: "spam" })).toMatchObject({ of: "ban" });
    for (const c of [troll, trollToo]) await c.client.action("left", (f) => f.room === room && f.reason === "banned");
    const nowhere = "nowhere~abcdefghijkl";
    for (const [body, none] of [
      [
        { action: "join", room },
        { action: "join", room: nowhere },
      ],
      [
        { action: "join", room, since: 1, epoch: "old" },
        { action: "join", room: nowhere, since: 1, epoch: "old" },
      ],
      [
        { action: "history", room },
        { action: "history", room: nowhere },
      ],
      [
        { action: "users", room },
        { action: "users", room: nowhere },
      ],
      [
        { action: "typing", room },
        { action: "typing", room: nowhere },
      ],
      [
        { action: "react", room, mid: before, emoji: "👍" },
        { action: "react", room: nowhere, mid: before, emoji: "👍" },
      ],
    ] as const) {
      for (const c of [troll, trollToo]) {
        expect(answer(await ask(c, body), room)).toEqual(answer(await ask(c, none), nowhere));
      }
    }
    expect(await ask(mod, { action: "unban", room, user: troll.uid })).toMatchObject({ of: "unban" });
    await joinRoom(trollToo, room);

    // The log, newest first, says who did what to whom; a page at a time.
    const log = await ask(mod, { action: "modlog", room });
    expect(log).toMatchObject({ action: "modlog", room });
    expect((log.entries as Frame[]).map((e) => [e.action, (e.by as Frame).uid, (e.user as Frame).uid])).toEqual([
      ["unban", mod.uid, troll.uid],
      ["ban", mod.uid, troll.uid],
      ["unmute", mod.uid, troll.uid],
      ["mute", mod.uid, troll.uid],
      ["kick", mod.uid, troll.uid],
    ]);
    expect((log.entries as Frame[])[1]).toMatchObject({ reason: "spam" });
    expect((log.entries as Frame[])[3]).toMatchObject({ seconds: 600 });
    const older = await ask(owner, { action: "modlog", room, before: (log.entries as Frame[])[3]?.id });
    expect((older.entries as Frame[]).map((e) => e.action)).toEqual(["kick"]);
  });

  it("removes a message as a moderator, slows the room on every node, pins, and takes reports in context", async () => {
    const { room, owner, mod, troll, trollToo } = await moderatedRoom("Busy Hall");

    // Removed: erased as its author's deletion is, and shown as a moderator's.
    const bad = await say(troll, "something awful", room);
    expect(await ask(mod, { action: "remove", room, mid: bad })).toMatchObject({ action: "ack", of: "remove" });
    const gone = await owner.client.action("delete", (f) => f.target === bad);
    expect(gone).toMatchObject({ moderator: true, uid: mod.uid });
    const joiner = await person(b);
    await joinRoom(joiner, room);
    const seen = (await joiner.client.action("history", (f) => f.room === room)).messages as Frame[];
    expect(seen.find((m) => m.mid === bad)).toMatchObject({ message: "" });
    expect(seen.find((m) => m.action === "delete" && m.target === bad)).toMatchObject({ moderator: true });
    expect(JSON.stringify(seen)).not.toContain("something awful");
    expect(await ask(troll, { action: "remove", room, mid: bad })).toMatchObject({ code: "forbidden" });

    // Slow mode: one message each 600 s per person, counted across nodes; members are told.
    expect(await ask(mod, { action: "slow", room, seconds: 600 })).toMatchObject({ of: "slow" });
    await troll.client.action("room_rules", (f) => f.room === room && f.slow === 600);
    await say(troll, "first", room);
    for (const c of [troll, trollToo]) {
      const slowed = await ask(c, { action: "message", room, message: "second" });
      expect(slowed).toMatchObject({ action: "error", code: "slow_mode" });
      expect(slowed.wait).toBeGreaterThan(590);
    }
    // Moderators are not slowed.
    await say(mod, "one", room);
    await say(mod, "two", room);
    expect(await ask(mod, { action: "slow", room, seconds: 0 })).toMatchObject({ of: "slow" });
    await trollToo.client.action("room_rules", (f) => f.room === room && f.slow === 0);
    await say(trollToo, "free again", room);

    // Pinned: every member sees it in the room's rules, and a joiner is told it.
    const notice = await say(owner, "Read the rules first", room);
    expect(await ask(mod, { action: "pin", room, mid: notice })).toMatchObject({ of: "pin" });
    const pinned = await trollToo.client.action("room_rules", (f) => (f.pinned as Frame | undefined)?.mid === notice);
    expect(pinned.pinned).toMatchObject({ message: "Read the rules first", uid: owner.uid });
    const late = await person(a);
    await joinRoom(late, room);
    expect(await late.client.action("room_rules", (f) => f.room === room)).toMatchObject({
      pinned: { mid: notice, message: "Read the rules first" },
    });
    // Its author edits it: the header reads as the message does now, on every node.
    const reworded = "Read the rules, then say hello";
    expect(await ask(owner, { action: "edit", room, mid: notice, message: reworded })).toMatchObject({ of: "edit" });
    for (const c of [late, trollToo]) {
      const now = await c.client.action("room_rules", (f) => (f.pinned as Frame | undefined)?.message === reworded);
      expect(now.pinned).toMatchObject({ mid: notice, uid: owner.uid });
    }
    const header = (c: User) =>
      c.client
        .all("room_rules")
        .filter((f) => f.room === room)
        .at(-1)?.pinned;
    // Its author deletes it: the header lets its text go too.
    expect(await ask(owner, { action: "delete", room, mid: notice })).toMatchObject({ of: "delete" });
    await late.client.action("room_rules", (f) => f.room === room && f.pinned === undefined);
    // A moderator's removal of a pinned message takes it down as well.
    const noon = await say(owner, "Meeting at noon", room);
    expect(await ask(mod, { action: "pin", room, mid: noon })).toMatchObject({ of: "pin" });
    await expect.poll(() => (header(trollToo) as Frame | undefined)?.mid).toBe(noon);
    expect(await ask(mod, { action: "remove", room, mid: noon })).toMatchObject({ of: "remove" });
    for (const c of [late, trollToo]) await expect.poll(() => header(c)).toBeUndefined();

    // Reported: the moderators read it with the messages around it; REPORTS_PER_HOUR (2) each.
    const rude = await say(troll, "you are all idiots", room);
    const after = await say(owner, "please be kind", room);
    expect(await ask(joiner, { action: "report", room, mid: rude, reason: "insults" })).toMatchObject({
      action: "ack",
      of: "report",
    });
    expect(await ask(joiner, { action: "report", room, mid: after })).toMatchObject({ of: "report" });
    const third = await ask(joiner, { action: "report", room, mid: rude });
    expect(third).toMatchObject({ action: "error", code: "too_many_reports" });
    expect(third.wait).toBeGreaterThan(0);
    expect(await ask(joiner, { action: "report", room, mid: 999_999 })).toMatchObject({ code: "no_such_message" });
    const reports = await ask(mod, { action: "reports", room });
    const [second, first] = reports.reports as Frame[];
    expect(first).toMatchObject({ mid: rude, reason: "insults", by: { uid: joiner.uid } });
    expect(second).toMatchObject({ mid: after, by: { uid: joiner.uid } });
    const context = ((first?.context ?? []) as Frame[]).map((m) => m.message);
    expect(context).toContain("you are all idiots");
    expect(context).toContain("please be kind");
    expect(await ask(troll, { action: "reports", room })).toMatchObject({ code: "forbidden" });
  });
  it("offers a banned member the room in the directory on neither node, and refuses their invitation link without using it", async () => {
    const { room, owner, mod, troll, trollToo } = await moderatedRoom("Quiet Corner");
    const listedTo = async (u: User) =>
      ((await ask(u, { action: "rooms", q: "quiet corner" })).rooms as Frame[]).map((r) => r.room);
    expect(await listedTo(trollToo)).toEqual([room]);
    const link = await ask(owner, { action: "invite_link", room, uses: 1 });
    expect(await ask(mod, { action: "ban", room, user: troll.uid })).toMatchObject({ action: "ack", of: "ban" });

    for (const c of [troll, trollToo]) expect(await listedTo(c)).toEqual([]);
    for (const c of [owner, mod]) expect(await listedTo(c)).toEqual([room]);
    // Refused as a link that never was would be, and the link's one use is left for whom it was made for.
    const refused = await ask(trollToo, { action: "accept", token: link.token });
    expect(refused).toMatchObject({ action: "error", code: "bad_invitation" });
    const invited = await person(a);
    expect(await ask(invited, { action: "accept", token: link.token })).toMatchObject({ action: "room", room });
    expect(await ask(troll, { action: "accept", token: link.token })).toMatchObject({ code: "bad_invitation" });

    expect(await ask(mod, { action: "unban", room, user: troll.uid })).toMatchObject({ of: "unban" });
    expect(await listedTo(trollToo)).toEqual([room]);
  });

  it("a pin and an edit of one message at once, from two nodes: the header ends as the message reads", async () => {
    const { room, owner, mod } = await moderatedRoom("Race Track");
    // One reader, who comes in afresh each round (as the same guest: new guests from one address are limited).
    const newcomer = await person(a);
    newcomer.client.close();
    for (let i = 0; i < 12; i++) {
      const mid = await say(owner, `draft ${i}`, room);
      const final = `final ${i}`;
      const [pinned, edited] = await Promise.all([
        ask(mod, { action: "pin", room, mid }),
        ask(owner, { action: "edit", room, mid, message: final }),
      ]);
      expect([pinned.of, edited.of]).toEqual(["pin", "edit"]);
      // Someone who comes in now is told the header as it is kept.
      const reader = await person(i % 2 === 0 ? a : b, newcomer);
      await joinRoom(reader, room);
      const rules = await reader.client.action("room_rules", (f) => f.room === room);
      expect(rules.pinned, `round ${i}`).toMatchObject({ mid, message: final });
      reader.client.close();
    }
  });

  it("a pin and a deletion of one message at once, from two nodes: the header lets the deleted text go", async () => {
    const { room, owner, mod } = await moderatedRoom("Race Course");
    // One reader, who comes in afresh each round (as the same guest: new guests from one address are limited).
    const newcomer = await person(a);
    newcomer.client.close();
    for (let i = 0; i < 12; i++) {
      const mid = await say(owner, `gone soon ${i}`, room);
      await Promise.all([ask(mod, { action: "pin", room, mid }), ask(owner, { action: "delete", room, mid })]);
      const reader = await person(i % 2 === 0 ? a : b, newcomer);
      await joinRoom(reader, room);
      const rules = await reader.client.action("room_rules", (f) => f.room === room);
      expect(rules.pinned, `round ${i}`).toBeUndefined();
      reader.client.close();
    }
  });

  it("two pins at once from two nodes: a member keeping the highest version has the header a newcomer is told", async () => {
    const { room, owner, mod, troll, trollToo } = await moderatedRoom("Two Pins");
    // One newcomer, who comes in afresh each round (as the same guest: new guests from one address are limited).
    const newcomer = await person(a);
    newcomer.client.close();
    for (let i = 0; i < 12; i++) {
      const [first, second] = [await say(owner, `first ${i}`, room), await say(mod, `second ${i}`, room)];
      const [before, beforeToo] = [troll.client.all("room_rules").length, trollToo.client.all("room_rules").length];
      await Promise.all([
        ask(owner, { action: "pin", room, mid: first }),
        ask(mod, { action: "pin", room, mid: second }),
      ]);
      // Each change is announced to every member, on each node, whatever the order they arrive in.
      const newest = async (member: User, seen: number) => {
        await expect.poll(() => member.client.all("room_rules").length).toBeGreaterThanOrEqual(seen + 2);
        const told = member.client.all("room_rules").slice(seen);
        expect(told.map((f) => f.room)).toEqual([room, room]);
        return told.reduce((x, y) => (Number(y.v) > Number(x.v) ? y : x));
      };
      const reader = await person(i % 2 === 0 ? a : b, newcomer);
      await joinRoom(reader, room);
      const kept = await reader.client.action("room_rules", (f) => f.room === room);
      for (const [member, seen] of [
        [troll, before],
        [trollToo, beforeToo],
      ] as const) {
        const last = await newest(member, seen);
        expect(last.v, `round ${i}`).toBe(kept.v);
        expect((last.pinned as Frame | undefined)?.mid, `round ${i}`).toBe((kept.pinned as Frame | undefined)?.mid);
      }
      reader.client.close();
    }
  });

  it("acts on nobody a uid does not name, charges what moderators write to their budget, and keeps a log's newest 1000", async () => {
    const { room, mod } = await moderatedRoom("Busy Hall");
    // A made-up uid would only fill the log and the sanctions.
    for (const action of ["ban", "kick", "mute"]) {
      expect(await ask(mod, { action, room, user: "g-nobody0nobody0nobody0n" }), action).toMatchObject({
        code: "no_such_user",
      });
    }
    // The log keeps its newest 1000 entries, on either store.
    for (let i = 0; i < 1005; i++) {
      expect(await ask(mod, { action: "slow", room, seconds: i % 2 === 0 ? 5 : 0 })).toMatchObject({ of: "slow" });
    }
    const entries: { action: string; user?: { uid: string } }[] = [];
    let before: number | undefined;
    do {
      const page = await ask(mod, { action: "modlog", room, before });
      entries.push(...(page.entries as typeof entries));
      before = page.next as number | undefined;
    } while (before !== undefined);
    expect(entries).toHaveLength(1000);
    expect(entries.every((e) => e.action === "slow")).toBe(true);
    expect(JSON.stringify(entries)).not.toContain("g-nobody0");
    expect(await ask(mod, { action: "slow", room, seconds: 0 })).toMatchObject({ of: "slow" });
    if (mode === "Redis") return;
    // A moderator of a small budget is refused before writing past it, as a writer of messages is.
    const tight = await scope.node({ RATE_LIMIT: "0", WRITE_BYTES_PER_USER: "4000" });
    const owner = await person(tight);
    const hall = String((await ask(owner, { action: "room_create", name: "Tight Hall" })).room);
    await joinRoom(owner, hall);
    const member = await person(tight);
    await joinRoom(member, hall);
    const answers: string[] = [];
    for (let i = 0; i < 12; i++) {
      const f = await ask(owner, { action: "kick", room: hall, user: member.uid, reason: "r".repeat(200) });
      answers.push(f.action === "ack" ? "ack" : String(f.code));
      if (f.action === "ack") await joinRoom(member, hall);
    }
    expect(answers).toContain("over_budget");
    const kicked = answers.filter((a) => a === "ack").length;
    const log = await ask(owner, { action: "modlog", room: hall });
    expect((log.entries as { action: string }[]).filter((e) => e.action === "kick")).toHaveLength(kicked);
  });

  it("ends a timed mute and ban on their own, and keeps nothing of them once they ended", async () => {
    const { room, mod, troll, trollToo } = await moderatedRoom("Quiet Corner");
    expect(await ask(mod, { action: "mute", room, user: troll.uid, seconds: 1 })).toMatchObject({ of: "mute" });
    expect(await ask(mod, { action: "ban", room, user: troll.uid, seconds: 2 })).toMatchObject({ of: "ban" });
    await troll.client.action("left", (f) => f.room === room && f.reason === "banned");
    // Nobody reads the room's moderation meanwhile: in Redis, its sanctions go with the last of them.
    if (redis) {
      const sanctions = () => redis?.keys(`*:mod:${room}}:sanctions`);
      expect(await sanctions()).toHaveLength(1);
      await expect.poll(sanctions, { timeout: 10_000 }).toEqual([]);
    }
    await expect
      .poll(async () => (await ask(troll, { action: "join", room })).action, { timeout: 10_000 })
      .toBe("room");
    await joinRoom(trollToo, room);
    await say(trollToo, "back, and allowed to speak", room);
  });

  it("kicks a member out of a private room for good: joining again needs a new invitation", async () => {
    const owner = await person(a);
    const room = String((await ask(owner, { action: "room_create", name: "Back Office", visibility: "private" })).room);
    await joinRoom(owner, room);
    const guest = await person(b);
    const link = await ask(owner, { action: "invite_link", room });
    expect(await ask(guest, { action: "accept", token: link.token })).toMatchObject({ action: "room" });
    await joinRoom(guest, room);
    expect(await ask(owner, { action: "kick", room, user: guest.uid })).toMatchObject({ of: "kick" });
    await guest.client.action("left", (f) => f.room === room && f.reason === "kicked");
    expect(await ask(guest, { action: "join", room })).toMatchObject({ action: "error", code: "no_such_room" });
  });
});
