/**
 * Rooms with owners (issue 23): private rooms no one gets into uninvited,
 * invitations by user and by link, the directory, roles. Each runs over two
 * nodes and one Redis (the Redis room store), over two nodes with Redis and
 * PostgreSQL (the SQL room store, where two nodes redeem one link), and on
 * one node with the embedded archive (SQLite).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectUser, joinRoom, say, type User } from "./support/chat.js";
import { startPostgres } from "./support/postgres.js";
import { type NodeProcess, startNode } from "./support/processes.js";
import { type RedisProcess, startRedis } from "./support/redis-servers.js";
import type { Frame } from "./support/sockjs-client.js";

// No rate limit: each probe is asked twice in a row, and a refusal for speed would be an answer of its own.
const LIMITS = { MAX_ROOMS_CREATED: "6", MAX_INVITATIONS: "3", ROOM_TOPIC_LENGTH: "40", RATE_LIMIT: "0" };

interface Setup {
  name: string;
  start(): Promise<{ a: NodeProcess; b: NodeProcess; stop(): Promise<void> }>;
}

const setups: Setup[] = [
  {
    name: "two nodes and Redis",
    async start() {
      const redis: RedisProcess = await startRedis();
      const env = { REDIS_URL: redis.url, ...LIMITS };
      const [a, b] = await Promise.all([startNode(env), startNode(env)]);
      return {
        a,
        b,
        stop: async () => {
          await Promise.all([a.stop(), b.stop()]);
          await redis.stop();
        },
      };
    },
  },
  {
    name: "two nodes, Redis and PostgreSQL (the SQL room store, shared)",
    async start() {
      const [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
      const env = { REDIS_URL: redis.url, DATABASE_URL: await postgres.createDatabase("rooms"), ...LIMITS };
      const [a, b] = await Promise.all([startNode(env), startNode(env)]);
      return {
        a,
        b,
        stop: async () => {
          await Promise.all([a.stop(), b.stop()]);
          await Promise.all([redis.stop(), postgres.remove()]);
        },
      };
    },
  },
  {
    name: "one node on the embedded archive",
    async start() {
      const a = await startNode(LIMITS);
      return { a, b: a, stop: () => a.stop() };
    },
  },
];

/** Sends a request and resolves with the first frame that answers it (by its ref). */
async function ask(u: User, body: Record<string, unknown>, reply?: string): Promise<Frame> {
  const ref = `r-${Math.random()}`;
  await u.client.send({ ...body, ref });
  return u.client.next((f) => f.ref === ref && (reply === undefined || f.action === reply || f.action === "error"));
}

/** A reply as its client sees it, but for its ref, the room's id (which the client itself sent) blanked out. */
function answer(f: Frame, id: string): string {
  const { ref: _ref, ...rest } = f;
  return JSON.stringify(rest).replaceAll(id, "<room>");
}

/** A word only one message holds: a search for it finds that message or nothing. */
const secretWord = () => `zq${Math.random().toString(36).slice(2, 10)}`;

/** What `u` finds searching `q`; undefined where the setup keeps no archive to search (`unavailable`). */
async function searchHits(u: User, q: string): Promise<string[] | undefined> {
  const reply = await ask(u, { action: "search", q }, "search");
  if (reply.action === "error" && reply.code === "unavailable") return undefined;
  expect(reply.action).toBe("search");
  return (reply.hits as { message: string }[]).map((h) => h.message);
}

/** Resolves once `u` finds the one message with `word` (it reached the archive); false where nothing is searchable. */
async function searchable(u: User, word: string): Promise<boolean> {
  if ((await searchHits(u, word)) === undefined) return false;
  await expect.poll(async () => (await searchHits(u, word))?.length, { timeout: 10_000 }).toBe(1);
  return true;
}

/** A probe's own answer, which names the room it was asked about: a refusal, or a search (probe saw it find nothing). */
const answered = (f: Frame) => f.action === "error" || f.action === "search";

