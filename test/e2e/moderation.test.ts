/**
 * Moderation in Chromium (issue 23), two browsers at a time: a moderator
 * (here a server admin, who may moderate every room) bans a member, who sees
 * the room go and cannot come back; a member's report reaches the moderator
 * with the message in context; a block keeps a user's direct messages and
 * mentions from the blocker while the blocked user is not told.
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import {
  BROWSER_TEST_MS,
  browserPerFile,
  conversationEntry,
  currentRoom,
  directMessages,
  enterRoom,
  openConversation,
  roomMessages,
  say,
  setNick,
  showRoom,
  userEntry,
} from "../support/browser.js";
import { type NodeProcess, SERVER_ENTRY } from "../support/processes.js";
import { perTest } from "../support/scope.js";
import { freshName, freshRoom } from "./two-users.js";

const scope = perTest();
const chromium = browserPerFile();
const GOOD = "correct horse battery staple";
/** A page reloads after signing in, which a busy machine makes slow: waited for, not timed. */
const POLL = { timeout: 15_000 };

/** A guest in the chat, online in the lobby, under `name`. */
async function guest(n: NodeProcess, name: string): Promise<Page> {
  const p = await chromium.open(`${n.url}/`);
  await p.locator('body[data-state="online"]').waitFor();
  await currentRoom(p, "lobby").waitFor();
  await setNick(p, name);
  return p;
}

/** The server admin `Boss`, signed in through the one-time link the CLI prints. */
async function boss(n: NodeProcess): Promise<Page> {
  const cli = path.join(path.dirname(SERVER_ENTRY), "admin.js");
  const out = execFileSync(process.execPath, [cli, "create-admin", "Boss"], {
    env: { ...process.env, DATA_DIR: n.dataDir },
    encoding: "utf8",
  });
  const token = /#reset=([\w-]+)/.exec(out)?.[1] ?? "";
  const p = await chromium.open(`${n.url}/#reset=${token}`);
  await p.locator("#reset-form").getByLabel("New password (at least 10 characters)").fill(GOOD);
  await p.locator("#reset-form").getByRole("button", { name: "Set password" }).click();
  await p.locator('body[data-state="online"]').waitFor();
  await expect.poll(() => p.locator("#account-name").textContent(), POLL).toBe("Boss");
  return p;
}

function node(): Promise<NodeProcess> {
  return scope.node({ ADMIN_USERS: "Boss", GUESTS: "1", SIGNUP: "open" });
}

describe("moderation in the web client", { timeout: BROWSER_TEST_MS }, () => {
  it("a moderator bans a member, who sees the room go and cannot join it again", async () => {
    const n = await node();
    const room = freshRoom("square");
    const trollName = freshName("Troll");
    const mod = await boss(n);
    const troll = await guest(n, trollName);
    await enterRoom(troll, room);
    await enterRoom(mod, room);
    // The moderator's controls show in a room they moderate, and only there.
    const ban = userEntry(mod, trollName).getByRole("button", { name: `Ban ${trollName}` });
    await ban.click();

    await troll.locator("#notices").getByText(`A moderator banned you from #${room}.`).waitFor();
    await expect.poll(() => troll.locator(`#rooms li[data-room="${room}"]`).count(), POLL).toBe(0);
    // Back through the join form, the room answers as one that does not exist.
    await troll.locator("#room-input").fill(room);
    await troll.locator("#join-form button[type=submit]").click();
    await troll.locator("#notices").getByText(`there is no room '${room}'`).waitFor();
    expect(await troll.locator(`#rooms li[data-room="${room}"]`).count()).toBe(0);
    // The member is no longer listed in the room the moderator sees.
    await expect.poll(() => userEntry(mod, trollName).count(), POLL).toBe(0);
  });

  it("a member's report reaches the moderator with the message in context", async () => {
    const n = await node();
    const room = freshRoom("hall");
    const [annName, trollName] = [freshName("Ann"), freshName("Troll")];
    const mod = await boss(n);
    const ann = await guest(n, annName);
    const troll = await guest(n, trollName);
    for (const p of [mod, ann, troll]) await enterRoom(p, room);
    await say(ann, "good morning everyone");
    await say(troll, "you are all fools");
    const rude = roomMessages(ann, "you are all fools");
    await rude.hover();
    await rude.getByRole("button", { name: "Report to the moderators" }).click();
    await ann.locator("#notices").getByText("Reported to the room's moderators.").waitFor();
    // A member has no reports to read; the moderator has.
    expect(await ann.locator("#reports-open").isHidden()).toBe(true);
    await mod.locator("#reports-open").click();
    const report = mod.locator("#reports-list .report").first();
    await report.waitFor();
    expect(await report.locator(".report-head").textContent()).toContain(`${annName} reported a message`);
    expect(await report.locator(".context .reported").textContent()).toContain("you are all fools");
    expect(await report.locator(".context").textContent()).toContain("good morning everyone");
  });

  it("a block hides the blocked user's direct messages and mentions, and they are not told", async () => {
    const n = await node();
    const room = freshRoom("park");
    const [annName, trollName] = [freshName("Ann"), freshName("Troll")];
    const ann = await guest(n, annName);
    const troll = await guest(n, trollName);
    for (const p of [ann, troll]) await enterRoom(p, room);
    await userEntry(ann, trollName)
      .getByRole("button", { name: `Block ${trollName}` })
      .click();
    await userEntry(ann, trollName)
      .getByRole("button", { name: `Unblock ${trollName}` })
      .waitFor();

    // Troll writes to Ann directly: his page shows it sent, as ever.
    await userEntry(troll, annName).waitFor();
    await openConversation(troll, annName);
    await say(troll, "psst, answer me");
    await directMessages(troll, "psst, answer me").waitFor();
    // And mentions her in the room, then says something after it all.
    await showRoom(troll, room);
    await say(troll, `@${annName} look here`);
    await say(troll, "that is all");
    await roomMessages(ann, "that is all").waitFor();
    // Ann sees the room's messages, but no conversation from Troll and no mention of her.
    expect(await conversationEntry(ann, trollName).count()).toBe(0);
    const mention = roomMessages(ann, `@${annName} look here`);
    expect(await mention.count()).toBe(1);
    expect(await mention.evaluate((m) => m.classList.contains("mention"))).toBe(false);
  });
});
