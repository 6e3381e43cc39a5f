import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectUser, joinedUser, joinRoom, messagesIn, say, type User } from "./support/chat.js";
import { type NodeProcess, startNode } from "./support/processes.js";
import type { Transport } from "./support/sockjs-client.js";

let node: NodeProcess;
const open: User[] = [];

const GRACE_MS = 1000;

beforeAll(async () => {
  node = await startNode({ PRESENCE_GRACE: String(GRACE_MS / 1000) });
});
afterAll(async () => {
  for (const u of open) u.client.close();
  await node.stop();
});

const transports: Transport[] = ["websocket", "xhr-streaming", "xhr-polling"];

describe.each(transports)("the original protocol over %s", (transport) => {
  const user = async () => {
    const u = await joinedUser(node.url, { transport });
    open.push(u);
    return u;
  };

  it("greets a new connection with its id and a guest name", async () => {
    const a = await connectUser(node.url, { transport });
    open.push(a);
    expect(a.id).toMatch(new RegExp(`^${node.nodeId}\\.`));
    expect(a.name).toMatch(/^User #\d{6}$/);
    expect(a.client.frames[0]?.action).toBe("user_info");
  });

  it("announces a newcomer to the others, not to itself", async () => {
    const a = await user();
    const b = await user();
    const join = await a.client.action("user_join", (f) => f.id === b.id);
    expect(join).toEqual({ action: "user_join", id: b.id, uid: b.uid, name: b.name, room: "lobby" });
    expect(b.client.all("user_join").some((f) => f.id === b.id)).toBe(false);
  });

  it("relays a message to everyone, the sender included, under the sender's real id and name", async () => {
    const a = await user();
    const b = await user();
    await a.client.send({ action: "message", message: "hello there", id: "forged", name: "Mallory", html: "<b>" });
    const got = await b.client.action("message", (f) => f.message === "hello there");
    const echo = await a.client.action("message", (f) => f.message === "hello there");
    expect(echo).toEqual(got);
    expect(Object.keys(got).sort()).toEqual(["action", "id", "message", "mid", "name", "room", "ts", "uid"]);
    expect(got).toMatchObject({ id: a.id, uid: a.uid, name: a.name, room: "lobby" });
    expect(typeof got.mid).toBe("number");
    expect(Math.abs(Number(got.ts) - Date.now())).toBeLessThan(10000);
  });

  it("numbers a room's messages in increasing order", async () => {
    const a = await user();
    const first = await say(a, "one");
    const second = await say(a, "two");
    // Nobody else speaks in this file's lobby meanwhile: the next message takes the next number.
    expect(second).toBe(first + 1);
    const [m1, m2] = messagesIn(a, "lobby").filter((f) => f.message === "one" || f.message === "two");
    expect([m1?.message, m2?.message]).toEqual(["one", "two"]);
  });

  it("delivers a private message to its target only, and confirms it to the sender", async () => {
    const a = await user();
    const b = await user();
    const c = await user();
    await a.client.send({ action: "pm", target: { id: b.id, user: b.name }, message: "psst" });
    const pm = await b.client.action("pm");
    expect(pm).toMatchObject({ message: "psst", id: a.id, name: a.name, target: { id: b.id, name: b.name } });
    const sent = await a.client.action("pm_sent");
    expect(sent).toMatchObject({ message: "psst", id: a.id, target: { id: b.id, name: b.name, user: b.name } });
    // The original page names the target `name` as often as `user`: both route by id.
    await a.client.send({ action: "pm", target: { id: c.id, name: c.name }, message: "to c" });
    await c.client.action("pm", (f) => f.message === "to c");
    const marker = await say(a, "after the pms");
    await b.client.action("message", (f) => f.mid === marker);
    await c.client.action("message", (f) => f.mid === marker);
    expect(c.client.all("pm").map((f) => f.message)).toEqual(["to c"]);
    expect(b.client.all("pm").map((f) => f.message)).toEqual(["psst"]);
  });

  it("tells everyone when a connection closes", async () => {
    const a = await user();
    const b = await user();
    b.client.close();
    // HTTP transports are only known to be gone after SockJS's disconnect delay (5 s).
    const left = await a.client.action("user_left", (f) => f.id === b.id, 10000);
    expect(left).toEqual({ action: "user_left", id: b.id, uid: b.uid, name: b.name, room: "lobby" });
  });
});

describe("rooms and the extensions", () => {
  const user = async () => {
    const u = await joinedUser(node.url);
    open.push(u);
    return u;
  };

  it("keeps rooms apart", async () => {
    const a = await user();
    const b = await user();
    const c = await user();
    await joinRoom(a, "apart");
    await joinRoom(b, "apart");
    const mid = await say(a, "only for apart", "apart");
    await b.client.action("message", (f) => f.mid === mid && f.room === "apart");
    const marker = await say(a, "lobby marker");
    await c.client.action("message", (f) => f.mid === marker);
    expect(c.client.all("message").some((f) => f.room === "apart")).toBe(false);
    expect(b.client.all("user_join").some((f) => f.id === a.id && f.room === "apart")).toBe(false);
    expect(a.client.all("user_join").some((f) => f.id === b.id && f.room === "apart")).toBe(true);
  });

  it("lists who is in a room after joining it", async () => {
    const a = await user();
    const b = await user();
    await joinRoom(a, "listing");
    const users = await joinRoom(b, "listing");
    expect(users.users).toEqual(
      expect.arrayContaining([
        { id: a.id, uid: a.uid, name: a.name },
        { id: b.id, uid: b.uid, name: b.name },
      ]),
    );
    expect((users.users as unknown[]).length).toBe(2);
  });

  it("leaves a room: the others are told, and its messages stop", async () => {
    const a = await user();
    const b = await user();
    await joinRoom(a, "leaving");
    await joinRoom(b, "leaving");
    await b.client.send({ action: "leave", room: "leaving", ref: "bye" });
    await b.client.action("left", (f) => f.ref === "bye" && f.room === "leaving");
    await a.client.action("user_left", (f) => f.id === b.id && f.room === "leaving");
    await say(a, "after b left", "leaving");
    await b.client.send({ action: "message", room: "leaving", message: "still here?", ref: "r1" });
    const err = await b.client.action("error", (f) => f.ref === "r1");
    expect(err.code).toBe("not_in_room");
    expect(messagesIn(b, "leaving").some((f) => f.message === "after b left")).toBe(false);
  });

  it("renames with nick and announces it to the rooms the user is in", async () => {
    const a = await user();
    const b = await user();
    await a.client.send({ action: "nick", name: "  Ada Lovelace  ", ref: "n" });
    const renamed = await b.client.action("user_renamed", (f) => f.id === a.id);
    expect(renamed).toEqual({
      action: "user_renamed",
      id: a.id,
      uid: a.uid,
      name: "Ada Lovelace",
      previous: a.name,
      room: "lobby",
    });
    await a.client.action("ack", (f) => f.ref === "n");
    const mid = await say(a, "signed");
    const msg = await b.client.action("message", (f) => f.mid === mid);
    expect(msg.name).toBe("Ada Lovelace");
    const list = await joinRoom(b, "lobby");
    expect(list.users).toContainEqual({ id: a.id, uid: a.uid, name: "Ada Lovelace" });
  });

  it("passes typing to the others in the room, not back to the typist", async () => {
    const a = await user();
    const b = await user();
    await a.client.send({ action: "typing", room: "lobby" });
    const t = await b.client.action("typing", (f) => f.id === a.id);
    expect(t).toEqual({ action: "typing", room: "lobby", id: a.id, uid: a.uid, name: a.name });
    const marker = await say(a, "typed");
    await a.client.action("message", (f) => f.mid === marker);
    expect(a.client.all("typing").some((f) => f.id === a.id)).toBe(false);
  });

  it("echoes ref on replies", async () => {
    const a = await user();
    await a.client.send({ action: "users", room: "lobby", ref: 99 });
    const users = await a.client.action("users", (f) => f.ref === 99);
    expect(users.room).toBe("lobby");
    await a.client.send({ action: "message", message: "with ref", ref: "m-1" });
    const ack = await a.client.action("ack", (f) => f.ref === "m-1");
    expect(ack).toMatchObject({ of: "message", room: "lobby" });
    expect(typeof ack.mid).toBe("number");
  });

  it("can start without the lobby when asked", async () => {
    const watcher = await user();
    const a = await connectUser(node.url, { query: "lobby=0" });
    open.push(a);
    await a.client.send({ action: "message", message: "nowhere", ref: "x" });
    const err = await a.client.action("error", (f) => f.ref === "x");
    expect(err.code).toBe("not_in_room");
    // Nobody in the lobby saw it come, and it is not on the lobby's list.
    const list = await joinRoom(watcher, "lobby");
    expect((list.users as { id: string }[]).map((u) => u.id)).not.toContain(a.id);
    expect(watcher.client.all("user_join").filter((f) => f.id === a.id)).toEqual([]);
  });
});

describe("departures on the original page, with a grace period of 15 s", () => {
  let patient: NodeProcess;
  beforeAll(async () => {
    patient = await startNode({ PRESENCE_GRACE: "15" });
  });
  afterAll(() => patient?.stop());

  it("announces a guest of the original protocol at once, since it can never come back, and a proto=2 guest only after the grace", async () => {
    const watcher = await joinedUser(patient.url);
    const lasting = await joinedUser(patient.url, { query: "proto=2" });
    const once = await joinedUser(patient.url);
    open.push(watcher, lasting, once);
    await watcher.client.action("user_join", (f) => f.id === once.id);
    await watcher.client.action("user_join", (f) => f.id === lasting.id);
    // The proto=2 guest closes first; the original page's guest after it.
    lasting.client.close();
    once.client.close();
    // Far sooner than the grace period: its user_left comes as soon as the close is noticed.
    const left = await watcher.client.action("user_left", (f) => f.id === once.id, 3000);
    expect(left).toEqual({ action: "user_left", id: once.id, uid: once.uid, name: once.name, room: "lobby" });
    // The guest who can come back, gone before it, is still within its grace: not announced.
    expect(watcher.client.all("user_left").filter((f) => f.id === lasting.id)).toEqual([]);
  });
});

describe("sending again", () => {
  it("stores a message sent twice with the same ref once, and acknowledges both with its mid", async () => {
    const a = await joinedUser(node.url);
    const b = await joinedUser(node.url);
    open.push(a, b);
    const acks: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      const ack = a.client.waitNew((f) => f.action === "ack" && f.ref === "same-ref");
      await a.client.send({ action: "message", message: "only once", ref: "same-ref" });
      acks.push((await ack).mid);
    }
    expect(acks[1]).toBe(acks[0]);
    const marker = await say(a, "after the resend");
    expect(marker).toBe(Number(acks[0]) + 1);
    await b.client.action("message", (f) => f.mid === marker);
    expect(b.client.all("message").filter((f) => f.message === "only once")).toHaveLength(1);
  });
});

