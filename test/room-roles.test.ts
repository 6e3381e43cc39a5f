/**
 * Who holds a room besides its members (issue 23): the server's admins, an
 * embedding app's token that grants roles by its `rooms` claim, and the
 * people directory that lists accounts to start a conversation with.
 */
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { AccountClient } from "./support/accounts.js";
import { perTest } from "./support/scope.js";
import { type Frame, SockClient } from "./support/sockjs-client.js";

const scope = perTest();
const GOOD = "correct horse battery staple";
const SECRET = "a shared secret of the embedding app, long enough";

async function ask(client: SockClient, body: Record<string, unknown>): Promise<Frame> {
  const ref = `r-${Math.random()}`;
  await client.send({ ...body, ref });
  return client.next((f) => f.ref === ref);
}

async function withToken(base: string, claims: Record<string, unknown>): Promise<SockClient> {
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt()
    .setExpirationTime("10m")
    .sign(new TextEncoder().encode(SECRET));
  const client = await SockClient.connect(base, { query: "proto=2&lobby=0&auth=first" });
  scope.defer(() => client.close());
  await client.send({ action: "auth", token });
  expect(await client.next((f) => f.action === "user_info" || f.action === "error")).toMatchObject({
    action: "user_info",
  });
  return client;
}

describe("roles that come from outside the room", () => {
  it("lets a server admin into every private room to run it; the people directory lists accounts by name", async () => {
    const n = await scope.node({ SIGNUP: "open", ADMIN_USERS: "Root" });
    const signed: Record<string, SockClient> = {};
    for (const name of ["Root", "Ada", "Adam", "Bob"]) {
      const account = new AccountClient(n.url);
      expect((await account.post("/auth/signup", { name, password: GOOD })).status).toBe(200);
      const { client, first } = await account.connect();
      expect(first.action).toBe("user_info");
      scope.defer(() => client.close());
      signed[name] = client;
    }
    const { Root: root, Ada: ada, Bob: bob } = signed as Record<string, SockClient>;
    if (!root || !ada || !bob) throw new Error("signed up");
    const made = await ask(ada, { action: "room_create", name: "Ada's corner", visibility: "private" });
    const id = String(made.room);
    await ask(ada, { action: "join", room: id });
    expect(await ask(bob, { action: "join", room: id })).toMatchObject({ code: "no_such_room" });
    // The admin needs no invitation, and may run the room as its owner would.
    expect(await ask(root, { action: "join", room: id })).toMatchObject({ action: "room", role: "owner" });
    expect(await ask(root, { action: "room_update", room: id, topic: "kept tidy" })).toMatchObject({
      action: "room",
      topic: "kept tidy",
    });
    expect(await ask(bob, { action: "room_update", room: id, topic: "mine" })).toMatchObject({ code: "no_such_room" });

    const people = await ask(bob, { action: "people", q: "AD" });
    expect(people).toMatchObject({ action: "people" });
    expect((people.people as Frame[]).map((p) => p.name)).toEqual(["Ada", "Adam"]);
    expect(people.next).toBeUndefined();
    // Anyone it lists can be written to.
    const adaUid = (people.people as Frame[])[0]?.uid;
    expect(await ask(bob, { action: "dm", to: adaUid, message: "hi Ada" })).toMatchObject({ action: "ack" });
  });

  it("takes roles from an embedding app's token: its rooms claim and its admin claim", async () => {
    const n = await scope.node({ AUTH_SECRET: SECRET, GUESTS: "1" });
    const owner = await withToken(n.url, { sub: "u-owner", name: "Owner" });
    const id = String((await ask(owner, { action: "room_create", name: "Ops", visibility: "private" })).room);
    await ask(owner, { action: "join", room: id });
    await ask(owner, { action: "message", room: id, message: "pager rota" });

    const plain = await withToken(n.url, { sub: "u-plain", name: "Plain" });
    expect(await ask(plain, { action: "join", room: id })).toMatchObject({ code: "no_such_room" });
    // A claim of another shape grants nothing.
    const odd = await withToken(n.url, { sub: "u-odd", name: "Odd", rooms: { [id]: "god" }, admin: "yes" });
    expect(await ask(odd, { action: "join", room: id })).toMatchObject({ code: "no_such_room" });

    const moderator = await withToken(n.url, { sub: "u-mod", name: "Mod", rooms: { [id]: "moderator" } });
    expect(await ask(moderator, { action: "join", room: id })).toMatchObject({ action: "room", role: "moderator" });
    const history = await moderator.next((f) => f.action === "history" && f.room === id);
    expect((history.messages as Frame[]).map((m) => m.message)).toEqual(["pager rota"]);
    expect(await ask(moderator, { action: "room_update", room: id, topic: "on call" })).toMatchObject({
      action: "room",
    });
    // Naming moderators and renaming are the owner's.
    expect(await ask(moderator, { action: "room_update", room: id, name: "Mine" })).toMatchObject({
      code: "forbidden",
    });

    const admin = await withToken(n.url, { sub: "u-admin", name: "Admin", admin: true });
    expect(await ask(admin, { action: "join", room: id })).toMatchObject({ action: "room", role: "owner" });
    expect(await ask(admin, { action: "room_update", room: id, name: "Operations" })).toMatchObject({
      action: "room",
      name: "Operations",
    });
  });
});
