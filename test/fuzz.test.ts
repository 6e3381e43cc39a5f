import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import WebSocket from "ws";
import { joinedUser, say, type User } from "./support/chat.js";
import { type NodeProcess, startNode } from "./support/processes.js";
import { testSeed } from "./support/seed.js";
import { SockClient } from "./support/sockjs-client.js";

let node: NodeProcess;
const open: User[] = [];

beforeAll(async () => {
  // Frames up to 1 MiB reach the chat layer; what happens above the frame limit has its own test.
  node = await startNode({ RATE_LIMIT: "0", MAX_FRAME_BYTES: "1048576" });
});
afterAll(async () => {
  for (const u of open) u.client.close();
  await node.stop();
});

const rssKiB = () => Number(readFileSync(`/proc/${node.child.pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)?.[1]);

const actions = [
  "message",
  "pm",
  "join",
  "leave",
  "nick",
  "typing",
  "users",
  "history",
  "__proto__",
  "constructor",
  "toString",
];
const nasty = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.string({ unit: "grapheme", maxLength: 200 }),
  fc.constantFrom("\u0000", "\ud800", "\udfff", "\u202e", "\ufeff", "😀".repeat(3000), "a".repeat(100_000)),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.anything(), { maxLength: 5 }),
  fc.dictionary(fc.constantFrom("__proto__", "constructor", "prototype", "id", "name"), fc.jsonValue(), { maxKeys: 3 }),
);
const deep = fc.integer({ min: 100, max: 5000 }).map((d) => `${"[".repeat(d)}${"]".repeat(d)}`);
const request = fc.record(
  {
    action: fc.oneof(fc.constantFrom(...actions), nasty),
    message: nasty,
    room: fc.oneof(fc.constantFrom("lobby", "fuzz", "LOBBY", "../x", ""), nasty),
    name: nasty,
    target: fc.oneof(fc.record({ id: nasty }), nasty),
    since: nasty,
    before: nasty,
    limit: nasty,
    ref: nasty,
    __proto__: fc.jsonValue(),
  },
  { requiredKeys: [] },
);
const frame = fc.oneof(
  { weight: 5, arbitrary: request.map((r) => JSON.stringify(r)) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 300 }) },
  { weight: 1, arbitrary: deep },
  { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('{"action":"message","message":"', "{}", "[]", '{"__proto__":{"admin":true}}'),
  },
);

it("survives thousands of random and malformed frames, and two other users still chat", async () => {
  const alice = await joinedUser(node.url);
  const bob = await joinedUser(node.url);
  open.push(alice, bob);
  const rssBefore = rssKiB();
  let tried = 0;
  let rawTried = 0;
  const codes = new Map<string, number>();

  const seed1 = testSeed("random frames");
  await fc.assert(
    fc.asyncProperty(fc.array(frame, { minLength: 20, maxLength: 60 }), async (frames) => {
      const fuzzer = await SockClient.connect(node.url);
      for (const f of frames) await fuzzer.send(f);
      tried += frames.length;
      // A frame that asks for nothing in return may be silent; the marker's reply proves the rest were handled.
      await fuzzer.send({ action: "users", ref: "marker" });
      // Every batch here fits MAX_FRAME_BYTES, so nothing may have closed the connection.
      const answered = fuzzer.next((f) => f.ref === "marker", 10000);
      const closedEarly = new Promise<never>((_, reject) => {
        fuzzer.onClose((c) => reject(new Error(`the server closed the fuzzing connection: ${JSON.stringify(c)}`)));
      });
      await Promise.race([answered, closedEarly]);
      for (const e of fuzzer.all("error")) codes.set(String(e.code), (codes.get(String(e.code)) ?? 0) + 1);
      expect(fuzzer.all("error").filter((e) => e.code === "internal")).toEqual([]);
      fuzzer.close();
    }),
    { numRuns: 100, seed: seed1 },
  );

  // Bytes that are not SockJS framing at all, straight onto the websocket.
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 2000 }), async (bytes) => {
      const ws = new WebSocket(`${node.url.replace("http", "ws")}/sock/000/raw${rawTried}/websocket`);
      await new Promise((r) => ws.once("open", r));
      const closed = new Promise((r) => ws.once("close", r));
      const marker = new Promise((r) => ws.on("message", (d) => String(d).includes("marker") && r(d)));
      ws.send(bytes);
      ws.send(Buffer.from(bytes).toString("latin1"));
      // Handled once the server closed the socket for them, or answered a request sent after them.
      ws.send(JSON.stringify([JSON.stringify({ action: "users", ref: "marker" })]));
      await Promise.race([closed, marker]);
      ws.terminate();
      rawTried += 2;
    }),
    { numRuns: 200, seed: seed1 + 1 },
  );

  const health = await fetch(`${node.url}/healthz`);
  expect(health.status).toBe(200);
  const mid = await say(alice, "still chatting after the fuzz");
  const got = await bob.client.action("message", (f) => f.mid === mid);
  expect(got).toMatchObject({ id: alice.id, name: alice.name, message: "still chatting after the fuzz" });
  expect(Object.keys(got).sort()).toEqual(["action", "id", "message", "mid", "name", "room", "ts", "uid"]);
  const back = await say(bob, "me too");
  await alice.client.action("message", (f) => f.mid === back);

  const grownMiB = (rssKiB() - rssBefore) / 1024;
  console.log(
    `fuzz: ${tried} frames over SockJS and ${rawTried} raw websocket frames; ` +
      `errors by code ${JSON.stringify(Object.fromEntries(codes))}; RSS grew ${grownMiB.toFixed(1)} MiB`,
  );
  expect(tried).toBeGreaterThan(2000);
  expect(grownMiB).toBeLessThan(150);
  expect(node.output()).not.toMatch(/"level":(50|60)/);
}, 120000);

it("survives frames of 50-500 messages that trip the flood close, hold bad JSON or outrun an auth failure", async () => {
  // Default limits: a frame of more than 60 requests is refused and then closed in the middle.
  const limited = await startNode({});
  const secret = "a-test-secret-that-is-long-enough-0123456789";
  const guarded = await startNode({ AUTH_SECRET: secret });
  try {
    const alice = await joinedUser(limited.url);
    const bob = await joinedUser(limited.url);
    open.push(alice, bob);
    const closes = new Map<string, number>();
    const request = fc.oneof(
      fc.constant(JSON.stringify({ action: "message", message: "m" })),
      fc.constant(JSON.stringify({ action: "typing" })),
      fc.constant(JSON.stringify({ action: "join", room: "fuzz" })),
      fc.constant(JSON.stringify({ action: "nick", name: "Many" })),
      fc.constantFrom("{not json", "[]", "null", '{"action":"history","limit":1000}'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("websocket", "xhr-polling") as fc.Arbitrary<"websocket" | "xhr-polling">,
        fc.boolean(),
        fc.array(request, { minLength: 50, maxLength: 500 }),
        async (transport, unauthenticated, texts) => {
          const url = unauthenticated ? guarded.url : limited.url;
          const client = await SockClient.connect(url, { transport });
          await client.sendFrame(texts).catch(() => undefined);
          if (unauthenticated || texts.length > 60) {
            const closed = await client.waitClosed(10_000);
            closes.set(String(closed.code), (closes.get(String(closed.code)) ?? 0) + 1);
          }
          client.close();
          expect((await fetch(`${url}/healthz`)).status).toBe(200);
        },
      ),
      { numRuns: 60, seed: testSeed("multi-message frames") },
    );
    console.log(`multi-message frames: closes by code ${JSON.stringify(Object.fromEntries(closes))}`);
    expect(closes.get("4002")).toBeGreaterThan(0);
    expect(closes.get("4001")).toBeGreaterThan(0);
    expect(limited.child.exitCode).toBeNull();
    expect(guarded.child.exitCode).toBeNull();
    const mid = await say(alice, "after the floods");
    await bob.client.action("message", (f) => f.mid === mid);
    expect(limited.output()).not.toMatch(/"level":(50|60)/);
    expect(guarded.output()).not.toMatch(/"level":(50|60)/);
  } finally {
    await limited.stop();
    await guarded.stop();
  }
}, 120000);