/** An id of a private room's shape that nobody holds. */
const NOWHERE = "nowhere~000000000000";

/**
 * Asks about room `id` by every way into its messages, and the same of an id
 * nobody holds: each answer must be the other's, the id blanked out. A
 * search finds nothing, by words alone, narrowed to the room, or `in:` it.
 */
async function probe(prober: User, at: { id: string; mid: number; epoch: string; word: string }): Promise<void> {
  const { id, mid, epoch, word } = at;
  const probes = (room: string): Record<string, unknown>[] => [
    { action: "join", room },
    { action: "join", room, since: 0, epoch: "an-old-epoch" },
    { action: "join", room, since: mid - 1, epoch },
    { action: "history", room, before: mid + 1 },
    { action: "history", room, around: mid },
    { action: "typing", room },
    { action: "users", room },
    { action: "members", room },
    { action: "edit", room, mid, message: "mine now" },
    { action: "react", room, mid, emoji: "👍" },
    { action: "delete", room, mid },
    { action: "message", room, message: "let me in" },
    { action: "read", room, mid, epoch },
    { action: "report", room, mid },
    { action: "invite_link", room },
    { action: "room_update", room, topic: "hijacked" },
    { action: "search", q: word },
    { action: "search", q: word, room },
    { action: "search", q: `${word} in:#${room}` },
    { action: "search", q: `in:${room} ${word}` },
  ];
  const real = probes(id);
  const none = probes(NOWHERE);
  for (let i = 0; i < real.length; i++) {
    const what = JSON.stringify(real[i]);
    const got = await ask(prober, real[i] ?? {});
    const expected = await ask(prober, none[i] ?? {});
    expect(answer(got, id), what).toEqual(answer(expected, NOWHERE));
    if (got.action === "search") expect(got.hits, what).toEqual([]);
    else expect(got.action, what).toBe("error");
  }
}

