import { el } from "./dom";
import type { LiveMessage, PrivateMessage } from "./protocol";

/** Within this many pixels of an edge counts as being at it. */
const EDGE_PX = 48;
/** The log shown while no room is open; room names are never empty. */
export const NO_ROOM = "";

function clock(ts: number): HTMLTimeElement {
  const when = new Date(ts);
  return el(
    "time",
    { class: "time", datetime: when.toISOString(), title: when.toLocaleString() },
    when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
  );
}

/**
 * Who sent it. One's own messages carry a badge beside the name, drawn by the
 * page and never by a name: nobody can pass for "you" by choosing a name.
 */
function sender(name: string, own: boolean): HTMLElement[] {
  const from = el("span", { class: "from" }, name);
  return own ? [from, el("span", { class: "self-badge", title: "sent by you" }, "you")] : [from];
}

export function messageNode(message: LiveMessage, own: boolean): HTMLElement {
  const attributes =
    "local" in message
      ? { class: own ? "msg own local" : "msg local", title: "Reached only the people on this server" }
      : { class: own ? "msg own" : "msg", "data-mid": String(message.mid) };
  return el(
    "div",
    attributes,
    el("div", { class: "meta" }, ...sender(message.name, own), clock(message.ts)),
    el("div", { class: "text" }, message.message),
  );
}

export function pmNode(message: PrivateMessage, sent: boolean): HTMLElement {
  return el(
    "div",
    { class: sent ? "msg pm own" : "msg pm" },
    el(
      "div",
      { class: "meta" },
      ...sender(message.name, sent),
      el("span", { class: "to" }, sent ? `to ${message.target.name}` : "to you"),
      el("span", { class: "pm-label" }, "private"),
      clock(message.ts),
    ),
    el("div", { class: "text" }, message.message),
  );
}

export function sysNode(text: string): HTMLElement {
  return el("div", { class: "sys" }, text);
}

export function gapNode(): HTMLElement {
  return el("div", { class: "gap-marker", role: "note" }, "Some messages may be missing");
}

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
    this.logFor(room).append(node);
    if (stick) this.box.scrollTop = this.box.scrollHeight;
  }

  /** Puts older messages above those shown since the last gap, without moving what the reader sees. */
  prepend(room: string, nodes: Node[]): void {
    const log = this.logFor(room);
    const gaps = log.querySelectorAll(".gap-marker");
    const anchor = gaps.length > 0 ? (gaps[gaps.length - 1]?.nextSibling ?? null) : log.firstChild;
    const fromBottom = this.box.scrollHeight - this.box.scrollTop;
    const batch = document.createDocumentFragment();
    batch.append(...nodes);
    log.insertBefore(batch, anchor);
    if (room === this.shown) this.box.scrollTop = this.box.scrollHeight - fromBottom;
  }

  atTop(): boolean {
    return this.box.scrollTop < EDGE_PX;
  }

  private atBottom(): boolean {
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
