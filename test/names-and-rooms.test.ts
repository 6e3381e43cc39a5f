/**
 * What a user's rooms and name may cost, and whose a name is: a user is kept
 * in at most MAX_ROOMS_PER_USER rooms over all their connections, a rename
 * costs Redis a few commands per kept room and is announced only where the
 * user is, and one name (as compared: "Bob" is "bob") has one user per room,
 * decided in Redis when two nodes are asked at the same moment.
 */
import { connect } from "node:net";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { connectUser, say, type User } from "./support/chat.js";
import type { NodeProcess } from "./support/processes.js";
import { perTest } from "./support/scope.js";
import type { Frame } from "./support/sockjs-client.js";

const scope = perTest();

/** A `proto=2` guest, joining rooms itself: the same guest again with `token`. */
async function guest(n: NodeProcess, token?: string): Promise<User> {
  const as = token ? `&guest=${encodeURIComponent(token)}` : "";
  const u = await connectUser(n.url, { query: `proto=2&lobby=0${as}` });
  scope.defer(() => u.client.close());
  return u;
}

/** Sends a request with a ref; resolves with what answers it: the ack, the `users` of a join, or the error. */
async function ask(u: User, request: Record<string, unknown>): Promise<Frame> {
  const ref = `r-${Math.random()}`;
  await u.client.send({ ...request, ref });
  return u.client.next((f) => f.ref === ref && ["ack", "users", "error"].includes(f.action), 10_000);
}

const join = (u: User, room: string) => ask(u, { action: "join", room });
const nick = (u: User, name: string) => ask(u, { action: "nick", name });

async function leave(u: User, room: string): Promise<void> {
  const ref = `leave-${Math.random()}`;
  await u.client.send({ action: "leave", room, ref });
  await u.client.action("left", (f) => f.ref === ref);
}

async function backends(env: Record<string, string>): Promise<NodeProcess[]> {
  const redis = await scope.redis();
  return [await scope.node(env), await scope.node({ ...env, REDIS_URL: redis.url })];
}