describe.each(setups)("rooms, on $name", (setup) => {
  let a: NodeProcess;
  let b: NodeProcess;
  let stop: () => Promise<void>;
  const open: User[] = [];

  beforeAll(async () => {
    ({ a, b, stop } = await setup.start());
  });
  afterAll(async () => {
    for (const u of open) u.client.close();
    await stop?.();
  });

  async function user(node: NodeProcess): Promise<User> {
    const u = await connectUser(node.url, { query: "proto=2&lobby=0" });
    open.push(u);
    return u;
  }

  /** The same guest again, on another connection, to `node`. */
  async function again(node: NodeProcess, as: User): Promise<User> {
    const u = await connectUser(node.url, { query: `proto=2&lobby=0&guest=${encodeURIComponent(as.guest ?? "")}` });
    open.push(u);
    return u;
  }

  /**
   * `passer` comes into the room and goes again, which `member` hears of;
   * meanwhile `outsider` hears nothing of it, and `member` nothing of `outsider`.
   */
  async function quietAround(member: User, passer: User, id: string, outsider: User): Promise<void> {
    const by = (who: User, side: "joined" | "left") => (f: Frame) =>
      f.room === id && (f[side] as Frame[]).some((p) => p.uid === who.uid);
    const heard = (u: User, from: number) => u.client.all("presence").slice(from);
    const [outsiderFrom, memberFrom] = [outsider.client.all("presence").length, member.client.all("presence").length];
    await joinRoom(passer, id);
    await member.client.action("presence", by(passer, "joined"));
    await ask(passer, { action: "leave", room: id }, "left");
    await member.client.action("presence", by(passer, "left"));
    // What its node had for the outsider has reached them once a reply sent after it has.
    await ask(outsider, { action: "ping" });
    expect(heard(outsider, outsiderFrom).filter((f) => f.room === id)).toEqual([]);
    expect(heard(member, memberFrom).filter((f) => JSON.stringify(f).includes(outsider.uid))).toEqual([]);
  }

  async function privateRoom(owner: User, name: string): Promise<string> {
    const made = await ask(owner, { action: "room_create", name, topic: "secret plans", visibility: "private" });
    expect(made).toMatchObject({ action: "room", name, visibility: "private", role: "owner", creator: owner.uid });
    return String(made.room);
  }

  it("answers a non-member of a private room exactly as for a room that does not exist, by every path", async () => {
    const alice = await user(a);
    const mallory = await user(b);
    const id = await privateRoom(alice, "Design Team");
    expect(id).toMatch(/^design-team~[a-z0-9]{12}$/);
    await joinRoom(alice, id);
    const word = secretWord();
    const mid = await say(alice, `the launch is on friday ${word}`, id);
    const epoch = String((await ask(alice, { action: "join", room: id }, "history")).epoch);
    await searchable(alice, word);

    await probe(mallory, { id, mid, epoch, word });
    // Nothing of the room reached mallory by any path: no message, no history page (a search echoes its words).
    expect(mallory.client.frames.filter((f) => f.action !== "search" && JSON.stringify(f).includes(word))).toEqual([]);
    expect(mallory.client.all("history")).toEqual([]);
    // Someone invited comes and goes: mallory hears nothing of it, nor did her tries make her one of its people.
    const bob = await user(a);
    await ask(alice, { action: "invite", room: id, uid: bob.uid }, "ack");
    await quietAround(alice, bob, id, mallory);
    expect(alice.client.all("presence").filter((f) => JSON.stringify(f).includes(mallory.uid))).toEqual([]);
    // Nor any frame about it but her refusals and empty searches: no presence, typing, users or members, no `room`.
    expect(mallory.client.frames.filter((f) => !answered(f) && JSON.stringify(f).includes(id))).toEqual([]);
    // Nor does the directory list it.
    const listed = await ask(mallory, { action: "rooms", q: "design" }, "rooms");
    expect((listed.rooms as Frame[]).map((r) => r.room)).not.toContain(id);
  });

  it("answers a member banned from a public room exactly as for a room that does not exist, on every node and connection", async () => {
    const alice = await user(a);
    const id = String((await ask(alice, { action: "room_create", name: `Town Hall ${Math.random()}` }, "room")).room);
    await joinRoom(alice, id);
    // The troll is in the room on both nodes, one connection on each.
    const troll = await user(b);
    const trollToo = await again(a, troll);
    for (const c of [troll, trollToo]) await joinRoom(c, id);
    const word = secretWord();
    const mid = await say(alice, `the vote is on monday ${word}`, id);
    const epoch = String((await ask(alice, { action: "join", room: id }, "history")).epoch);
    // Before the ban the troll finds what was said, where this setup can search.
    if (await searchable(alice, word)) expect(await searchHits(troll, word)).toEqual([`the vote is on monday ${word}`]);

    expect(await ask(alice, { action: "ban", room: id, user: troll.uid }, "ack")).toMatchObject({ of: "ban" });
    const after = new Map<User, number>();
    for (const c of [troll, trollToo]) {
      await c.client.action("left", (f) => f.room === id && f.reason === "banned");
      after.set(c, c.client.frames.length);
    }
    // A connection made after the ban is not told of the room, and fares no better.
    const fresh = await again(b, troll);
    expect((fresh.info.rooms as string[] | undefined) ?? []).not.toContain(id);
    after.set(fresh, 0);

    for (const c of [troll, trollToo, fresh]) await probe(c, { id, mid, epoch, word });
    // The room goes on without them: a message, its edit and a reaction, another member coming and going.
    const later = await say(alice, `the count is tomorrow ${word}`, id);
    await ask(alice, { action: "edit", room: id, mid: later, message: `the count is tonight ${word}` }, "ack");
    await ask(alice, { action: "react", room: id, mid, emoji: "👍" }, "ack");
    await quietAround(alice, await user(a), id, troll);
    for (const [c, from] of after) {
      const since = c.client.frames.slice(from);
      expect(since.filter((f) => !answered(f) && JSON.stringify(f).includes(id))).toEqual([]);
      expect(since.filter((f) => f.action !== "search" && JSON.stringify(f).includes(word))).toEqual([]);
    }
  });

  it("lets one person in by a one-use link redeemed from two nodes at once, and the other gets bad_invitation", async () => {
    const alice = await user(a);
    const id = await privateRoom(alice, "Launch");
    await joinRoom(alice, id);
    await say(alice, "welcome aboard", id);
    const link = await ask(alice, { action: "invite_link", room: id, uses: 1, hours: 1 }, "invite_link");
    expect(String(link.token).length).toBeGreaterThanOrEqual(22);
    const carol = await user(a);
    const dave = await user(b);
    const [toCarol, toDave] = await Promise.all([
      ask(carol, { action: "accept", token: link.token }),
      ask(dave, { action: "accept", token: link.token }),
    ]);
    const replies = [toCarol, toDave];
    expect(replies.filter((f) => f.action === "room")).toHaveLength(1);
    expect(replies.filter((f) => f.action === "error").map((f) => f.code)).toEqual(["bad_invitation"]);
    const [winner, loser] = toCarol.action === "room" ? [carol, dave] : [dave, carol];
    expect(toCarol.action === "room" ? toCarol : toDave).toMatchObject({ room: id, name: "Launch", role: "member" });
    const history = await ask(winner, { action: "join", room: id }, "history");
    expect((history.messages as Frame[]).map((m) => m.message)).toContain("welcome aboard");
    expect(await ask(loser, { action: "join", room: id })).toMatchObject({ action: "error", code: "no_such_room" });
    // The members list shows everyone, online or not.
    const members = await ask(alice, { action: "members", room: id }, "members");
    expect(members.members).toEqual(
      expect.arrayContaining([
        { uid: alice.uid, name: alice.name, role: "owner", online: true },
        { uid: winner.uid, name: winner.name, role: "member", online: true },
      ]),
    );
    expect(await ask(winner, { action: "accept", token: "not-a-token-anyone-made" })).toMatchObject({
      code: "bad_invitation",
    });
  });

  it("lets an invited user in on another node, who is told of the invitation", async () => {
    const alice = await user(a);
    const bob = await user(b);
    await ask(bob, { action: "nick", name: `Bob ${Math.random().toString(36).slice(2, 6)}` }, "ack");
    const id = await privateRoom(alice, "Two of us");
    await joinRoom(alice, id);
    await say(alice, "hello bob", id);
    expect(await ask(alice, { action: "invite", room: id, uid: bob.uid }, "ack")).toMatchObject({ of: "invite" });
    expect(await bob.client.action("invited")).toMatchObject({ room: id, name: "Two of us", by: { uid: alice.uid } });
    const history = await ask(bob, { action: "join", room: id }, "history");
    expect((history.messages as Frame[]).map((m) => m.message)).toEqual(["hello bob"]);
    expect(bob.client.all("room").find((f) => f.room === id)).toMatchObject({ role: "member", topic: "secret plans" });
  });

  it("lists public rooms in the directory by name, with their topic, a page at a time, and ids from their names", async () => {
    const alice = await user(a);
    const tag = `Zq${Math.random().toString(36).slice(2, 7)}`;
    const ids: string[] = [];
    for (const name of [`${tag} Design Team`, `${tag} Design Team`, `${tag} Ünïcode Café`]) {
      ids.push(String((await ask(alice, { action: "room_create", name, topic: `about ${name}` }, "room")).room));
    }
    const slug = tag.toLowerCase();
    expect(ids).toEqual([`${slug}-design-team`, `${slug}-design-team-2`, `${slug}-unicode-cafe`]);
    await joinRoom(alice, ids[0] ?? "");
    const bob = await user(b);
    const first = await ask(bob, { action: "rooms", q: tag.toUpperCase() }, "rooms");
    const all = [...(first.rooms as Frame[])];
    let next = first.next;
    while (next !== undefined) {
      const page = await ask(bob, { action: "rooms", q: tag, after: next }, "rooms");
      all.push(...(page.rooms as Frame[]));
      next = page.next;
    }
    expect(all.map((r) => r.room).sort()).toEqual([...ids].sort());
    expect(all.find((r) => r.room === ids[0])).toMatchObject({
      name: `${tag} Design Team`,
      topic: `about ${tag} Design Team`,
      online: 1,
    });
    // The lobby is listed too.
    const lobby = await ask(bob, { action: "rooms", q: "lobby" }, "rooms");
    expect((lobby.rooms as Frame[]).map((r) => r.room)).toContain("lobby");
  });

  it("still makes a public room on a join of an unknown id, listed once someone writes in it, and held by no one", async () => {
    const alice = await user(a);
    const bob = await user(b);
    const tag = `made${Math.random().toString(36).slice(2, 8)}`;
    const listed = async () =>
      ((await ask(bob, { action: "rooms", q: tag }, "rooms")).rooms as Frame[]).map((r) => r.room);
    expect(await ask(alice, { action: "join", room: `${tag}-quiet` })).toMatchObject({
      action: "room",
      room: `${tag}-quiet`,
      visibility: "public",
    });
    await joinRoom(alice, `${tag}-busy`);
    expect(alice.client.all("room").find((f) => f.room === `${tag}-busy`)?.role).toBeUndefined();
    await say(alice, "first words", `${tag}-busy`);
    await expect.poll(listed).toEqual([`${tag}-busy`]);
    // Nobody owns it: a joiner cannot take it over.
    expect(await ask(alice, { action: "room_update", room: `${tag}-busy`, visibility: "readonly" })).toMatchObject({
      code: "forbidden",
    });
  });

  it("keeps a read-only room's posting to moderators, and a moderator named on one node posts on the other at once", async () => {
    const alice = await user(a);
    const bob = await user(b);
    const made = await ask(
      alice,
      { action: "room_create", name: `News ${Math.random()}`, visibility: "readonly" },
      "room",
    );
    const id = String(made.room);
    await joinRoom(alice, id);
    await joinRoom(bob, id);
    await say(alice, "announcement", id);
    expect(await ask(bob, { action: "message", room: id, message: "me too" })).toMatchObject({ code: "forbidden" });
    expect(await ask(bob, { action: "role", room: id, uid: alice.uid, role: "member" })).toMatchObject({
      code: "forbidden",
    });
    expect(await ask(alice, { action: "role", room: id, uid: bob.uid, role: "moderator" })).toMatchObject({
      code: "no_such_user",
    });
    // Bob belongs once he accepts a link; the owner then names him.
    const link = await ask(alice, { action: "invite_link", room: id }, "invite_link");
    expect(await ask(bob, { action: "accept", token: link.token }, "room")).toMatchObject({ role: "member" });
    expect(await ask(alice, { action: "role", room: id, uid: bob.uid, role: "moderator" }, "ack")).toMatchObject({
      of: "role",
    });
    // Bob, on the other node, is told his new role at once: no rejoin.
    await bob.client.action("room", (f) => f.room === id && f.role === "moderator");
    await expect
      .poll(async () => (await ask(bob, { action: "message", room: id, message: "mod here" })).action)
      .toBe("ack");
  });

  it("tells every member of a changed room its new name and topic, and refuses bad names and topics with their codes", async () => {
    const alice = await user(a);
    const bob = await user(b);
    const id = String((await ask(alice, { action: "room_create", name: `Old ${Math.random()}` }, "room")).room);
    await joinRoom(alice, id);
    await joinRoom(bob, id);
    await ask(alice, { action: "room_update", room: id, name: "New name", topic: "fresh" }, "room");
    expect(await bob.client.action("room", (f) => f.room === id && f.name === "New name")).toMatchObject({
      topic: "fresh",
    });
    expect(await ask(bob, { action: "room_update", room: id, topic: "mine" })).toMatchObject({ code: "forbidden" });
    expect(await ask(alice, { action: "room_create", name: "  \u200b " })).toMatchObject({ code: "bad_room_name" });
    expect(await ask(alice, { action: "room_create", name: "x".repeat(65) })).toMatchObject({ code: "bad_room_name" });
    expect(await ask(alice, { action: "room_create", name: "ok", topic: "t".repeat(41) })).toMatchObject({
      code: "bad_topic",
    });
    expect(await ask(alice, { action: "room_update", room: id, topic: "line\nbreak" })).toMatchObject({
      code: "bad_topic",
    });
  });

  it("a rename and a topic change at once from two nodes: both are kept, and every member's newest room frame says both", async () => {
    const owner = await user(a);
    const mod = await user(b);
    const name = `Busy ${Math.random().toString(36).slice(2, 8)}`;
    const id = String((await ask(owner, { action: "room_create", name }, "room")).room);
    await joinRoom(owner, id);
    const link = await ask(owner, { action: "invite_link", room: id }, "invite_link");
    expect(await ask(mod, { action: "accept", token: link.token }, "room")).toMatchObject({ role: "member" });
    await joinRoom(mod, id);
    expect(await ask(owner, { action: "role", room: id, uid: mod.uid, role: "moderator" }, "ack")).toMatchObject({
      of: "role",
    });
    await mod.client.action("room", (f) => f.room === id && f.role === "moderator");
    /** The room as the directory, which reads the store, lists it. */
    const listed = async () => {
      const page = await ask(owner, { action: "rooms", q: "Busy" }, "rooms");
      return (page.rooms as Frame[]).find((r) => r.room === id);
    };
    /** What a member shows: the announced frame with the highest version, as the web client keeps it. */
    const shown = (member: User) =>
      member.client
        .all("room")
        .filter((f) => f.room === id && f.ref === undefined && f.role === undefined)
        .reduce<Frame | undefined>((x, y) => (x === undefined || Number(y.v) > Number(x.v) ? y : x), undefined);
    for (let i = 0; i < 8; i++) {
      const told = [owner, mod].map((m) => m.client.all("room").length);
      const [renamed, retopiced] = await Promise.all([
        ask(owner, { action: "room_update", room: id, name: `${name} ${i}` }, "room"),
        ask(mod, { action: "room_update", room: id, topic: `topic ${i}` }, "room"),
      ]);
      expect([renamed.action, retopiced.action]).toEqual(["room", "room"]);
      // The store keeps both changes, neither written over with what the other read before it.
      expect(await listed(), `round ${i}`).toMatchObject({ name: `${name} ${i}`, topic: `topic ${i}`, v: 2 * i + 2 });
      // Each member is told of both changes (and its own answer), in whichever order, and shows the store's room.
      for (const [k, member] of [owner, mod].entries()) {
        await expect.poll(() => member.client.all("room").length).toBeGreaterThanOrEqual((told[k] ?? 0) + 3);
        expect(shown(member), `round ${i}`).toMatchObject({ name: `${name} ${i}`, topic: `topic ${i}`, v: 2 * i + 2 });
      }
    }
  });

  it("caps the rooms a user creates and the invitations waiting in a room (MAX_ROOMS_CREATED, MAX_INVITATIONS)", async () => {
    const carol = await user(b);
    const made: Frame[] = [];
    for (let i = 0; i < 7; i++)
      made.push(await ask(carol, { action: "room_create", name: `Mine ${i}`, visibility: "private" }));
    expect(made.slice(0, 6).every((f) => f.action === "room")).toBe(true);
    expect(made[6]).toMatchObject({ action: "error", code: "too_many_created" });
    const id = String(made[0]?.room);
    const links: Frame[] = [];
    for (let i = 0; i < 4; i++) links.push(await ask(carol, { action: "invite_link", room: id }));
    expect(links.map((f) => f.action)).toEqual(["invite_link", "invite_link", "invite_link", "error"]);
    expect(links[3]).toMatchObject({ code: "too_many_invitations" });
  });
});
