import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { joinedUser, joinRoom, say, type User } from "./support/chat.js";
import { type NodeProcess, startNode } from "./support/processes.js";
import type { Transport } from "./support/sockjs-client.js";

let node: NodeProcess;
const open: User[] = [];

// Limits other than the defaults, so that a server ignoring the variables fails these tests.
const LIMITS = { MAX_MESSAGE_LENGTH: "1000", MAX_MESSAGE_BYTES: "2000", MAX_NAME_LENGTH: "20", MAX_ROOM_LENGTH: "24" };

beforeAll(async () => {
  node = await startNode(LIMITS);
});
afterAll(async () => {
  for (const u of open) u.client.close();
  await node.stop();
});

const cases: { name: string; frame: unknown; code: string }[] = [
  { name: "a frame that is not JSON", frame: "{this is not json", code: "bad_json" },
  { name: "JSON that is not an object", frame: "[1,2,3]", code: "bad_request" },
  { name: "a JSON string", frame: '"message"', code: "bad_request" },
  { name: "null", frame: "null", code: "bad_request" },
  { name: "no action", frame: { message: "hi" }, code: "bad_request" },
  { name: "an action that is not a string", frame: { action: 5, message: "hi" }, code: "bad_request" },
  { name: "an unknown action", frame: { action: "explode" }, code: "unknown_action" },
  { name: "an inherited property as action", frame: { action: "__proto__" }, code: "unknown_action" },
  { name: "a message without text", frame: { action: "message" }, code: "bad_request" },
  { name: "a message whose text is a number", frame: { action: "message", message: 42 }, code: "bad_request" },
  { name: "a message whose text is an object", frame: { action: "message", message: { a: 1 } }, code: "bad_request" },
  { name: "text over the limit", frame: { action: "message", message: "x".repeat(1001) }, code: "too_long" },
  {
    name: "text within the characters but over the bytes",
    frame: { action: "message", message: "語".repeat(700) },
    code: "too_long",
  },
  { name: "text with a control character", frame: { action: "message", message: "ding\u0007" }, code: "bad_text" },
  { name: "text of escaped controls", frame: { action: "message", message: "\u0001".repeat(999) }, code: "bad_text" },
  { name: "text with a bidi override", frame: { action: "message", message: "abc\u202edef" }, code: "bad_text" },
  { name: "text with a lone surrogate", frame: { action: "message", message: "half \ud800" }, code: "bad_text" },
  {
    name: "a pm with a control character",
    frame: { action: "pm", target: { id: "x.y" }, message: "\u001b[2J" },
    code: "bad_text",
  },
  { name: "empty text", frame: { action: "message", message: "" }, code: "empty" },
  { name: "blank text", frame: { action: "message", message: " \n\t " }, code: "empty" },
  { name: "a pm to nobody", frame: { action: "pm", target: { id: "nope.nope" }, message: "hi" }, code: "offline" },
  {
    name: "a pm to an id of no node",
    frame: { action: "pm", target: { id: "garbage" }, message: "hi" },
    code: "offline",
  },
  { name: "a pm without target", frame: { action: "pm", message: "hi" }, code: "bad_request" },
  { name: "a pm with an empty text", frame: { action: "pm", target: { id: "x.y" }, message: "" }, code: "empty" },
  { name: "a room name with a slash", frame: { action: "join", room: "../etc" }, code: "bad_room" },
  { name: "a room name too long", frame: { action: "join", room: "r".repeat(25) }, code: "bad_room" },
  { name: "an empty room name", frame: { action: "join", room: "" }, code: "bad_room" },
  { name: "a room name of the wrong type", frame: { action: "join", room: ["lobby"] }, code: "bad_request" },
  {
    name: "a message to a room not joined",
    frame: { action: "message", room: "elsewhere", message: "hi" },
    code: "not_in_room",
  },
  {
    name: "a message to an invalid room",
    frame: { action: "message", room: "NO SPACES", message: "hi" },
    code: "bad_room",
  },
  { name: "an empty nickname", frame: { action: "nick", name: "   " }, code: "bad_name" },
  { name: "a nickname too long", frame: { action: "nick", name: "n".repeat(21) }, code: "bad_name" },
  { name: "a nickname with control characters", frame: { action: "nick", name: "evil\u0007bell" }, code: "bad_name" },
  { name: "a nickname with a bidi override", frame: { action: "nick", name: "abc\u202edef" }, code: "bad_name" },
  // Its JSON escape (\ud800) is one Redis's scripts cannot read: the name's messages could not be deleted or removed.
  { name: "a nickname with a lone surrogate", frame: { action: "nick", name: "half \ud800" }, code: "bad_name" },
  { name: "a history page with a negative limit", frame: { action: "history", limit: -1 }, code: "bad_request" },
];

describe.each(["websocket", "xhr-polling"] as Transport[])("bad input over %s", (transport) => {
  it.each(cases)("refuses $name with '$code', and everyone keeps chatting", async ({ frame, code }) => {
    const a = await joinedUser(node.url, { transport });
    const b = await joinedUser(node.url, { transport });
    open.push(a, b);
    const ref = typeof frame === "object" && frame !== null ? `bad-${Math.random()}` : undefined;
    const sent = typeof frame === "string" ? frame : { ...(frame as object), ref };
    await a.client.send(sent);
    const err = await a.client.action("error");
    expect(err.code).toBe(code);
    expect(typeof err.message).toBe("string");
    if (ref !== undefined) expect(err.ref).toBe(ref);
    expect(JSON.stringify(err)).not.toMatch(/at .*\.(js|ts):\d+/);

    const mid = await say(a, "still alive");
    await b.client.action("message", (f) => f.mid === mid);
    const back = await say(b, "me too");
    await a.client.action("message", (f) => f.mid === back);
    // After a round trip through the server, a second error for the one bad frame would be here.
    expect(a.client.all("error")).toHaveLength(1);
    expect(b.client.all("error")).toEqual([]);
    expect(a.client.closed).toBeUndefined();
    a.client.close();
    b.client.close();
  });
});

it("accepts text, names and rooms at exactly the configured limits", async () => {
  const a = await joinedUser(node.url);
  open.push(a);
  await joinRoom(a, "r".repeat(24));
  expect(await say(a, "y".repeat(1000), "r".repeat(24))).toBeGreaterThan(0);
  // 666 characters of three bytes and two of one: 2000 bytes stored.
  expect(await say(a, `${"語".repeat(666)}ok`, "r".repeat(24))).toBeGreaterThan(0);
  expect(await say(a, "lines\n\tand a 👩‍💻", "r".repeat(24))).toBeGreaterThan(0);
  await a.client.send({ action: "nick", name: "n".repeat(20), ref: "limit" });
  await a.client.action("ack", (f) => f.ref === "limit");
});

it("logs a refused request once, with its code and without its text", async () => {
  const a = await joinedUser(node.url);
  open.push(a);
  await a.client.send({ action: "message", message: "secret-words ".repeat(100) });
  await a.client.action("error", (f) => f.code === "too_long");
  // A second refusal, logged after the first: once its line is in, a repeat of the first would be too.
  await a.client.send({ action: "marker" });
  await a.client.action("error", (f) => f.code === "unknown_action");
  await node.waitForOutput(new RegExp(`${a.id}.*"code":"unknown_action".*request refused`));
  const logged = node
    .output()
    .split("\n")
    .filter((l) => l.includes(a.id) && l.includes('"code":"too_long"'));
  expect(logged).toHaveLength(1);
  expect(logged[0]).toContain("request refused");
  expect(logged[0]).toContain(a.id);
  expect(node.output()).not.toContain("secret-words");
});
