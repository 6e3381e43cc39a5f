/**
 * Deletion deletes (issue 21, step 5): once its author deletes a message, its
 * text and every earlier edit of it are gone from every reply (a joiner's
 * history, a page of scroll-back, a recovery) and from what the server
 * stores: the bytes of the embedded archive's files, every key in Redis.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { connectUser, joinRoom, say, type User } from "./support/chat.js";
import type { NodeProcess } from "./support/processes.js";
import { perTest } from "./support/scope.js";
import type { Frame } from "./support/sockjs-client.js";

const scope = perTest();

async function member(node: NodeProcess, room: string): Promise<User> {
  const u = await connectUser(node.url, { query: "proto=2&lobby=0" });
  scope.defer(() => u.client.close());
  await joinRoom(u, room);
  return u;
}

async function ask(u: User, request: Record<string, unknown>): Promise<Frame> {
  const ref = `r-${Math.random()}`;
  await u.client.send({ ...request, ref });
  return u.client.next((f) => f.ref === ref && (f.action === "ack" || f.action === "error"));
}

/** Every value of every key, read as its type is read, so that nothing stored escapes the search. */
async function everythingIn(redis: Redis): Promise<string> {
  const out: unknown[] = [];
  for (const key of await redis.keys("*")) {
    const type = await redis.type(key);
    if (type === "string") out.push(await redis.get(key));
    else if (type === "hash") out.push(await redis.hgetall(key));
    else if (type === "zset") out.push(await redis.zrange(key, 0, -1));
    else if (type === "set") out.push(await redis.smembers(key));
    else if (type === "list") out.push(await redis.lrange(key, 0, -1));
    else if (type === "stream") out.push(await redis.xrange(key, "-", "+"));
    else throw new Error(`a key of type ${type}: read it too`);
    out.push(key);
  }
  return JSON.stringify(out);
}

/** The bytes of every file of the embedded archive (its database, journal and all). */
function everythingOnDisk(dir: string): string {
  return readdirSync(dir)
    .map((f) => readFileSync(path.join(dir, f)).toString("latin1"))
    .join("\n");
}

describe.each(["embedded", "Redis"] as const)("a deleted message (%s)", (mode) => {
  it("leaves no text nor earlier edit in any reply, in Redis or in the archive's files; a tombstone keeps its mid", async () => {
    const env: Record<string, string> = { RATE_LIMIT: "0" };
    const redis = mode === "Redis" ? await scope.redis() : undefined;
    if (redis) env.REDIS_URL = redis.url;
    const n = await scope.node(env);
    const room = "oops";
    const ada = await member(n, room);
    const before = await say(ada, "before it", room);
    const secret = await say(ada, "my password is Tangerine-Falcon-1", room);
    expect(await ask(ada, { action: "edit", room, mid: secret, message: "no: Tangerine-Falcon-2" })).toMatchObject({
      of: "edit",
    });
    await ask(ada, { action: "react", room, mid: secret, emoji: "😮" });
    const after = await say(ada, "after it", room);
    expect(await ask(ada, { action: "delete", room, mid: secret })).toMatchObject({ of: "delete" });
    // Nothing puts text back into a deleted message.
    expect(await ask(ada, { action: "edit", room, mid: secret, message: "Tangerine-Falcon-3" })).toMatchObject({
      code: "no_such_message",
    });
    expect(await ask(ada, { action: "react", room, mid: secret, emoji: "👍" })).toMatchObject({
      code: "no_such_message",
    });

    const joiner = await member(n, room);
    const joined = await joiner.client.action("history", (f) => f.room === room);
    const messages = joined.messages as Frame[];
    expect(messages.filter((m) => m.action === "message").map((m) => [m.mid, m.message])).toEqual([
      [before, "before it"],
      [secret, ""],
      [after, "after it"],
    ]);
    expect(messages.filter((m) => m.action !== "message").map((m) => [m.action, m.target])).toEqual([
      ["delete", secret],
    ]);

    await joiner.client.send({ action: "history", room, before: after, limit: 5, ref: "page" });
    const page = await joiner.client.action("history", (f) => f.ref === "page");
    const back = await connectUser(n.url, { query: "proto=2&lobby=0" });
    scope.defer(() => back.client.close());
    await joinRoom(back, room, { since: 0, epoch: joined.epoch as string });
    const recovered = await back.client.action("history", (f) => f.room === room);
    expect(recovered).toMatchObject({ recovered: true });
    // A recovery may replay the message as its tombstone, never with text.
    for (const m of recovered.messages as Frame[]) if (m.mid === secret) expect(m.message).toBe("");
    expect((recovered.messages as Frame[]).map((m) => m.message)).toContain("after it");
    for (const reply of [joined, page, recovered]) expect(JSON.stringify(reply)).not.toMatch(/Tangerine/);

    if (redis) {
      const inspect = new Redis(redis.url, { maxRetriesPerRequest: 1 });
      scope.defer(async () => inspect.disconnect());
      const stored = await everythingIn(inspect);
      expect(stored.includes("after it")).toBe(true);
      expect(stored.match(/.{0,60}Tangerine.{0,20}/s)?.[0]).toBeUndefined();
    } else {
      const stored = everythingOnDisk(n.dataDir);
      expect(stored.includes("after it")).toBe(true);
      expect(stored.match(/.{0,60}Tangerine.{0,20}/s)?.[0]).toBeUndefined();
    }
  });
});

it("deletes, on Redis, a message stored before names were checked for lone surrogates", async () => {
  const redis = await scope.redis();
  const n = await scope.node({ REDIS_URL: redis.url });
  const room = "legacy";
  const ada = await member(n, room);
  const secret = await say(ada, "an old password: Tangerine-Falcon-9", room);
  // As an earlier version stored it: the author's name held a lone surrogate, kept as its JSON escape, which cjson cannot
  // read; and a name that merely spells one out (an escaped backslash), which must stay as it is.
  const inspect = new Redis(redis.url);
  scope.defer(() => inspect.disconnect());
  const [win] = await inspect.keys(`*{*:${room}}:win`);
  if (win === undefined) throw new Error("no window kept for the room");
  const entry = String(await inspect.hget(win, String(secret)));
  const legacy = entry.replace(`"name":${JSON.stringify(ada.name)}`, `"name":"half \\ud800, spelt \\\\ud800"`);
  expect(legacy).not.toBe(entry);
  await inspect.hset(win, String(secret), legacy);

  expect(await ask(ada, { action: "delete", room, mid: secret })).toMatchObject({ of: "delete" });
  const tomb = JSON.parse(String((await inspect.hget(win, String(secret)))?.split("\n")[0]?.split("\t")[1]));
  expect(tomb).toMatchObject({ mid: secret, message: "", name: "half \ufffd, spelt \\ud800" });
  expect((await everythingIn(inspect)).match(/.{0,60}Tangerine.{0,20}/s)?.[0]).toBeUndefined();
  expect(n.output()).not.toMatch(/"level":(50|60)/);
});