describe("rooms a user is kept in", () => {
  it("refuses a join past MAX_ROOMS_PER_USER over all the user's connections, closed ones included, until one is left", async () => {
    for (const n of await backends({ MAX_ROOMS_PER_USER: "5", MAX_ROOMS_PER_CONNECTION: "3", RATE_LIMIT: "0" })) {
      const first = await guest(n);
      for (const room of ["a1", "a2", "a3"]) expect(await join(first, room)).toMatchObject({ action: "users" });
      const second = await guest(n, first.guest);
      for (const room of ["b1", "b2"]) expect(await join(second, room)).toMatchObject({ action: "users" });
      const refused = await join(second, "b3");
      expect(refused).toMatchObject({ action: "error", code: "too_many_rooms" });
      expect(refused.message).toContain("5 rooms");
      // A room the user is kept in already is no new one.
      expect(await join(second, "a1")).toMatchObject({ action: "users" });
      // Closing without leaving keeps the rooms: the next connection lists them, and is held to the same cap.
      first.client.close();
      second.client.close();
      const third = await guest(n, first.guest);
      expect([...(third.info.rooms as string[])].sort()).toEqual(["a1", "a2", "a3", "b1", "b2"]);
      expect(await join(third, "c1")).toMatchObject({ action: "error", code: "too_many_rooms" });
      expect(await join(third, "a2")).toMatchObject({ action: "users" });
      await leave(third, "a2");
      expect(await join(third, "c1")).toMatchObject({ action: "users" });
    }
  });

  it("renames in a few Redis commands per kept room, and tells only the rooms the user is still in", async () => {
    const redis = await scope.redis();
    const n = await scope.node({ REDIS_URL: redis.url, PRESENCE_GRACE: "0", RATE_LIMIT: "0" });
    const counter = new Redis(redis.url);
    scope.defer(() => counter.disconnect());
    const rooms = Array.from({ length: 50 }, (_, i) => `k${i}`);
    // 50 rooms (the default cap) over three connections, all closed without leaving: the user is kept in all of them.
    const first = await guest(n);
    const token = first.guest;
    const conns = [first, await guest(n, token), await guest(n, token)];
    for (const [i, room] of rooms.entries()) {
      expect(await join(conns[Math.floor(i / 20)] as User, room)).toMatchObject({ action: "users" });
    }
    expect(await join(conns[2] as User, "one-more")).toMatchObject({ action: "error", code: "too_many_rooms" });
    const stayed = await guest(n);
    await join(stayed, "k0");
    const left = await guest(n);
    await join(left, "k49");
    for (const c of conns) c.client.close();
    // Their departures are announced at once (no grace): by then the user is in none of the rooms.
    await left.client.action(
      "presence",
      (f) => (f.left as Frame[] | undefined)?.some((u) => u.uid === first.uid) === true,
    );
    const back = await guest(n, token);
    await join(back, "k0");
    await stayed.client.action(
      "presence",
      (f) => (f.joined as Frame[] | undefined)?.some((u) => u.uid === back.uid) === true,
    );

    // MONITOR shows each command a node sends, and each one a script runs (from "lua").
    const monitor = connect(redis.port, "127.0.0.1");
    scope.defer(() => monitor.destroy());
    const seen = { sent: 0, all: 0 };
    let text = "";
    let on: () => void = () => undefined;
    let done: () => void = () => undefined;
    const started = new Promise<void>((resolve) => {
      on = resolve;
    });
    const counted = new Promise<void>((resolve) => {
      done = resolve;
    });
    monitor.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
      const lines = text.split("\r\n");
      text = lines.pop() ?? "";
      for (const line of lines) {
        if (line === "+OK") on();
        // Everything the rename sent was run before this test's own echo after its ack.
        else if (line.includes('"echo" "renamed"')) done();
        // A node compares each quiet room with Redis every few seconds, whatever else goes on.
        else if (line.startsWith("+") && !/"mget" "[^"]*:pub" /.test(line)) {
          seen.all++;
          if (!line.includes(" lua]")) seen.sent++;
        }
      }
    });
    monitor.write("MONITOR\r\n");
    await started;
    expect(await nick(back, "Renamed")).toMatchObject({ action: "ack" });
    await counter.echo("renamed");
    await counted;
    const used = { ...seen };
    // One script per kept room (a claim); where the user is, one room here,
    // a commit and the announcement; a few more besides (the user's rooms, name, other nodes).
    expect(used.sent).toBeLessThanOrEqual(rooms.length + 20);
    // A claim's script runs at most five commands of its own (the clock, and the room's names and users).
    expect(used.all).toBeLessThanOrEqual(6 * rooms.length + 40);

    const renamed = await stayed.client.action("user_renamed", (f) => f.uid === back.uid);
    expect(renamed).toMatchObject({ room: "k0", name: "Renamed" });
    // A room hears of the rename before anything said in it after; k49 hears nothing of it.
    const marker = await say(left, "marker", "k49");
    await left.client.action("message", (f) => f.mid === marker && f.room === "k49");
    expect(left.client.all("user_renamed")).toEqual([]);
  });
});

