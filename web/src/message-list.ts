import { el } from "./dom";
import { layout } from "./layout";

/** Within this many pixels of an edge counts as being at it. */
const EDGE_PX = 48;
/** The log shown while no room is open; room names are never empty. */
export const NO_ROOM = "";
/**
 * Stored messages a log holds in the page at most: a reader far back in a
 * long history has the pages around them, not every message since (older
 * pages are read again from the server, newer ones wait outside the page).
 */
export const MAX_SHOWN = 300;
/** Messages put back at a time when the reader comes down to the end of what is shown. */
const RESTORE_STEP = 100;

/** Says that a log no longer starts where it did: older messages are to be loaded again from `oldestMid`. */
export type TrimmedTop = (room: string, oldestMid: number) => void;

/**
 * The message list: one log element per room, kept while the room is not shown
 * so switching back is instant and keeps its scroll position.
 */
export class MessageList {
  private readonly logs = new Map<string, HTMLElement>();
  /** Scroll offset of each hidden log; null when it was following the newest message. */
  private readonly saved = new Map<string, number | null>();
  /**
   * The newest part of a log, taken out of the page (oldest first) while its
   * reader is far back: what arrives meanwhile joins it, and it comes back
   * as the reader scrolls down.
   */
  private readonly below = new Map<string, Node[]>();
  private shown = NO_ROOM;
  /** Logs that do not reach the newest message (a jump's context): their end is not the place's end. */
  private readonly detached = new Set<string>();

  /** The reader was at the end of the log on screen when they last scrolled, or the list took them there. */
  private pinned = true;
  /**
   * A log or the box that changes height after the view went to the end (a
   * line put above the messages, the composer growing, a row of the header)
   * would leave the newest message partly hidden: a pinned view goes to the
   * end again.
   */
  private readonly resized = new ResizeObserver(() => {
    if (this.pinned) this.box.scrollTop = this.box.scrollHeight;
  });

  constructor(
    private readonly box: HTMLElement,
    private readonly trimmedTop: TrimmedTop = () => undefined,
  ) {
    box.replaceChildren(this.logFor(NO_ROOM));
    box.addEventListener(
      "scroll",
      () => {
        this.pinned = this.nearBottom();
      },
      { passive: true },
    );
    this.resized.observe(box);
  }

  show(room: string): void {
    if (room === this.shown) return;
    this.saved.set(this.shown, this.atBottom() ? null : this.box.scrollTop);
    this.shown = room;
    this.box.replaceChildren(this.logFor(room));
    this.box.scrollTop = this.saved.get(room) ?? this.box.scrollHeight;
  }

  drop(room: string): void {
    const log = this.logs.get(room);
    if (log) this.resized.unobserve(log);
    this.logs.delete(room);
    this.saved.delete(room);
    this.below.delete(room);
    this.detached.delete(room);
  }

  /** Marks a log as ending before the newest message: being at its end reads nothing as read. */
  detach(room: string): void {
    this.detached.add(room);
  }

  /** Shows a line in place of any room's messages (a link that leads nowhere the user may go). */
  showNote(node: HTMLElement): void {
    this.show(NO_ROOM);
    this.logFor(NO_ROOM).replaceChildren(node);
  }

  /** Adds at the bottom; the view follows if it was at the bottom already, or if `follow`. */
  append(room: string, node: Node, follow = false): void {
    const waiting = this.below.get(room);
    if (waiting) {
      waiting.push(node);
      if (follow) this.toNewest(room);
      return;
    }
    const visible = room === this.shown;
    const stick = visible && (follow || this.atBottom());
    const log = this.logFor(room);
    // The user's unacknowledged messages stay below everything stored: that is where they will be.
    const pending = log.querySelector(":scope > .outgoing");
    const before = pending ? pending.previousElementSibling : log.lastElementChild;
    const after = pending ?? null;
    log.insertBefore(node, after);
    const first = before ? before.nextElementSibling : log.firstElementChild;
    const last = after ? after.previousElementSibling : log.lastElementChild;
    if (first && last) layout(first, last);
    if (stick) this.box.scrollTop = this.box.scrollHeight;
  }

