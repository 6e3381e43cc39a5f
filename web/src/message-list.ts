import { el } from "./dom";
import { layout } from "./layout";

/** Within this many pixels of an edge counts as being at it. */
const EDGE_PX = 48;
/** The log shown while no room is open; room names are never empty. */
export const NO_ROOM = "";

/**
 * The message list: one log element per room, kept while the room is not shown
 * so switching back is instant and keeps its scroll position.
 */
export class MessageList {
  private readonly logs = new Map<string, HTMLElement>();
  /** Scroll offset of each hidden log; null when it was following the newest message. */
  private readonly saved = new Map<string, number | null>();
  private shown = NO_ROOM;

  constructor(private readonly box: HTMLElement) {
    box.replaceChildren(this.logFor(NO_ROOM));
  }

  show(room: string): void {
    if (room === this.shown) return;
    this.saved.set(this.shown, this.atBottom() ? null : this.box.scrollTop);
    this.shown = room;
    this.box.replaceChildren(this.logFor(room));
    this.box.scrollTop = this.saved.get(room) ?? this.box.scrollHeight;
  }

  drop(room: string): void {
    this.logs.delete(room);
    this.saved.delete(room);
  }

  /** Adds at the bottom; the view follows if it was at the bottom already, or if `follow`. */
  append(room: string, node: Node, follow = false): void {
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
    this.logFor(room).append(node);
    if (room === this.shown) this.box.scrollTop = this.box.scrollHeight;
  }

  /** The unacknowledged message sent with `ref`, in a place's log. */
  pending(room: string, ref: string): HTMLElement | null {
    for (const node of this.logs.get(room)?.querySelectorAll<HTMLElement>(".outgoing") ?? []) {
      if (node.dataset.ref === ref) return node;
    }
    return null;
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
    return this.logs.get(room)?.querySelector<HTMLElement>(`.msg[data-mid="${mid}"]`) ?? null;
  }

  /**
   * The room's history started over: the messages shown keep their place but
   * lose their numbers, which now belong to others, and with them their controls.
   */
  retire(room: string): void {
    for (const node of this.logFor(room).querySelectorAll<HTMLElement>(".msg[data-mid]")) {
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
    this.box.scrollTop = this.box.scrollHeight;
  }

  atBottom(): boolean {
    return this.box.scrollHeight - this.box.scrollTop - this.box.clientHeight < EDGE_PX;
  }

  private logFor(room: string): HTMLElement {
    let log = this.logs.get(room);
    if (!log) {
      log = el("div", { class: room === NO_ROOM ? "log log-none" : "log" });
      this.logs.set(room, log);
    }
    return log;
  }
}
