import { byId, el, spoken } from "./dom";
import { personName } from "./guest-badge";
import type { ClientRequest, FrameOf, ModlogEntry, ServerFrame, StoredEntry } from "./protocol";

type Role = NonNullable<FrameOf<"room">["role"]>;
type ReportsFrame = FrameOf<"reports">;
type Report = ReportsFrame["reports"][number];

/** What a moderator may do to a person, as the buttons beside their name say it. */
const USER_ACTIONS = [
  { act: "kick", label: "Kick" },
  { act: "mute", label: "Mute" },
  { act: "ban", label: "Ban" },
] as const;

/** A ban or mute from the page lasts a day; for longer, or for good, a moderator asks again. */
const SANCTION_SECONDS = 24 * 3600;
export const REPORTS_REF = "reports:";

/** Who sent an entry and what it said, for a report's context. */
function contextLine(entry: StoredEntry, reported: number): HTMLElement | null {
  if (entry.action !== "message") return null;
  return el(
    "li",
    { class: entry.mid === reported ? "reported" : undefined },
    ...personName(entry.uid, entry.name, "sender"),
    ": ",
    el("span", { class: "text" }, entry.message === "" ? "message deleted" : entry.message),
  );
}

/** What a moderator did, as the log says it: the verb, and whether it names a person. */
const DID: Record<ModlogEntry["action"], string> = {
  kick: "removed",
  ban: "banned",
  unban: "let back",
  mute: "muted",
  unmute: "let speak",
  remove: "removed a message",
  slow: "set slow mode",
  pin: "changed the pinned message",
};

/** One line of the moderation log: who did what to whom, for how long and why, and when. */
function logLine(e: ModlogEntry): HTMLElement {
  const details = [
    e.action === "slow" ? (e.seconds ? `: one message each ${e.seconds} s` : ": off") : "",
    e.action !== "slow" && e.seconds
      ? ` for ${e.seconds >= 3600 ? `${Math.round(e.seconds / 3600)} h` : `${e.seconds} s`}`
      : "",
    e.reason ? `: ${e.reason}` : "",
  ].join("");
  return el(
    "li",
    { class: "modlog-entry" },
    ...personName(e.by.uid, e.by.name),
    ` ${DID[e.action]}`,
    ...(e.user ? [" ", ...personName(e.user.uid, e.user.name)] : []),
    `${details} · ${new Date(e.ts).toLocaleString()}`,
  );
}

/**
 * The page's side of moderation and blocking: the user's role in each room
 * (from its `room` frames), each room's rules (slow mode and pinned message,
 * shown under its title), the people the user blocked, the moderators'
 * controls beside people and messages, and the reports panel. The server
 * decides everything; this only shows it and asks.
 */
export class ModerationView {
  private readonly roles = new Map<string, Role | undefined>();
  private readonly rules = new Map<string, FrameOf<"room_rules">>();
  /** Blocked users by uid, with their names. */
  readonly blocked = new Map<string, string>();
  private readonly rulesBar = byId("room-rules");
  private readonly reportsButton = byId<HTMLButtonElement>("reports-open");
  /** Members invite (the server refuses anyone else): a public room joined by its name makes nobody a member. */
  private readonly inviteButton = byId<HTMLButtonElement>("invite-open");
  private readonly settingsButton = byId<HTMLButtonElement>("settings-open");
  private readonly reportsPanel = byId("reports");
  private readonly reportsList = byId<HTMLOListElement>("reports-list");
  private readonly modlogList = byId<HTMLOListElement>("modlog-list");
  private room: string | null = null;