  /** Adds one of the user's unacknowledged messages, at the very bottom, and follows it. */
  appendPending(room: string, node: HTMLElement): void {
    if (this.below.has(room)) this.toNewest(room);
    this.logFor(room).append(node);
    if (room === this.shown) this.box.scrollTop = this.box.scrollHeight;
  }

  /** The unacknowledged message sent with `ref`, in a place's log. */
  pending(room: string, ref: string): HTMLElement | null {
    for (const node of this.everyNode(room, ".outgoing")) {
      if (node.dataset.ref === ref) return node;
    }
    return null;
  }

  /** The nodes of a room's log matching `selector`, those out of the page included. */
  private everyNode(room: string, selector: string): HTMLElement[] {
    const inPage = [...(this.logs.get(room)?.querySelectorAll<HTMLElement>(selector) ?? [])];
    const out = (this.below.get(room) ?? []).filter(
      (n): n is HTMLElement => n instanceof HTMLElement && n.matches(selector),
    );
    return [...inPage, ...out];
  }

  /**
   * Past MAX_SHOWN messages, takes the newest out of the page (they wait in
   * `below`); the reader, far up, sees nothing move.
   */
  private trimBottom(room: string): void {
    const log = this.logFor(room);
    let extra = log.querySelectorAll(".msg").length - MAX_SHOWN;
    if (extra <= 0) return;
    const taken: Node[] = [];
    while (extra > 0 && log.lastChild) {
      const node = log.lastChild;
      if (node instanceof HTMLElement && node.classList.contains("msg")) extra--;
      taken.unshift(node);
      node.remove();
    }
    this.below.set(room, [...taken, ...(this.below.get(room) ?? [])]);
  }

  /**
   * Past MAX_SHOWN messages, drops the oldest from the page for good, keeping
   * what the reader sees where it is; the chat loads them again on the way up.
   */
  trimTop(room: string): void {
    const log = this.logFor(room);
    const messages = log.querySelectorAll<HTMLElement>(".msg");
    const keep = messages[messages.length - MAX_SHOWN];
    if (messages.length <= MAX_SHOWN || !keep) return;
    const before = keep.getBoundingClientRect().top;
    while (log.firstChild && log.firstChild !== keep) log.firstChild.remove();
    if (room === this.shown) this.box.scrollTop -= before - keep.getBoundingClientRect().top;
    const oldest = log.querySelector<HTMLElement>(".msg[data-mid]");
    this.trimmedTop(room, Number(oldest?.dataset.mid ?? 0));
  }

  /** When the reader has come down to the end of what is shown, the next newer messages come back; true if some did. */
  restoreIfAtBottom(): boolean {
    const room = this.shown;
    const waiting = this.below.get(room);
    if (!waiting || !this.nearBottom()) return false;
    const log = this.logFor(room);
    const back = waiting.splice(0, RESTORE_STEP);
    // Up to the end of a message: a step never stops between a message and what belongs under it.
    while (waiting[0] && !(waiting[0] instanceof HTMLElement && waiting[0].classList.contains("msg"))) {
      back.push(waiting.shift() as Node);
    }
    if (waiting.length === 0) this.below.delete(room);
    const joint = log.lastElementChild;
    log.append(...back);
    const last = log.lastElementChild;
    if (last) layout(joint ?? log.firstElementChild ?? last, last);
    this.trimTop(room);
    return true;
  }

  /** Brings the newest messages back into the page, leaving the older ones to be loaded again. */
  private toNewest(room: string): void {
    const waiting = this.below.get(room);
    if (!waiting) return;
    this.below.delete(room);
    const log = this.logFor(room);
    log.append(...waiting);
    this.trimTop(room);
    if (log.firstElementChild && log.lastElementChild) layout(log.firstElementChild, log.lastElementChild);
  }

