/**
 * What one user, or one address, may add to what is stored: the write
 * budget in bytes a minute, the rooms and conversations started an hour,
 * new guests an hour, first direct messages to one person a minute, and
 * guests kept only once they have done something worth keeping.
 */
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { connectUser, joinRoom, say, type User } from "./support/chat.js";
import type { NodeProcess } from "./support/processes.js";
import { perTest } from "./support/scope.js";
import { type Frame, SockClient } from "./support/sockjs-client.js";

const scope = perTest();

/** A `proto=2` guest (the same one again with `token`), from `from` (127.0.0.1 unless told). */
async function guest(n: NodeProcess, options: { from?: string; token?: string } = {}): Promise<User> {
  const token = options.token ? `&guest=${encodeURIComponent(options.token)}` : "";
  const u = await connectUser(n.url, { query: `proto=2&lobby=0${token}`, localAddress: options.from });
  scope.defer(() => u.client.close());
  return u;
}

/** Sends a request with a ref; resolves with its ack or its error. */
async function ask(u: User, request: Record<string, unknown>): Promise<Frame> {
  const ref = `r-${Math.random()}`;
  await u.client.send({ ...request, ref });
  return u.client.next((f) => f.ref === ref && (f.action === "ack" || f.action === "error"), 10_000);
}

const dm = (from: User, to: User, message: string) => ask(from, { action: "dm", to: to.uid, message });
const post = (from: User, room: string, message: string) => ask(from, { action: "message", room, message });

describe("text that costs more stored than it shows", () => {
  it("refuses control and format characters in direct messages, notes to oneself and edits (bad_text)", async () => {
    const n = await scope.node();
    const a = await guest(n);
    const b = await guest(n);
    await joinRoom(a, "lobby");
    expect(await dm(a, b, "bell\u0007")).toMatchObject({ action: "error", code: "bad_text" });
    expect(await dm(a, a, "\u0001".repeat(100))).toMatchObject({ action: "error", code: "bad_text" });
    const mid = await say(a, "typo");
    const edit = await ask(a, { action: "edit", room: "lobby", mid, message: "fixed\u202e" });
    expect(edit).toMatchObject({ action: "error", code: "bad_text" });
    // Newlines, tabs and the joiners of emoji sequences are text.
    const fine = "line one\n\tline two 👩‍💻 می‌خواهم";
    expect(await dm(a, b, fine)).toMatchObject({ action: "ack" });
    await b.client.send({ action: "join", with: a.uid });
    const history = await b.client.action("history", (f) => f.with === a.uid);
    expect((history.messages as Frame[]).map((m) => m.message)).toEqual([fine]);
  });
});

describe("the write budget", () => {
  it("refuses a user past WRITE_BYTES_PER_USER a minute, notes to oneself included, and says how long to wait", async () => {
    const n = await scope.node({ WRITE_BYTES_PER_USER: "20000", WRITE_BYTES_PER_IP: "0", RATE_LIMIT: "0" });
    const a = await guest(n);
    const b = await guest(n);
    await joinRoom(a, "lobby");
    await joinRoom(b, "lobby");
    const note = "n".repeat(3800);
    const replies: Frame[] = [];
    for (let i = 0; i < 8; i++) replies.push(await dm(a, a, note));
    const acked = replies.filter((r) => r.action === "ack").length;
    // 20000 bytes: five notes of 3800 (and what each entry costs besides), then nothing.
    expect(acked).toBe(5);
    expect(replies.slice(acked).every((r) => r.code === "over_budget")).toBe(true);
    const refused = replies[acked] as Frame;
    expect(refused.wait).toBeGreaterThanOrEqual(1);
    expect(refused.wait).toBeLessThanOrEqual(60);
    // The same budget holds for the user's room messages; another user of the address still writes.
    expect(await post(a, "lobby", "and here?")).toMatchObject({ action: "error", code: "over_budget" });
    expect(await post(b, "lobby", "I can")).toMatchObject({ action: "ack" });
  });

  it("refuses the users of one address past WRITE_BYTES_PER_IP a minute, while another address chats", async () => {
    const n = await scope.node({ WRITE_BYTES_PER_USER: "0", WRITE_BYTES_PER_IP: "20000", RATE_LIMIT: "0" });
    const [a, b] = [await guest(n), await guest(n)];
    const c = await guest(n, { from: "127.0.0.2" });
    for (const u of [a, b, c]) await joinRoom(u, "lobby");
    const text = "m".repeat(3800);
    let refusal: Frame | undefined;
    for (let i = 0; i < 10 && !refusal; i++) {
      const reply = await post(i % 2 === 0 ? a : b, "lobby", text);
      if (reply.action === "error") refusal = reply;
    }
    expect(refusal).toMatchObject({ code: "over_budget" });
    expect(await post(a, "lobby", "a?")).toMatchObject({ action: "error", code: "over_budget" });
    expect(await post(b, "lobby", "b?")).toMatchObject({ action: "error", code: "over_budget" });
    const ack = await post(c, "lobby", "from elsewhere");
    expect(ack).toMatchObject({ action: "ack" });
    await a.client.action("message", (f) => f.mid === ack.mid);
  });
});

