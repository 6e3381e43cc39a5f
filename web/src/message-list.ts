import { el } from "./dom";
import type { LiveEntry, ServerFrame } from "./protocol";

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

/** What a message may link to: web addresses, never `javascript:` or `data:`. */
const LINK = /\bhttps?:\/\/[^\s<>"'`]+/g;
/** Punctuation that ends a sentence rather than the address before it. */
const TRAILING = /[.,;:!?)\]]+$/;

/** Message text as text nodes, with its web addresses as links that open apart from the chat. */
function textWithLinks(text: string): (Node | string)[] {
  const parts: (Node | string)[] = [];
  let at = 0;
  for (const match of text.matchAll(LINK)) {
    const url = match[0].replace(TRAILING, "");
    const start = match.index;
    parts.push(text.slice(at, start));
    parts.push(el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, url));
    at = start + url.length;
  }
  parts.push(text.slice(at));
  return parts;
}

/** A room message or a direct message: a conversation's log holds only its two people, so both look alike. */
export function messageNode(message: LiveEntry, own: boolean): HTMLElement {
  const kind = message.action === "dm" ? "msg dm" : "msg";
  const attributes =
    "local" in message
      ? { class: `${kind}${own ? " own" : ""} local`, title: "Reached only the people on this server" }
      : { class: `${kind}${own ? " own" : ""}`, "data-mid": String(message.mid) };
  return el(
    "div",
    attributes,
    el("div", { class: "meta" }, ...sender(message.name, own), clock(message.ts)),
    el("div", { class: "text" }, ...textWithLinks(message.message)),
  );
}

/** An original-protocol private message, from someone on the original page: it belongs to no conversation. */
export function pmNode(message: Extract<ServerFrame, { action: "pm" }>): HTMLElement {
  return el(
    "div",
    { class: "msg pm" },
    el(
      "div",
      { class: "meta" },
      ...sender(message.name, false),
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

  /** Puts the "new messages" line above the first message after `read`; none when all is read. */
  markUnread(room: string, read: number): void {
    const log = this.logFor(room);
    log.querySelector(".new-line")?.remove();
    const first = [...log.querySelectorAll<HTMLElement>(".msg[data-mid]")].find((m) => Number(m.dataset.mid) > read);
    if (first) log.insertBefore(el("div", { class: "new-line", role: "separator" }, "New messages"), first);
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
