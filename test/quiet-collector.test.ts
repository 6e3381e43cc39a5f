import { expect, it } from "vitest";
import { joinRoom, say, type User } from "./support/chat.js";
import type { NodeProcess } from "./support/processes.js";
import { perTest } from "./support/scope.js";

const scope = perTest();

const collections = async (n: NodeProcess) =>
  Number(/^chat_quiet_collections_total (\d+)$/m.exec(await n.metrics())?.[1]);

/** A crowd joins one room: the heap grows, then nobody does anything. */
async function crowd(n: NodeProcess): Promise<User[]> {
  const users = await Promise.all(Array.from({ length: 40 }, () => scope.user(n)));
  await Promise.all(users.map((u) => joinRoom(u, "hall")));
  return users;
}

async function stillChatting(users: User[]): Promise<void> {
  const [first, last] = [users[0] as User, users.at(-1) as User];
  const mid = await say(first, "still here?", "hall");
  await last.client.action("message", (f) => f.mid === mid);
}

const LIMITS = { MAX_CONNECTIONS_PER_IP: "0", NEW_GUESTS_PER_IP: "0", LOG_LEVEL: "warn" };

it("gives the heap back once a node that grew has gone quiet, with Node's defaults (no --expose-gc), and the room goes on", async () => {
  const n = await scope.node({ ...LIMITS, NODE_OPTIONS: "", QUIET_GC_MB: "1" });
  const users = await crowd(n);
  await expect.poll(() => collections(n), { timeout: 30_000, interval: 500 }).toBeGreaterThanOrEqual(1);
  await stillChatting(users);
});
