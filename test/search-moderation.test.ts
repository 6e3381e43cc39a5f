/**
 * Search and moderation (issues 23 and 24): a banned user finds nothing more
 * of the room they were banned from, as a join would refuse them; lifting the
 * ban gives search back with the room. On the embedded engine, the one setup
 * that has both the archive and the rooms' rules in one process.
 */
import { describe, expect, it } from "vitest";
import { ask, connectUser, joinRoom, say, type User } from "./support/chat.js";
import type { NodeProcess } from "./support/processes.js";
import { perFile } from "./support/scope.js";

const scope = perFile();

async function person(node: NodeProcess, as?: User): Promise<User> {
  const query = `proto=2&lobby=0${as?.guest ? `&guest=${encodeURIComponent(as.guest)}` : ""}`;
  const u = await connectUser(node.url, { query });
  scope.defer(() => u.client.close());
  return u;
}

async function found(u: User, q: string): Promise<string[]> {
  const reply = await ask(u, { action: "search", q });
  expect(reply.action).toBe("search");
  return (reply.hits as { message: string }[]).map((h) => h.message);
}

describe("search after a ban", () => {
  it("finds nothing of a room its user is banned from, and finds it again once the ban is lifted", async () => {
    const node = await scope.node({ RATE_LIMIT: "0" });
    const owner = await person(node);
    const room = String((await ask(owner, { action: "room_create", name: "War Room" })).room);
    await joinRoom(owner, room);
    const troll = await person(node);
    await joinRoom(troll, room);
    await say(owner, "quarterly plans are in the vault", room);
    await expect.poll(() => found(troll, "vault"), { timeout: 10_000 }).toEqual(["quarterly plans are in the vault"]);

    expect(await ask(owner, { action: "ban", room, user: troll.uid })).toMatchObject({ action: "ack", of: "ban" });
    // A new connection of the same person: nothing that one connection kept in memory lets it in.
    const again = await person(node, troll);
    expect(await found(again, "vault")).toEqual([]);
    expect(await found(troll, "vault")).toEqual([]);
    expect(await found(again, `vault in:#${room}`)).toEqual([]);

    expect(await ask(owner, { action: "unban", room, user: troll.uid })).toMatchObject({ action: "ack", of: "unban" });
    await joinRoom(again, room);
    expect(await found(again, "vault")).toEqual(["quarterly plans are in the vault"]);
  });
});
