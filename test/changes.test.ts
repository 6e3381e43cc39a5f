/**
 * Edit, delete and reactions: changes to a stored message, stored after it in
 * the same history, so that a member on another node, a joiner, a page of
 * scroll-back and a recovery with `since` all see each change once. Each case
 * runs on the embedded bus and on two nodes sharing one Redis.
 */
import { describe, expect, it } from "vitest";
import { connectUser, joinRoom, say, type User } from "./support/chat.js";
import type { NodeProcess } from "./support/processes.js";
import { perFile } from "./support/scope.js";
import type { Frame } from "./support/sockjs-client.js";

const scope = perFile();

async function member(node: NodeProcess, room: string, query = "lobby=0"): Promise<User> {
  const u = await connectUser(node.url, { query });
  scope.defer(() => u.client.close());
  await joinRoom(u, room);
  return u;
}

/** Sends a request with a ref and resolves with its ack or error. */
async function ask(u: User, request: Record<string, unknown>): Promise<Frame> {
  const ref = `r-${Math.random()}`;
  await u.client.send({ ...request, ref });
  return u.client.next((f) => f.ref === ref && (f.action === "ack" || f.action === "error"));
}

describe.each(["embedded", "Redis"] as const)("changes to messages (%s)", (mode) => {
  let a: NodeProcess;
  let b: NodeProcess;

  const nodes = async () => {
    if (a) return;
    const env: Record<string, string> = { RATE_LIMIT: "0" };
    if (mode === "embedded") {
      a = await scope.node(env);
      b = a;
      return;
    }
    const redis = await scope.redis();
    env.REDIS_URL = redis.url;
    [a, b] = await Promise.all([scope.node(env), scope.node(env)]);
  };

  it("lets the author edit and delete, anyone react, and shows each change live on every node, in order", async () => {
    await nodes();
    const room = `changes-${mode.toLowerCase()}`;
    const ada = await member(a, room);
    const bob = await member(b, room);
    const mid = await say(ada, "helo", room);

    const edited = await ask(ada, { action: "edit", room, mid, message: "hello" });
    expect(edited).toMatchObject({ action: "ack", of: "edit", room });
    expect(edited.mid).toBe(mid + 1);
    expect(await bob.client.action("edit")).toEqual({
      action: "edit",
      mid: mid + 1,
      target: mid,
      id: ada.id,
      uid: ada.uid,
      name: ada.name,
      ts: expect.any(Number),
      room,
      message: "hello",
    });

    // Nobody but the author changes a message; a change is not a message to change; nothing past the history.
    expect(await ask(bob, { action: "edit", room, mid, message: "mine now" })).toMatchObject({ code: "not_yours" });
    expect(await ask(bob, { action: "delete", room, mid })).toMatchObject({ code: "not_yours" });
    expect(await ask(ada, { action: "edit", room, mid: mid + 1, message: "x" })).toMatchObject({
      code: "no_such_message",
    });
    expect(await ask(ada, { action: "delete", room, mid: mid + 50 })).toMatchObject({ code: "no_such_message" });
    expect(await ask(ada, { action: "react", room, mid, emoji: "<script>" })).toMatchObject({ code: "bad_request" });

    // The server stores every reaction it is sent, a repeated one too; a client counts each person once per
    // emoji (docs/protocol.md), so the repeat changes nothing it shows.
    for (const who of [bob, ada, bob]) {
      expect(await ask(who, { action: "react", room, mid, emoji: "👍" })).toMatchObject({ action: "ack", of: "react" });
    }
    expect(await ask(bob, { action: "react", room, mid, emoji: "👍", remove: true })).toMatchObject({ of: "react" });
    await expect.poll(() => ada.client.all("react").length).toBe(4);
    expect(ada.client.all("react").map((f) => [f.uid, f.emoji, f.on])).toEqual([
      [bob.uid, "👍", true],
      [ada.uid, "👍", true],
      [bob.uid, "👍", true],
      [bob.uid, "👍", false],
    ]);

    expect(await ask(ada, { action: "delete", room, mid })).toMatchObject({ action: "ack", of: "delete" });
    expect(await bob.client.action("delete")).toMatchObject({ target: mid, uid: ada.uid, room });
    // Not a member, no changes.
    const outsider = await member(a, "elsewhere");
    expect(await ask(outsider, { action: "react", room, mid, emoji: "🎉" })).toMatchObject({ code: "not_in_room" });
  });

  it("keeps changes in history: a joiner, a page of scroll-back and a recovery with since see each once", async () => {
    await nodes();
    const room = `kept-${mode.toLowerCase()}`;
    const ada = await member(a, room);
    const first = await say(ada, "first", room);
    await say(ada, "second", room);
    await ask(ada, { action: "edit", room, mid: first, message: "first, edited" });
    // What a member who was there until the edit had seen.
    const lastSeen = first + 2;
    await ask(ada, { action: "react", room, mid: first, emoji: "🎉" });
    await ask(ada, { action: "delete", room, mid: first + 1 });

    // A joiner gets every change after the messages, each once, in mid order, the deletion included. What a
    // deleted message itself still shows is not promised here: the deletion is what a client applies.
    const joiner = await member(b, room);
    const history = await joiner.client.action("history", (f) => f.room === room);
    const kept = history.messages as Frame[];
    const mids = kept.map((m) => Number(m.mid));
    expect(mids).toEqual([...mids].sort((x, y) => x - y));
    expect(kept.find((m) => m.mid === first)).toMatchObject({ action: "message", message: "first" });
    expect(kept.filter((m) => m.action !== "message").map((m) => [m.mid, m.action, m.target])).toEqual([
      [first + 2, "edit", first],
      [first + 3, "react", first],
      [first + 4, "delete", first + 1],
    ]);

    // Recovery after the edit: only what came since, each once.
    const back = await connectUser(b.url, { query: "lobby=0" });
    scope.defer(() => back.client.close());
    await joinRoom(back, room, { since: lastSeen, epoch: history.epoch });
    const recovered = await back.client.action("history", (f) => f.room === room);
    expect(recovered).toMatchObject({ recovered: true });
    expect((recovered.messages as Frame[]).map((m) => m.action)).toEqual(["react", "delete"]);

    // A page of scroll-back counts messages, not changes, and carries each one's current changes with it,
    // however much later they were made than the page's `before`.
    await joiner.client.send({ action: "history", room, before: first + 2, limit: 2, ref: "older" });
    const older = await joiner.client.action("history", (f) => f.ref === "older");
    expect((older.messages as Frame[]).map((m) => [m.mid, m.action])).toEqual([
      [first, "message"],
      [first + 1, "message"],
      [first + 2, "edit"],
      [first + 3, "react"],
      [first + 4, "delete"],
    ]);
  });

  it("changes a direct message only within its conversation, and names the other member as `to`", async () => {
    await nodes();
    const ada = await connectUser(a.url, { query: "proto=2&lobby=0" });
    const bob = await connectUser(b.url, { query: "proto=2&lobby=0" });
    const eve = await connectUser(b.url, { query: "proto=2&lobby=0" });
    for (const u of [ada, bob, eve]) scope.defer(() => u.client.close());
    for (const [u, other] of [
      [ada, bob],
      [bob, ada],
    ] as const) {
      await u.client.send({ action: "join", with: other.uid, ref: "open" });
      await u.client.action("history", (f) => f.ref === "open");
    }
    const sent = await ask(ada, { action: "dm", to: bob.uid, message: "see you at 5" });
    const mid = Number(sent.mid);
    expect(await ask(ada, { action: "edit", with: bob.uid, mid, message: "see you at 6" })).toMatchObject({
      of: "edit",
      with: bob.uid,
    });
    expect(await bob.client.action("edit")).toMatchObject({
      target: mid,
      uid: ada.uid,
      to: bob.uid,
      message: "see you at 6",
    });
    expect(await ask(bob, { action: "react", with: ada.uid, mid, emoji: "👍" })).toMatchObject({ of: "react" });
    expect(await ada.client.action("react")).toMatchObject({ target: mid, uid: bob.uid, to: ada.uid, on: true });
    // Someone outside the conversation cannot reach it, whatever they name.
    for (const other of [ada, bob]) {
      expect(await ask(eve, { action: "delete", with: other.uid, mid })).toMatchObject({ code: "not_in_room" });
    }
  });
});