describe("starting rooms and conversations", () => {
  it("lets a user start NEW_ROOMS_PER_HOUR rooms an hour, and still write where others started one", async () => {
    const n = await scope.node({ NEW_ROOMS_PER_HOUR: "2", RATE_LIMIT: "0" });
    const a = await guest(n);
    const b = await guest(n);
    for (const room of ["r1", "r2", "r3", "r4"]) await joinRoom(a, room);
    expect(await post(a, "r1", "first")).toMatchObject({ action: "ack", mid: 1 });
    expect(await post(a, "r2", "first")).toMatchObject({ action: "ack", mid: 1 });
    const refused = await post(a, "r3", "first");
    expect(refused).toMatchObject({ action: "error", code: "too_many_new" });
    expect(refused.wait).toBeGreaterThan(60);
    await joinRoom(b, "r4");
    expect(await post(b, "r4", "b starts this one")).toMatchObject({ action: "ack", mid: 1 });
    expect(await post(a, "r4", "and a writes in it")).toMatchObject({ action: "ack", mid: 2 });
    expect(await post(a, "r1", "and in its own")).toMatchObject({ action: "ack", mid: 2 });
  });

  it("lets a user start NEW_CONVERSATIONS_PER_HOUR conversations an hour, and go on with those it has", async () => {
    const n = await scope.node({ NEW_CONVERSATIONS_PER_HOUR: "2", RATE_LIMIT: "0" });
    const a = await guest(n);
    const [b, c, d] = [await guest(n), await guest(n), await guest(n)];
    expect(await dm(a, b, "hi b")).toMatchObject({ action: "ack" });
    expect(await dm(a, c, "hi c")).toMatchObject({ action: "ack" });
    expect(await dm(a, d, "hi d")).toMatchObject({ action: "error", code: "too_many_new" });
    expect(await dm(a, b, "again, b")).toMatchObject({ action: "ack", mid: 2 });
    expect(await dm(d, a, "d may write to a")).toMatchObject({ action: "ack" });
  });
});

describe("guests", () => {
  it("gives one address NEW_GUESTS_PER_IP new guests an hour; a returning guest and another address still come in", async () => {
    const n = await scope.node({ NEW_GUESTS_PER_IP: "2" });
    const first = await guest(n);
    await guest(n);
    const refused = await SockClient.connect(n.url, { query: "proto=2&lobby=0" });
    scope.defer(() => refused.close());
    const error = await refused.action("error");
    expect(error).toMatchObject({ code: "too_many_guests" });
    expect(error.wait).toBeGreaterThan(60);
    expect((await refused.waitClosed()).code).toBe(4004);
    const back = await guest(n, { token: first.guest });
    expect(back.uid).toBe(first.uid);
    const elsewhere = await guest(n, { from: "127.0.0.2" });
    expect(elsewhere.uid).toMatch(/^g-/);
  });

  it.each(["embedded", "Redis"])(
    "lets a user hear from FIRST_DMS_PER_RECIPIENT new people a minute; those it talked to still get through (%s)",
    async (mode) => {
      const redis = mode === "Redis" ? await scope.redis() : undefined;
      const n = await scope.node({
        FIRST_DMS_PER_RECIPIENT: "3",
        RATE_LIMIT: "0",
        ...(redis ? { REDIS_URL: redis.url } : {}),
      });
      const target = await guest(n);
      await joinRoom(target, "lobby");
      const strangers = [await guest(n), await guest(n), await guest(n), await guest(n)];
      const replies: Frame[] = [];
      for (const s of strangers) replies.push(await dm(s, target, "hello!"));
      expect(replies.map((r) => r.action === "ack" || r.code)).toEqual([true, true, true, "recipient_busy"]);
      expect(replies[3]?.wait).toBeGreaterThanOrEqual(1);
      const [known] = strangers as [User];
      expect(await dm(known, target, "me again")).toMatchObject({ action: "ack" });
      // The last hint comes from the one it knows: the refused stranger's, which would come before it, never does.
      await expect
        .poll(() => target.client.all("conversation").map((f) => (f.with as { uid: string }).uid))
        .toEqual([...strangers.slice(0, 3).map((s) => s.uid), known.uid]);
    },
    30_000,
  );

  it.each(["embedded", "Redis"])(
    "keeps a guest only once it has done something worth keeping (%s)",
    async (mode) => {
      const redis = mode === "Redis" ? await scope.redis() : undefined;
      const n = await scope.node(redis ? { REDIS_URL: redis.url } : {});
      const inspect = redis ? new Redis(redis.url) : undefined;
      if (inspect) scope.defer(() => inspect.disconnect());
      const keptKeys = async (uid: string) =>
        inspect ? (await inspect.keys(`*user:${uid}}*`)).filter((k) => !k.endsWith(":conns")).sort() : [];

      // Only reading the lobby: nothing is kept, and it comes back with nothing.
      const reader = await guest(n);
      await joinRoom(reader, "lobby");
      await ask(reader, { action: "read", room: "lobby", mid: 0, epoch: "x" });
      expect(await keptKeys(reader.uid)).toEqual([]);
      reader.client.close();
      const readerAgain = await guest(n, { token: reader.guest });
      expect(readerAgain.uid).toBe(reader.uid);
      expect(readerAgain.info.rooms).toEqual([]);

      // A room of its own is worth keeping: it comes back to it, and to the lobby it was in.
      const planner = await guest(n);
      await joinRoom(planner, "lobby");
      await joinRoom(planner, "plans");
      planner.client.close();
      const plannerAgain = await guest(n, { token: planner.guest });
      expect([...(plannerAgain.info.rooms as string[])].sort()).toEqual(["lobby", "plans"]);
      expect(plannerAgain.name).toBe(planner.name);
      if (inspect) expect((await keptKeys(planner.uid)).length).toBeGreaterThan(0);

      // So is a message: its name is kept, and others can write to it once it has gone.
      const writer = await guest(n);
      await joinRoom(writer, "lobby");
      await say(writer, "hello");
      writer.client.close();
      const other = await guest(n);
      await writer.client.waitClosed();
      expect(await dm(other, writer, "for when you are back")).toMatchObject({ action: "ack" });
    },
    30_000,
  );
});