  constructor(
    private readonly send: (frame: ClientRequest) => boolean,
    private readonly notice: (text: string) => void,
    /** The page's lists of people need drawing again (who is blocked changed). */
    private readonly changed: () => void,
  ) {
    this.reportsButton.addEventListener("click", () => this.openReports());
    this.reportsButton.setAttribute("aria-expanded", "false");
    this.reportsButton.setAttribute("aria-controls", "reports");
    byId("reports-close").addEventListener("click", () => this.closeReports());
    this.reportsPanel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.closeReports();
    });
  }

  /** Takes the frames that are moderation's; false for any other. */
  handle(frame: ServerFrame): boolean {
    switch (frame.action) {
      case "room":
        // A change announced to every member carries nobody's role: only an answer to this user's own request says theirs.
        if (frame.role !== undefined || frame.ref !== undefined) {
          this.roles.set(frame.room, frame.role);
          // A join's answer: the rules after it are the room's now, whatever version this page saw before
          // (a Redis that started over counts from 0 again).
          this.rules.delete(frame.room);
        }
        if (frame.room === this.room) this.show(this.room);
        return false;
      case "room_rules":
        // Two nodes' announcements of two changes may come in either order: an older one is not shown.
        if (frame.v < (this.rules.get(frame.room)?.v ?? 0)) return true;
        this.rules.set(frame.room, frame);
        if (frame.room === this.room) this.show(this.room);
        return true;
      case "blocked":
        this.setBlocked(frame.users);
        return true;
      case "user_info":
        this.setBlocked(frame.blocked ?? []);
        return false;
      case "reports":
        this.showReports(frame);
        return true;
      case "modlog":
        if (frame.room === this.room)
          this.modlogList.replaceChildren(
            ...(frame.entries.length === 0
              ? [el("li", { class: "empty" }, "Nothing yet.")]
              : frame.entries.map(logLine)),
          );
        return true;
      case "left":
        if (frame.reason === "banned") this.notice(`A moderator banned you from #${frame.room}.`);
        else if (frame.reason === "kicked") this.notice(`A moderator removed you from #${frame.room}.`);
        return false;
      default:
        return false;
    }
  }

  private setBlocked(users: { uid: string; name: string }[]): void {
    this.blocked.clear();
    for (const u of users) this.blocked.set(u.uid, u.name);
    this.changed();
  }

  /** The page no longer holds the room (left, or shut out of it): nothing of its rules or the user's role there stays. */
  forget(room: string): void {
    this.roles.delete(room);
    this.rules.delete(room);
  }

  /** The user's role in `room`, as the server last said it; undefined for none. */
  roleIn(room: string): Role | undefined {
    return this.roles.get(room);
  }

  /** The room's slow mode (seconds between two messages of one person), as its rules last said; 0 for none. */
  slowIn(room: string): number {
    return this.rules.get(room)?.slow ?? 0;
  }

  isModerator(room: string | null): boolean {
    const role = room === null ? undefined : this.roles.get(room);
    return role === "owner" || role === "moderator";
  }

  /** The room on screen (null: a conversation or nothing): its rules under the title, and the moderators' controls. */
  show(room: string | null): void {
    this.room = room;
    const moderating = this.isModerator(room);
    document.body.classList.toggle("moderating", moderating);
    this.reportsButton.hidden = !moderating;
    this.inviteButton.hidden = room === null || this.roles.get(room) === undefined;
    this.settingsButton.hidden = !moderating;
    if (!moderating) {
      this.reportsPanel.hidden = true;
      this.reportsButton.setAttribute("aria-expanded", "false");
    }
    const rules = room === null ? undefined : this.rules.get(room);
    const parts: HTMLElement[] = [];
    if (rules?.pinned) {
      parts.push(
        el(
          "div",
          { class: "pinned", title: `Pinned message by ${rules.pinned.name}` },
          el("span", { class: "pin-mark", "aria-hidden": "true" }, "📌"),
          spoken("Pinned: "),
          " ",
          ...personName(rules.pinned.uid, rules.pinned.name, "sender"),
          ": ",
          el("span", { class: "text" }, rules.pinned.message),
        ),
      );
    }
    if (rules && rules.slow > 0) {
      parts.push(el("div", { class: "slow" }, `Slow mode: one message each ${rules.slow} s`));
    }
    this.rulesBar.replaceChildren(...parts);
    this.rulesBar.hidden = parts.length === 0;
  }

  /** The controls beside a person in the list: block for anyone, the moderators' own for them. */
  userControls(uid: string, name: string): HTMLElement {
    const blocked = this.blocked.has(uid);
    return el(
      "span",
      { class: "user-actions" },
      el(
        "button",
        {
          type: "button",
          class: "ghost",
          "data-user-act": blocked ? "unblock" : "block",
          "aria-label": `${blocked ? "Unblock" : "Block"} ${name}`,
        },
        blocked ? "Unblock" : "Block",
      ),
      ...USER_ACTIONS.map((a) =>
        el(
          "button",
          { type: "button", class: "ghost mod-only", "data-user-act": a.act, "aria-label": `${a.label} ${name}` },
          a.label,
        ),
      ),
    );
  }

  /** A click on a person's control; true when it was one. */
  userAct(act: string | undefined, uid: string): boolean {
    const room = this.room;
    switch (act) {
      case "block":
      case "unblock":
        this.send({ action: act, user: uid });
        return true;
      case "kick":
        if (room !== null) this.send({ action: "kick", room, user: uid });
        return true;
      case "mute":
      case "ban":
        if (room !== null) this.send({ action: act, room, user: uid, seconds: SANCTION_SECONDS });
        return true;
      default:
        return false;
    }
  }

  /** A click on a message's report, remove or pin control. */
  messageAct(act: string | undefined, mid: number): boolean {
    const room = this.room;
    if (room === null) return false;
    switch (act) {
      case "report":
        this.send({ action: "report", room, mid });
        this.notice("Reported to the room's moderators.");
        return true;
      case "remove":
        this.send({ action: "remove", room, mid });
        return true;
      case "pin":
        this.send({ action: "pin", room, mid });
        return true;
      default:
        return false;
    }
  }

  private closeReports(): void {
    this.reportsPanel.hidden = true;
    this.reportsButton.setAttribute("aria-expanded", "false");
    // On a phone the button is folded away behind the room's "⋯": the focus goes there.
    if (this.reportsButton.offsetParent !== null) this.reportsButton.focus();
    else byId("room-actions-toggle").focus();
  }

  private openReports(): void {
    if (this.room === null) return;
    this.reportsList.replaceChildren();
    this.modlogList.replaceChildren();
    this.reportsPanel.hidden = false;
    this.reportsButton.setAttribute("aria-expanded", "true");
    byId("reports-close").focus();
    this.send({ action: "reports", room: this.room, ref: REPORTS_REF + this.room });
    this.send({ action: "modlog", room: this.room, ref: REPORTS_REF + this.room });
  }

  private showReports(frame: ReportsFrame): void {
    if (frame.room !== this.room) return;
    const item = (r: Report) =>
      el(
        "li",
        { class: "report", "data-mid": String(r.mid) },
        el(
          "div",
          { class: "report-head" },
          ...personName(r.by.uid, r.by.name),
          ` reported a message${r.reason ? `: ${r.reason}` : ""} · ${new Date(r.ts).toLocaleString()}`,
        ),
        el("ol", { class: "context" }, ...r.context.map((entry) => contextLine(entry, r.mid))),
      );
    this.reportsList.replaceChildren(
      ...(frame.reports.length === 0 ? [el("li", { class: "empty" }, "No reports.")] : frame.reports.map(item)),
    );
  }
}