  /** Puts older messages above those shown since the last gap, without moving what the reader sees. */
  prepend(room: string, nodes: Node[]): void {
    if (nodes.length === 0) return;
    const log = this.logFor(room);
    const anchor = this.top(log);
    const above = anchor ? anchor.previousElementSibling : log.lastElementChild;
    const fromBottom = this.box.scrollHeight - this.box.scrollTop;
    const batch = document.createDocumentFragment();
    batch.append(...nodes);
    log.insertBefore(batch, anchor);
    const first = above ? above.nextElementSibling : log.firstElementChild;
    const last = anchor ? anchor.previousElementSibling : log.lastElementChild;
    if (first && last) layout(first, last);
    if (room === this.shown) this.box.scrollTop = this.box.scrollHeight - fromBottom;
    this.trimBottom(room);
  }

  /**
   * Says at the top of what is shown since the last gap that nothing older
   * will come: `text` tells why (the first message ever, or the oldest kept).
   */
  markStart(room: string, text: string): void {
    const log = this.logFor(room);
    const anchor = this.top(log);
    if (anchor?.classList.contains("history-start")) {
      anchor.textContent = text;
      return;
    }
    log.insertBefore(el("div", { class: "history-start", role: "note" }, text), anchor);
  }

  /** The stored message `mid` in a room's log, if it is loaded. */
  find(room: string, mid: number): HTMLElement | null {
    return this.everyNode(room, `.msg[data-mid="${mid}"]`)[0] ?? null;
  }

  /**
   * The room's history started over: the messages shown keep their place but
   * lose their numbers, which now belong to others, and with them their controls.
   */
  retire(room: string): void {
    for (const node of this.everyNode(room, ".msg[data-mid]")) {
      delete node.dataset.mid;
      node.querySelector(".actions")?.remove();
      node.querySelector(".picker")?.remove();
    }
  }

  /** Puts the "new messages" line above the first message after `read`; none when all is read. */
  markUnread(room: string, read: number): void {
    const log = this.logFor(room);
    log.querySelector(".new-line")?.remove();
    const first = [...log.querySelectorAll<HTMLElement>(".msg[data-mid]")].find((m) => Number(m.dataset.mid) > read);
    if (first) log.insertBefore(el("div", { class: "new-line", role: "separator" }, "New messages"), first);
    // The line ends a run of messages, and one that moved away no longer does.
    if (log.firstElementChild && log.lastElementChild) layout(log.firstElementChild, log.lastElementChild);
  }

  atTop(): boolean {
    return this.box.scrollTop < EDGE_PX;
  }

  /** Where older messages go: below the last gap, or at the very top; the start line, if any, is there. */
  private top(log: HTMLElement): Element | null {
    const gaps = log.querySelectorAll(".gap-marker");
    const lastGap = gaps[gaps.length - 1];
    return lastGap ? lastGap.nextElementSibling : log.firstElementChild;
  }

  /**
   * The newest stored message of the log on screen that the reader can see
   * or has scrolled past; 0 when none is. What is below the view is not read.
   */
  lastSeenMid(): number {
    const bottom = this.box.getBoundingClientRect().bottom;
    const messages = this.logFor(this.shown).querySelectorAll<HTMLElement>(".msg[data-mid]");
    for (let i = messages.length - 1; i >= 0; i--) {
      const node = messages[i];
      // Seen once its first line is in view.
      if (node && node.getBoundingClientRect().top + EDGE_PX / 2 <= bottom) return Number(node.dataset.mid);
    }
    return 0;
  }

  /** Scrolls the log on screen to its newest message. */
  toBottom(): void {
    this.toNewest(this.shown);
    this.box.scrollTop = this.box.scrollHeight;
  }

  /** At the newest message: the end of what is shown, with nothing newer waiting out of the page. */
  atBottom(): boolean {
    return this.nearBottom() && !this.below.has(this.shown) && !this.detached.has(this.shown);
  }

  /** At the end of what the log on screen shows, whether or not that is the newest message. */
  nearBottom(): boolean {
    return this.box.scrollHeight - this.box.scrollTop - this.box.clientHeight < EDGE_PX;
  }

  private logFor(room: string): HTMLElement {
    let log = this.logs.get(room);
    if (!log) {
      log = el("div", { class: room === NO_ROOM ? "log log-none" : "log" });
      this.logs.set(room, log);
      this.resized.observe(log);
    }
    return log;
  }
}
