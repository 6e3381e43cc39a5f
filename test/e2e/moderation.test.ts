/**
 * Moderation in Chromium (issue 23), two browsers at a time: a moderator
 * (here a server admin, who may moderate every room) bans a member, who sees
 * the room go and cannot come back, also when the ban came while their
 * browser was offline; a member named moderator gets the controls at once;
 * the pinned message in the header follows its edits and deletion; a
 * member's report reaches the moderator with the message in context; a
 * block keeps a user's direct messages and mentions from the blocker while
 * the blocked user is not told.
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
import { connectUser, joinRoom } from "../support/chat.js";
import { type NodeProcess, SERVER_ENTRY } from "../support/processes.js";
import { perTest } from "../support/scope.js";
import type { Frame } from "../support/sockjs-client.js";
import { startRelay } from "../support/tcp-relay.js";
import { freshName, freshRoom } from "./two-users.js";

const scope = perTest();
const chromium = browserPerFile();
const GOOD = "correct horse battery staple";
/** A page reloads after signing in, which a busy machine makes slow: waited for, not timed. */
const POLL = { timeout: 15_000 };

/** A guest in the chat, online in the lobby, under `name`; through `url` (a relay) when given. */
async function guest(n: NodeProcess, name: string, url = n.url): Promise<Page> {
  const p = await chromium.open(`${url}/`);
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
    // The member is on a phone, the list of rooms open over the room when the ban comes.
    await troll.setViewportSize({ width: 390, height: 760 });
    await troll.locator("#panels-toggle").click();
    await troll.locator("body.panels-open").waitFor({ state: "attached" });
    // The moderator's controls show in a room they moderate, and only there.
    const ban = userEntry(mod, trollName).getByRole("button", { name: `Ban ${trollName}` });
    await ban.click();

    await troll.locator("#notices").getByText(`A moderator banned you from #${room}.`).waitFor();
    await expect.poll(() => troll.locator(`#rooms li[data-room="${room}"]`).count(), POLL).toBe(0);
    // The room on screen went by itself, to the lobby: the list the member had open stays open.
    await currentRoom(troll, "lobby").waitFor({ state: "attached" });
    expect(await troll.locator("body.panels-open").count()).toBe(1);
    // Back through the join form, the room answers as one that does not exist.
    await troll.locator("#room-input").fill(room);
    await troll.locator("#join-form button[type=submit]").click();
    await troll.locator("#notices").getByText(`there is no room '${room}'`).waitFor();
    expect(await troll.locator(`#rooms li[data-room="${room}"]`).count()).toBe(0);
    // The member is no longer listed in the room the moderator sees.
    await expect.poll(() => userEntry(mod, trollName).count(), POLL).toBe(0);
    // The room's moderation log says who banned whom, the guest marked as everywhere else.
    await mod.locator("#reports-open").click();
    const logged = mod.locator("#modlog-list .modlog-entry").first();
    await logged.waitFor();
    expect(await logged.textContent()).toMatch(new RegExp(`^Boss banned ${trollName} \\(guest\\) for 24 h · `));
    expect(await logged.locator(".guest-badge").count()).toBe(1);
    // The panel takes the focus, says it is open, and Escape puts it away with the focus back on its button.
    const reportsOpen = mod.locator("#reports-open");
    expect(await reportsOpen.getAttribute("aria-expanded")).toBe("true");
    expect(await mod.evaluate(() => document.activeElement?.closest("#reports") !== null)).toBe(true);
    await mod.keyboard.press("Escape");
    expect(await mod.locator("#reports").isHidden()).toBe(true);
    expect(await reportsOpen.getAttribute("aria-expanded")).toBe("false");
    expect(await reportsOpen.evaluate((b) => b === document.activeElement)).toBe(true);
  });

  it("a member banned while their browser is offline sees the room go once back, and nothing of it stays on the page", async () => {
    const n = await node();
    const relay = await startRelay(n.port);
    scope.defer(() => relay.close());
    const room = freshRoom("yard");
    const trollName = freshName("Troll");
    const mod = await boss(n);
    const troll = await guest(n, trollName, relay.url);
    await enterRoom(troll, room);
    await enterRoom(mod, room);
    await say(mod, "the plans for tomorrow");
    const plans = roomMessages(mod, "the plans for tomorrow");
    await plans.hover();
    await plans.getByRole("button", { name: "Pin in the room's header" }).click();
    await troll.locator("#room-rules .pinned").getByText("the plans for tomorrow").waitFor();
    await roomMessages(troll, "the plans for tomorrow").waitFor();

    // The troll's link goes quiet; the page notices. Meanwhile the moderator bans them, and the room goes on.
    relay.set("silent");
    await troll.locator("#offline").waitFor();
    await userEntry(mod, trollName)
      .getByRole("button", { name: `Ban ${trollName}` })
      .click();
    await expect.poll(() => userEntry(mod, trollName).count(), POLL).toBe(0);
    await say(mod, "said after the ban");
    await roomMessages(mod, "said after the ban").waitFor();

    // Back online: the room, its messages and its pinned message go from the page.
    relay.set("pass");
    await troll.locator('body[data-state="online"]').waitFor();
    await expect.poll(() => troll.locator(`#rooms li[data-room="${room}"]`).count(), POLL).toBe(0);
    await currentRoom(troll, "lobby").waitFor();
    const everything = async () =>
      `${await troll.content()}${await troll.evaluate(() => JSON.stringify(localStorage))}`;
    expect(await everything()).not.toContain("the plans for tomorrow");
    expect(await everything()).not.toContain("said after the ban");
    // Nor does a reload bring any of it back.
    await troll.reload();
    await troll.locator('body[data-state="online"]').waitFor();
    await currentRoom(troll, "lobby").waitFor();
    expect(await troll.locator(`#rooms li[data-room="${room}"]`).count()).toBe(0);
    expect(await everything()).not.toContain("the plans for tomorrow");
  });

  it("a member named moderator gets the moderators' controls at once, without leaving the room", async () => {
    const n = await node();
    // The owner, and someone else in the room, are clients of the protocol; the new moderator is in Chromium.
    const owner = await connectUser(n.url, { query: "proto=2&lobby=0" });
    scope.defer(() => owner.client.close());
    const ask = async (body: Record<string, unknown>): Promise<Frame> => {
      const ref = `r-${Math.random()}`;
      await owner.client.send({ ...body, ref });
      return owner.client.next((f) => f.ref === ref);
    };
    const room = String((await ask({ action: "room_create", name: freshName("Club") })).room);
    await joinRoom(owner, room);
    const other = await connectUser(n.url, { query: "proto=2&lobby=0" });
    scope.defer(() => other.client.close());
    const boName = freshName("Bo");
    await other.client.send({ action: "nick", name: boName, ref: "nick" });
    await other.client.next((f) => f.ref === "nick");
    await joinRoom(other, room);
    const link = await ask({ action: "invite_link", room });
    const annName = freshName("Ann");
    const ann = await chromium.open(`${n.url}/#/room-invite/${String(link.token)}`);
    await currentRoom(ann, room).waitFor();
    await setNick(ann, annName);
    const renamed = await owner.client.next((f) => f.action === "user_renamed" && f.name === annName);
    // Found by what it does: a control that is not shown has no role to find it by.
    const ban = userEntry(ann, boName).locator('[data-user-act="ban"]');
    await ban.waitFor({ state: "attached" });
    expect(await ban.isVisible()).toBe(false);
    expect(await ann.locator("#reports-open").isVisible()).toBe(false);

    expect(await ask({ action: "role", room, uid: renamed.uid, role: "moderator" })).toMatchObject({ of: "role" });
    await ban.waitFor();
    await ann.locator("#reports-open").waitFor();
    // And they work: the ban goes through.
    await ban.click();
    await other.client.action("left", (f) => f.room === room && f.reason === "banned");

    // The owner, a guest, invites Ann to a private room: the notice marks who asks, as every name of a guest is.
    const backroom = String((await ask({ action: "room_create", name: "Backroom", visibility: "private" })).room);
    expect(await ask({ action: "invite", room: backroom, uid: renamed.uid })).toMatchObject({ of: "invite" });
    const invited = ann.locator("#notices .notice").filter({ hasText: "invited you to Backroom" });
    await invited.waitFor();
    expect(await invited.locator(".notice-text").textContent()).toBe(`${owner.name} (guest) invited you to Backroom`);
    expect(await invited.locator(".guest-badge").count()).toBe(1);
  });

  it("the pinned message in the header follows its message: edited, it reads anew; deleted, it goes", async () => {
    const n = await node();
    const room = freshRoom("notice");
    const annName = freshName("Ann");
    const mod = await boss(n);
    const ann = await guest(n, annName);
    for (const p of [mod, ann]) await enterRoom(p, room);
    await say(mod, "Read the rules first");
    const notice = roomMessages(mod, "Read the rules first");
    await notice.hover();
    await notice.getByRole("button", { name: "Pin in the room's header" }).click();
    const header = ann.locator("#room-rules .pinned .text");
    await expect.poll(() => header.textContent(), POLL).toBe("Read the rules first");

    await notice.hover();
    await notice.locator('[data-act="edit"]').click();
    await mod.locator("#text").fill("Read the rules, then say hello");
    await mod.locator("#text").press("Enter");
    await expect.poll(() => header.textContent(), POLL).toBe("Read the rules, then say hello");

    const edited = roomMessages(mod, "Read the rules, then say hello");
    await edited.hover();
    const del = edited.locator('[data-act="delete"]');
    await del.click();
    await del.getByText("Delete?").waitFor();
    await del.click();
    await expect.poll(() => ann.locator("#room-rules").isHidden(), POLL).toBe(true);
    expect(await ann.locator("#room-rules").textContent()).not.toContain("Read the rules");
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
    // Ann and the troll are guests: marked as such in the report and its context, as everywhere else.
    expect(await report.locator(".report-head").textContent()).toContain(`${annName} (guest) reported a message`);
    expect(await report.locator(".report-head .guest-badge").count()).toBe(1);
    expect(await report.locator(".context .reported").textContent()).toContain(
      `${trollName} (guest): you are all fools`,
    );
    expect(await report.locator(".context").textContent()).toContain(`${annName} (guest): good morning everyone`);
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