describe("what docs/protocol.md promises, action by action", () => {
  const user = async (query?: string) => {
    const u = query ? await connectUser(node.url, { query }) : await joinedUser(node.url);
    open.push(u);
    return u;
  };
  const ask = async (u: User, request: Record<string, unknown>) => {
    const ref = `r-${Math.random()}`;
    await u.client.send({ ...request, ref });
    return u.client.next((f) => f.ref === ref && f.action !== "ack");
  };

  it("answers not_in_room for every action on a room the connection is not in", async () => {
    const a = await user();
    for (const request of [
      { action: "message", room: "elsewhere", message: "hi" },
      { action: "typing", room: "elsewhere" },
      { action: "leave", room: "elsewhere" },
      { action: "users", room: "elsewhere" },
      { action: "history", room: "elsewhere" },
    ]) {
      expect(await ask(a, request), request.action).toMatchObject({ action: "error", code: "not_in_room" });
    }
  });

  it("tells a proto=2 connection the server's limits and its lobby in user_info, and the original protocol nothing new", async () => {
    const strict = await startNode({ MAX_MESSAGE_LENGTH: "40", MAX_NAME_LENGTH: "12", MAX_ROOM_LENGTH: "20" });
    try {
      const modern = await connectUser(strict.url, { query: "lobby=0&proto=2" });
      const original = await connectUser(strict.url);
      open.push(modern, original);
      expect(modern.client.frames[0]).toMatchObject({
        action: "user_info",
        limits: {
          maxMessageLength: 40,
          maxMessageBytes: expect.any(Number),
          maxNameLength: 12,
          maxRoomLength: 20,
          lobby: "lobby",
        },
      });
      expect(original.client.frames[0]).not.toHaveProperty("limits");
    } finally {
      await strict.stop();
    }
  });

  it("answers a ping with a pong that carries its ref, even from a connection in no room", async () => {
    const a = await user("lobby=0&proto=2");
    expect(await ask(a, { action: "ping" })).toMatchObject({ action: "pong" });
  });

  it("refuses a ref of more than 64 characters, and echoes one of exactly 64", async () => {
    const a = await user();
    await a.client.send({ action: "users", ref: "r".repeat(65) });
    expect(await a.client.action("error")).toMatchObject({ code: "bad_request" });
    await a.client.send({ action: "users", ref: "r".repeat(64) });
    expect(await a.client.action("users", (f) => f.ref === "r".repeat(64))).toMatchObject({ room: "lobby" });
  });

  it("folds room names to lower case and trims them", async () => {
    const a = await user();
    const joined = await ask(a, { action: "join", room: "  Dev-Team_1 " });
    expect(joined).toMatchObject({ action: "history", room: "dev-team_1" });
    expect(await say(a, "folded", "DEV-TEAM_1")).toBeGreaterThan(0);
    expect(await ask(a, { action: "join", room: "-dash-first" })).toMatchObject({ code: "bad_room" });
  });

  it("pages history from 1 to 100 messages, and refuses 0 and 101", async () => {
    const a = await user();
    await joinRoom(a, "bounds");
    for (let i = 0; i < 3; i++) await say(a, `m${i}`, "bounds");
    expect(await ask(a, { action: "history", room: "bounds", limit: 1 })).toMatchObject({
      action: "history",
      more: true,
      messages: [{ message: "m2" }],
    });
    expect(((await ask(a, { action: "history", room: "bounds", limit: 100 })).messages as unknown[]).length).toBe(3);
    for (const limit of [0, 101, 1.5]) {
      expect(await ask(a, { action: "history", room: "bounds", limit }), String(limit)).toMatchObject({
        code: "bad_request",
      });
    }
  });

  it("announces a rename to each room the renamer is in, and tells one in no room alone", async () => {
    const a = await user();
    const b = await user();
    await joinRoom(a, "second");
    await joinRoom(b, "second");
    await a.client.send({ action: "nick", name: "Twice Over", ref: "n" });
    await a.client.action("ack", (f) => f.ref === "n");
    for (const room of ["lobby", "second"]) {
      await b.client.action("user_renamed", (f) => f.id === a.id && f.room === room && f.name === "Twice Over");
    }
    const loner = await user("lobby=0");
    await loner.client.send({ action: "nick", name: "Nobody Near", ref: "n" });
    const renamed = await loner.client.action("user_renamed");
    expect(renamed).toEqual({
      action: "user_renamed",
      id: loner.id,
      uid: loner.uid,
      name: "Nobody Near",
      previous: loner.name,
    });
  });

  it("answers a join of a room one is in with history and users again, and no second user_join", async () => {
    const a = await user();
    const b = await user();
    await joinRoom(a, "again");
    await joinRoom(b, "again");
    await a.client.action("user_join", (f) => f.id === b.id && f.room === "again");
    const list = await joinRoom(b, "again");
    expect((list.users as { id: string }[]).map((u) => u.id).sort()).toEqual([a.id, b.id].sort());
    const marker = await say(b, "after the rejoin", "again");
    await a.client.action("message", (f) => f.mid === marker);
    expect(a.client.all("user_join").filter((f) => f.id === b.id && f.room === "again")).toHaveLength(1);
  });
});
