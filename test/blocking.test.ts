/**
 * Blocking (issue 23): once Ada blocks Bob, his direct messages, his
 * conversation hints and his part of their conversation no longer reach her,
 * on every node, while Bob is not told: each of his sends succeeds as
 * before. The original page's private messages (`pm`) respect the block as
 * well. Each case runs on the embedded archive and on two nodes sharing one Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectUser, joinedUser, joinRoom, say, type User } from "./support/chat.js";
import type { NodeProcess } from "./support/processes.js";
import { perFile } from "./support/scope.js";
import type { Frame } from "./support/sockjs-client.js";

const scope = perFile();

async function guest(node: NodeProcess, as?: User): Promise<User> {
  const query = `proto=2&lobby=0${as?.guest ? `&guest=${encodeURIComponent(as.guest)}` : ""}`;
  const u = await connectUser(node.url, { query });
  scope.defer(() => u.client.close());
  return u;
}

async function ask(u: User, request: Record<string, unknown>): Promise<Frame> {
  const ref = `r-${Math.random()}`;
  await u.client.send({ ...request, ref });
  return u.client.next((f) => f.ref === ref && (f.action === "ack" || f.action === "error" || f.action === "history"));
}

async function dm(from: User, to: User, message: string): Promise<Frame> {
  return ask(from, { action: "dm", to: to.uid, message });
}

describe.each(["embedded", "Redis"] as const)("blocking (%s)", (mode) => {
  let a: NodeProcess;
  let b: NodeProcess;

  beforeAll(async () => {
    const env: Record<string, string> = { RATE_LIMIT: "0" };
    if (mode === "Redis") env.REDIS_URL = (await scope.redis()).url;
    a = await scope.node(env);
    // Embedded, one node serves both: the second is the first.
    b = mode === "Redis" ? await scope.node(env) : a;
  });
  afterAll(() => undefined);

  it("hides the blocked user's direct messages and hints from the blocker only, and the blocked user is not told", async () => {
    const ada = await guest(a);
    const bob = await guest(b);
    const cy = await guest(b);
    const room = `r${Math.floor(Math.random() * 1e9)}`;
    for (const u of [ada, bob, cy]) await joinRoom(u, room);
    expect(await dm(bob, ada, "before the block")).toMatchObject({ action: "ack", of: "dm" });
    await ada.client.action("conversation", (f) => (f.with as Frame).uid === bob.uid);

    expect(await ask(ada, { action: "block", user: bob.uid })).toMatchObject({ action: "ack", of: "block" });
    const listed = await ada.client.action("blocked", (f) => (f.users as Frame[]).length === 1);
    expect(listed.users).toEqual([{ uid: bob.uid, name: bob.name }]);

    // Bob's sends succeed as before: an ack with a mid, as any.
    const hidden = await dm(bob, ada, "can you see this?");
    expect(hidden).toMatchObject({ action: "ack", of: "dm", with: ada.uid });
    expect(hidden.mid).toEqual(expect.any(Number));
    // Cy's message to Ada after it reaches her; Bob's before it did not, nor a hint of his.
    const hints = ada.client.all("conversation").length;
    await dm(cy, ada, "hello from cy");
    await ada.client.action("conversation", (f) => (f.with as Frame).uid === cy.uid);
    expect(
      ada.client
        .all("conversation")
        .slice(hints)
        .map((f) => (f.with as Frame).uid),
    ).toEqual([cy.uid]);

    // Open, the conversation shows Ada her own side only; Bob's shows him all of it.
    await dm(ada, bob, "i wrote this");
    const hers = await ask(ada, { action: "join", with: bob.uid });
    expect((hers.messages as Frame[]).map((m) => m.message)).toEqual(["i wrote this"]);
    const his = await ask(bob, { action: "join", with: ada.uid });
    expect((his.messages as Frame[]).map((m) => m.message)).toEqual([
      "before the block",
      "can you see this?",
      "i wrote this",
    ]);
    // Live, too: Bob's next message there does not come to Ada; his message in their room after it does.
    await dm(bob, ada, "still blocked?");
    await say(bob, "in the room", room);
    await ada.client.action("message", (f) => f.message === "in the room");
    expect(ada.client.all("dm").map((f) => f.message)).not.toContain("still blocked?");
    expect(bob.client.all("dm").map((f) => f.message)).toContain("still blocked?");

    // The block is kept: Ada's next connection, on the other node, starts with it and without the conversation.
    const again = await guest(b, ada);
    expect(again.info.blocked).toEqual([{ uid: bob.uid, name: bob.name }]);
    expect((again.info.conversations as Frame[]).map((c) => c.uid)).not.toContain(bob.uid);

    // Unblocked, Bob reaches her again, on both her connections.
    expect(await ask(ada, { action: "unblock", user: bob.uid })).toMatchObject({ action: "ack", of: "unblock" });
    await again.client.action("blocked", (f) => (f.users as Frame[]).length === 0);
    await dm(bob, ada, "and now?");
    await ada.client.action("dm", (f) => f.message === "and now?");
  });

  it("keeps the original page's private messages of a blocked user from the blocker, and the sender is not told", async () => {
    const ada = await guest(a);
    // Two guests of the original page in the lobby, one on each node; a third nobody blocked.
    const [far, near, cy] = await Promise.all([joinedUser(b.url), joinedUser(a.url), joinedUser(b.url)]);
    for (const u of [far, near, cy]) scope.defer(() => u.client.close());
    for (const u of [far, near]) {
      expect(await ask(ada, { action: "block", user: u.uid })).toMatchObject({ action: "ack", of: "block" });
    }
    const pm = async (from: User, message: string): Promise<Frame> => {
      const ref = `pm-${Math.random()}`;
      await from.client.send({ action: "pm", target: { id: ada.id }, message, ref });
      return from.client.next((f) => f.ref === ref);
    };
    // Each blocked sender's page shows it sent, as ever.
    expect(await pm(far, "psst from afar")).toMatchObject({ action: "pm_sent", message: "psst from afar" });
    expect(await pm(near, "psst from near")).toMatchObject({ action: "pm_sent", message: "psst from near" });
    // Sent after them by the same way, the unblocked one's arrives; theirs never did.
    await pm(cy, "hello from cy");
    await ada.client.action("pm", (f) => f.message === "hello from cy");
    expect(ada.client.all("pm").map((f) => f.message)).toEqual(["hello from cy"]);
  });

  it("refuses blocking oneself, a user nobody knows, and a guest of the original protocol", async () => {
    const ada = await guest(a);
    expect(await ask(ada, { action: "block", user: ada.uid })).toMatchObject({ code: "bad_request" });
    expect(await ask(ada, { action: "block", user: "g-nobody" })).toMatchObject({ code: "no_such_user" });
    const old = await connectUser(b.url, { query: "lobby=0" });
    scope.defer(() => old.client.close());
    expect(await ask(old, { action: "block", user: ada.uid })).toMatchObject({ code: "forbidden" });
  });
});