describe("one name, one user, per room", () => {
  it("refuses a join where someone has the name taken while in no room, in any case", async () => {
    for (const n of await backends({ RATE_LIMIT: "0" })) {
      const alice = await guest(n);
      expect(await nick(alice, "Alice")).toMatchObject({ action: "ack" });
      expect(await join(alice, "lobby")).toMatchObject({ action: "users" });
      const impostor = await guest(n);
      expect(await nick(impostor, "aLiCe")).toMatchObject({ action: "ack" });
      const refused = await join(impostor, "lobby");
      expect(refused).toMatchObject({ action: "error", code: "name_taken" });
      expect(refused.message).toContain("lobby");
      // Nobody in the lobby saw the impostor, and it is in no room.
      const users = await join(alice, "lobby");
      expect((users.users as Frame[]).map((u) => u.name)).toEqual(["Alice"]);
      expect(await ask(impostor, { action: "message", room: "lobby", message: "I am Alice" })).toMatchObject({
        action: "error",
        code: "not_in_room",
      });
      // Once Alice has left, the name is free there.
      await leave(alice, "lobby");
      expect(await join(impostor, "lobby")).toMatchObject({ action: "users" });
    }
  });

  it("draws another name for a guest who chose none when its drawn name is taken where it enters", async () => {
    for (const n of await backends({ RATE_LIMIT: "0" })) {
      const drawn = await guest(n);
      const other = await guest(n);
      expect(await nick(other, drawn.name)).toMatchObject({ action: "ack" });
      expect(await join(other, "lobby")).toMatchObject({ action: "users" });
      const users = await join(drawn, "lobby");
      const told = await drawn.client.action("user_renamed", (f) => f.room === undefined);
      expect(told).toMatchObject({ uid: drawn.uid, previous: drawn.name });
      expect(told.name).toMatch(/^User #\d+$/);
      expect(told.name).not.toBe(drawn.name);
      expect((users.users as Frame[]).map((u) => u.name).sort()).toEqual([drawn.name, told.name].sort());
    }
  });

  it("draws another name for such a guest already in other rooms, and those rooms see it renamed", async () => {
    for (const n of await backends({ RATE_LIMIT: "0" })) {
      const drawn = await guest(n);
      const neighbour = await guest(n);
      expect(await join(neighbour, "side")).toMatchObject({ action: "users" });
      expect(await join(drawn, "side")).toMatchObject({ action: "users" });
      const other = await guest(n);
      expect(await nick(other, drawn.name)).toMatchObject({ action: "ack" });
      expect(await join(other, "busy")).toMatchObject({ action: "users" });
      const users = await join(drawn, "busy");
      expect(users).toMatchObject({ action: "users" });
      const seen = await neighbour.client.action("user_renamed", (f) => f.room === "side" && f.uid === drawn.uid);
      expect(seen.previous).toBe(drawn.name);
      expect(seen.name).toMatch(/^User #\d+$/);
      expect(seen.name).not.toBe(drawn.name);
      expect((users.users as Frame[]).map((u) => u.name).sort()).toEqual([drawn.name, seen.name].sort());
      const side = await ask(neighbour, { action: "users", room: "side" });
      expect((side.users as Frame[]).map((u) => u.name).sort()).toEqual([neighbour.name, seen.name].sort());
    }
  });

  it("greets each of many guests entering a busy lobby at once with the name the lobby shows them under", async () => {
    const GUESTS = 150;
    const env = { RATE_LIMIT: "0", MAX_CONNECTIONS_PER_IP: "1000", NEW_GUESTS_PER_IP: "0" };
    for (const n of await backends(env)) {
      const watcher = await connectUser(n.url);
      scope.defer(() => watcher.client.close());
      const arrivals = await Promise.all(
        Array.from({ length: GUESTS }, async () => {
          const u = await connectUser(n.url);
          scope.defer(() => u.client.close());
          return u;
        }),
      );
      for (const u of arrivals) {
        const joined = await watcher.client.action("user_join", (f) => f.id === u.id);
        expect(joined.name).toBe(u.name);
      }
      // Every one of them is in the lobby, each under a name of its own.
      const names = new Set(arrivals.map((u) => u.name.toLowerCase()));
      expect(names.size).toBe(GUESTS);
      for (const u of arrivals) expect(u.client.all("user_renamed")).toEqual([]);
    }
  }, 120_000);

  it("lets exactly one of 'Bob' and 'bob' in, joining or renaming at the same moment on two nodes", async () => {
    const redis = await scope.redis();
    const env = { REDIS_URL: redis.url, RATE_LIMIT: "0" };
    const nodes = [await scope.node(env), await scope.node(env)];
    for (let round = 0; round < 5; round++) {
      const room = `race${round}`;
      const [one, two] = [await guest(nodes[0] as NodeProcess), await guest(nodes[1] as NodeProcess)];
      expect(await nick(one as User, `Bob${round}`)).toMatchObject({ action: "ack" });
      expect(await nick(two as User, `bob${round}`)).toMatchObject({ action: "ack" });
      const joins = await Promise.all([join(one as User, room), join(two as User, room)]);
      expect(joins.map((r) => r.action).sort()).toEqual(["error", "users"]);
      expect(joins.find((r) => r.action === "error")).toMatchObject({ code: "name_taken" });

      // Both in a room now, each takes one new name at once.
      const shared = `shared${round}`;
      const [a, b] = [await guest(nodes[0] as NodeProcess), await guest(nodes[1] as NodeProcess)];
      await join(a as User, shared);
      await join(b as User, shared);
      const renames = await Promise.all([nick(a as User, `Carol${round}`), nick(b as User, `CAROL${round}`)]);
      expect(renames.map((r) => r.action).sort()).toEqual(["ack", "error"]);
      const users = await join(a as User, shared);
      const names = (users.users as Frame[]).map((u) => String(u.name).toLowerCase());
      expect(names.filter((name) => name === `carol${round}`)).toHaveLength(1);
    }
  });
});
