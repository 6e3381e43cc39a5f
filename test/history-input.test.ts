/**
 * `history {before}` and `join {since, epoch}` of any shape get a clear error
 * or a page, never `internal`, on the embedded archive and on Redis; and the
 * connection goes on working after each.
 */
import { describe, expect, it } from "vitest";
import { connectUser, joinRoom, say } from "./support/chat.js";
import { perFile } from "./support/scope.js";
import type { Frame } from "./support/sockjs-client.js";

const scope = perFile();

const SHAPES: unknown[] = [
  -1,
  0,
  1.5,
  "7",
  null,
  true,
  {},
  [3],
  1e20,
  2 ** 53,
  Number.MAX_SAFE_INTEGER,
  1e300,
  -1e300,
  "9007199254740993",
];

describe.each(["embedded", "Redis"] as const)("history of any shape (%s)", (mode) => {
  it("answers every before and since with a page or a clear error, never internal", async () => {
    const env: Record<string, string> = { RATE_LIMIT: "0", HISTORY_SIZE: "3" };
    if (mode === "Redis") env.REDIS_URL = (await scope.redis()).url;
    const n = await scope.node(env);
    const u = await connectUser(n.url, { query: "proto=2&lobby=0" });
    scope.defer(() => u.client.close());
    await joinRoom(u, "shapes");
    for (let i = 0; i < 5; i++) await say(u, `m${i}`, "shapes");
    const asks: Record<string, unknown>[] = [
      ...SHAPES.map((before) => ({ action: "history", room: "shapes", before })),
      ...SHAPES.map((since) => ({ action: "join", room: "shapes", since })),
      ...SHAPES.map((since) => ({ action: "join", room: "shapes", since, epoch: "not-this-one" })),
      ...SHAPES.map((epoch) => ({ action: "join", room: "shapes", since: 2, epoch })),
      { action: "join", room: "shapes", since: 2, epoch: "x".repeat(5000) },
    ];
    for (const [i, request] of asks.entries()) {
      const ref = `a${i}`;
      await u.client.send({ ...request, ref });
      const reply = await u.client.next(
        (f) => f.ref === ref && (f.action === "history" || f.action === "error"),
        5000,
        `a reply to ${JSON.stringify(request)}`,
      );
      if (reply.action === "error") {
        expect(reply.code, JSON.stringify(request)).toBe("bad_request");
      } else {
        expect(Array.isArray(reply.messages), JSON.stringify(request)).toBe(true);
        for (const m of reply.messages as Frame[]) expect(typeof m.mid).toBe("number");
      }
    }
    expect(u.client.all("error").filter((f) => f.code === "internal")).toEqual([]);
    expect(await say(u, "still here", "shapes")).toBe(6);
  }, 60_000);
});

describe("a room that keeps no history (Redis, HISTORY_SIZE=0)", () => {
  it("never claims to have recovered what it did not keep", async () => {
    const n = await scope.node({ RATE_LIMIT: "0", HISTORY_SIZE: "0", REDIS_URL: (await scope.redis()).url });
    const u = await connectUser(n.url, { query: "proto=2&lobby=0" });
    scope.defer(() => u.client.close());
    await joinRoom(u, "nothing-kept");
    const first = await say(u, "one", "nothing-kept");
    await say(u, "two", "nothing-kept");
    const joined = await u.client.action("history", (f) => f.room === "nothing-kept");
    await u.client.send({ action: "join", room: "nothing-kept", since: first - 1, epoch: joined.epoch, ref: "back" });
    expect(await u.client.action("history", (f) => f.ref === "back")).toMatchObject({
      recovered: false,
      messages: [],
    });
  });
});