describe.each(["embedded", "Redis"] as const)("changes and what a joiner sees (%s)", (mode) => {
  it("keeps a room's messages in a joiner's history however many reactions come and go (HISTORY_SIZE=60)", async () => {
    const env: Record<string, string> = { RATE_LIMIT: "0", HISTORY_SIZE: "60" };
    if (mode === "Redis") env.REDIS_URL = (await scope.redis()).url;
    const n = await scope.node(env);
    const room = "busy-reactions";
    const ada = await member(n, room);
    const bob = await member(n, room);
    const said = ["one", "two", "three", "four", "five"];
    const mids: number[] = [];
    for (const text of said) mids.push(await say(ada, text, room));
    const last = mids.at(-1) as number;
    for (let i = 0; i < 70; i++) {
      expect(await ask(bob, { action: "react", room, mid: last, emoji: "👍" })).toMatchObject({ of: "react" });
      expect(await ask(bob, { action: "react", room, mid: last, emoji: "👍", remove: true })).toMatchObject({
        of: "react",
      });
    }
    await ask(bob, { action: "react", room, mid: mids[0], emoji: "🎉" });

    const joiner = await member(n, room);
    const history = await joiner.client.action("history", (f) => f.room === room);
    const kept = history.messages as Frame[];
    expect(kept.filter((m) => m.action === "message").map((m) => m.message)).toEqual(said);
    expect(history.more).toBe(false);
    // Each (user, emoji) has its last word only: the 👍 taken back, the 🎉 still on.
    expect(kept.filter((m) => m.action === "react").map((m) => [m.target, m.emoji, m.on])).toEqual([
      [last, "👍", false],
      [mids[0], "🎉", true],
    ]);
  }, 60_000);
});
