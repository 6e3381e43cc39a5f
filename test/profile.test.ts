/**
 * Profiles (issue 22): a display name and an avatar colour a person sets,
 * seen live by everyone who shares a room or a conversation with them, on every node; two
 * node processes on one Redis, and the embedded archive's migration.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { AccountClient } from "./support/accounts.js";
import { perTest } from "./support/scope.js";

const scope = perTest();
const GOOD = "correct horse battery staple";

async function signedUp(base: string, name: string) {
  const client = new AccountClient(base);
  const answer = await client.post("/auth/signup", { name, password: GOOD });
  expect(answer.status).toBe(200);
  return { client, uid: (answer.body.account as { uid: string }).uid };
}

async function inLobby(client: AccountClient, base?: string) {
  const connected = await client.connect(base);
  scope.defer(() => connected.client.close());
  const ref = `join-${Math.random()}`;
  await connected.client.send({ action: "join", room: "lobby", ref });
  await connected.client.action("users", (f) => f.ref === ref);
  return connected.client;
}

describe("profiles on two nodes and Redis", () => {
  it("a new display name and colour set on one node reach the other node's clients live, and are read by anyone", async () => {
    const redis = await scope.redis();
    const env = { REDIS_URL: redis.url, SIGNUP: "open" };
    const [a, b] = await Promise.all([scope.node(env), scope.node(env)]);
    const ada = await signedUp(a.url, "Ada");
    const grace = await signedUp(b.url, "Grace");
    // Ada is connected on B only: the change made through A must find her rooms there.
    const adaConn = await inLobby(ada.client, b.url);
    const graceConn = await inLobby(grace.client, b.url);
    const graceOnA = await inLobby(grace.client, a.url);

    const before = await grace.client.request("GET", `/auth/profiles?uid=${ada.uid}&uid=${grace.uid}&uid=g-guest`);
    expect(before.body.profiles).toEqual(
      expect.arrayContaining([
        { uid: ada.uid, name: "Ada", display: "Ada", colour: null },
        { uid: grace.uid, name: "Grace", display: "Grace", colour: null },
      ]),
    );
    expect(before.body.profiles).toHaveLength(2);

    const set = await ada.client.post("/auth/profile", { display: "  Ａda   Lovelace 🧮 ", colour: 5 });
    expect(set.status).toBe(200);
    expect(set.body.account).toMatchObject({ uid: ada.uid, name: "Ada", display: "Ada Lovelace 🧮", colour: 5 });
    const expected = { action: "profile", uid: ada.uid, name: "Ada", display: "Ada Lovelace 🧮", colour: 5 };
    for (const conn of [graceConn, graceOnA, adaConn]) {
      expect(await conn.action("profile", (f) => f.uid === ada.uid)).toEqual(expected);
    }
    const onB = await new AccountClient(b.url).request("GET", `/auth/profiles?uid=${ada.uid}`);
    expect(onB.body.profiles).toEqual([{ uid: ada.uid, name: "Ada", display: "Ada Lovelace 🧮", colour: 5 }]);
    expect((await ada.client.state()).body.account).toMatchObject({ display: "Ada Lovelace 🧮", colour: 5 });

    // Back to the defaults: her account name, and the colour her uid gives.
    const cleared = await ada.client.post("/auth/profile", { display: "", colour: null });
    expect(cleared.body.account).toMatchObject({ display: "Ada", colour: null });
    expect(await graceOnA.action("profile", (f) => f.uid === ada.uid && f.colour === null)).toMatchObject({
      display: "Ada",
    });
  });

  it("a new profile reaches, on every node, those who have a conversation with the account though they share no room and it is not connected", async () => {
    const redis = await scope.redis();
    const env = { REDIS_URL: redis.url, SIGNUP: "open" };
    const [a, b] = await Promise.all([scope.node(env), scope.node(env)]);
    const ada = await signedUp(a.url, "Ada");
    const grace = await signedUp(b.url, "Grace");
    // Grace is in no room, with a connection on each node.
    const graceOnA = (await grace.client.connect(a.url)).client;
    const graceOnB = (await grace.client.connect(b.url)).client;
    scope.defer(() => graceOnA.close());
    scope.defer(() => graceOnB.close());
    // Ada writes to her from B, in no room either, and goes.
    const adaConn = (await ada.client.connect(b.url)).client;
    scope.defer(() => adaConn.close());
    await adaConn.send({ action: "dm", to: grace.uid, message: "hello Grace", ref: "hi" });
    expect(await adaConn.next((f) => f.ref === "hi")).toMatchObject({ action: "ack" });
    // Told once the conversation is listed for both.
    await graceOnA.action("conversation", (f) => (f.with as { uid?: string } | undefined)?.uid === ada.uid);
    adaConn.close();

    expect((await ada.client.post("/auth/profile", { display: "Ada Lovelace", colour: 2 })).status).toBe(200);
    const expected = { action: "profile", uid: ada.uid, name: "Ada", display: "Ada Lovelace", colour: 2 };
    for (const conn of [graceOnA, graceOnB]) {
      expect(await conn.action("profile", (f) => f.uid === ada.uid)).toEqual(expected);
    }
  });

  it("refuses what would mislead or cannot be drawn, with a code, and changes nothing", async () => {
    const redis = await scope.redis();
    const node = await scope.node({ REDIS_URL: redis.url, SIGNUP: "open" });
    const ada = await signedUp(node.url, "Ada");
    await signedUp(node.url, "Grace");
    const refusals = [
      [{ display: "grace", colour: null }, 409, "name_taken"],
      [{ display: "Grаce", colour: null }, 409, "name_taken"], // a Cyrillic а
      [{ display: "User #42", colour: null }, 400, "bad_name"],
      [{ display: "x".repeat(200), colour: null }, 400, "bad_name"],
      [{ display: "a\u202eb", colour: null }, 400, "bad_name"],
      [{ display: "Ada L", colour: 8 }, 400, "bad_request"],
      [{ display: "Ada L", colour: 1.5 }, 400, "bad_request"],
      [{ display: "Ada L", colour: "red" }, 400, "bad_request"],
      [{ display: 7 }, 400, "bad_request"],
    ] as const;
    for (const [body, status, code] of refusals) {
      const answer = await ada.client.post("/auth/profile", body);
      expect([answer.status, answer.body.error?.code], JSON.stringify(body)).toEqual([status, code]);
    }
    expect((await ada.client.state()).body.account).toMatchObject({ display: "Ada", colour: null });
    // Only the signed-in person sets their own profile, and only with the page's CSRF token.
    const stranger = new AccountClient(node.url);
    expect((await stranger.post("/auth/profile", { display: "Ada" })).status).toBe(401);
    const forged = await ada.client.request("POST", "/auth/profile", { display: "Pwned" });
    expect([forged.status, forged.body.error?.code]).toEqual([403, "forbidden"]);
    const many = Array.from({ length: 101 }, (_, i) => `uid=a-${i}`).join("&");
    expect((await stranger.request("GET", `/auth/profiles?${many}`)).body.error?.code).toBe("bad_request");
  });
});

describe("profiles on the embedded archive", () => {
  it("are kept across a restart", async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "chat-profile-"));
    scope.defer(() => rmSync(dataDir, { recursive: true, force: true }));
    const env = { DATA_DIR: dataDir, SIGNUP: "open" };
    const first = await scope.node(env);
    const ada = await signedUp(first.url, "Ada");
    expect((await ada.client.post("/auth/profile", { display: "Countess", colour: 0 })).status).toBe(200);
    await first.stop();
    const second = await scope.node(env);
    const read = await new AccountClient(second.url).request("GET", `/auth/profiles?uid=${ada.uid}`);
    expect(read.body.profiles).toEqual([{ uid: ada.uid, name: "Ada", display: "Countess", colour: 0 }]);
  });
});
