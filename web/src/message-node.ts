import { avatar } from "./avatar";
import { type MessageState, reactors } from "./changes";
import { el, spoken } from "./dom";
import { guestMark } from "./guest-badge";
import { mentionPattern, mentions } from "./mentions";
import type { Emoji, LiveEntry, ServerFrame } from "./protocol";
import type { Outgoing } from "./session";

/** Whose page this is: their own messages get a badge and edit controls, their name is what mentions them. */
export interface Reader {
  uid: string;
  name: string;
  /** Users the reader blocked: their mentions of the reader are not marked. */
  blocked?: ReadonlyMap<string, string>;
}

/** The server's fixed reactions, in the order the picker offers them, with what a screen reader calls them. */
const REACTION_NAMES: Record<Emoji, string> = {
  "👍": "thumbs up",
  "❤️": "heart",
  "😂": "laughing",
  "🎉": "party",
  "😮": "surprised",
  "😢": "sad",
};
export const REACTIONS = Object.keys(REACTION_NAMES) as Emoji[];

export function isEmoji(text: string | undefined): text is Emoji {
  return text !== undefined && Object.hasOwn(REACTION_NAMES, text);
}

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
function sender(name: string, own: boolean, uid?: string): HTMLElement[] {
  // profile.ts paints the name and avatar of an account's uid with its profile.
  const from = el("span", { class: "from", "data-profile": uid }, name);
  const shown = uid === undefined ? [from] : [avatar(uid, name), from];
  if (own) return [...shown, el("span", { class: "self-badge", title: "sent by you" }, "you")];
  return [...shown, ...guestMark(uid)];
}

/** What a message may link to: web addresses, never `javascript:` or `data:`. */
const LINK = /\bhttps?:\/\/[^\s<>"'`]+/g;
/** Punctuation that ends a sentence rather than the address before it. */
const TRAILING = /[.,;:!?)\]]+$/;

/** Plain text with the mentions of the reader marked. */
function withMentions(text: string, mention: RegExp | null): (Node | string)[] {
  if (!mention) return [text];
  const parts: (Node | string)[] = [];
  let at = 0;
  for (const match of text.matchAll(mention)) {
    parts.push(text.slice(at, match.index), el("mark", { class: "mention" }, match[0]));
    at = match.index + match[0].length;
  }
  parts.push(text.slice(at));
  return parts;
}

/**
 * Message text as text nodes, with its web addresses as links that open apart
 * from the chat and the reader's `@name` marked; its characters are the
 * message's, one for one.
 */
function messageText(text: string, reader: Reader): (Node | string)[] {
  const mention = mentionPattern(reader.name);
  const parts: (Node | string)[] = [];
  let at = 0;
  for (const match of text.matchAll(LINK)) {
    const url = match[0].replace(TRAILING, "");
    const start = match.index;
    parts.push(...withMentions(text.slice(at, start), mention));
    parts.push(el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, url));
    at = start + url.length;
  }
  parts.push(...withMentions(text.slice(at), mention));
  return parts;
}

/** Code: ```a block``` and `a span`. Inside, text is shown as it is: no links, no mentions. */
const CODE = /```([\s\S]+?)```|`([^`\n]+)`/g;

/** A code mark: kept in the text, so the message's characters stay one for one, but not shown or read. */
const fence = (mark: string) => el("span", { class: "md", "aria-hidden": "true" }, mark);

/** Message text with its code set apart in a monospace font; the rest as messageText has it. */
function formatted(text: string, reader: Reader): (Node | string)[] {
  const parts: (Node | string)[] = [];
  let at = 0;
  for (const match of text.matchAll(CODE)) {
    parts.push(...messageText(text.slice(at, match.index), reader));
    const block = match[1];
    if (block === undefined) {
      parts.push(el("span", { class: "code-span" }, fence("`"), el("code", {}, match[2]), fence("`")));
    } else {
      // The line breaks just inside the fences belong to the fences: shown, they would be an empty first and last line.
      const lead = block.startsWith("\n") ? "\n" : "";
      const trail = block.length > lead.length && block.endsWith("\n") ? "\n" : "";
      const code = block.slice(lead.length, block.length - trail.length);
      parts.push(
        el("pre", { class: "code-block" }, fence(`\`\`\`${lead}`), el("code", {}, code), fence(`${trail}\`\`\``)),
      );
    }
    at = match.index + match[0].length;
  }
  parts.push(...messageText(text.slice(at), reader));
  return parts;
}

/** Whether a message by someone else names the reader. */
export function mentionsReader(message: { uid: string; message: string }, reader: Reader): boolean {
  return (
    message.uid !== reader.uid && reader.blocked?.has(message.uid) !== true && mentions(message.message, reader.name)
  );
}

function button(act: string, label: string, text: string, extra: Record<string, string> = {}): HTMLButtonElement {
  return el(
    "button",
    { type: "button", class: "ghost", "data-act": act, "aria-label": label, title: label, ...extra },
    text,
  );
}

/**
 * The controls of a stored message: a reaction for anyone, edit and delete
 * for its author; in a room, a report for the others and, shown to its
 * moderators only, remove and pin (the server checks the role either way).
 */
function actions(own: boolean, inRoom: boolean): HTMLElement {
  return el(
    "div",
    { class: "actions" },
    // Where nothing hovers (a phone), this opens the controls the other buttons are.
    button("more", "Message actions", "⋯", { "aria-expanded": "false", class: "ghost more" }),
    button("pick", "Add reaction", "☺+", { "aria-expanded": "false" }),
    button("link", "Copy link to message", "🔗"),
    own && button("edit", "Edit message", "Edit"),
    own && button("delete", "Delete message", "Delete"),
    inRoom && !own && button("report", "Report to the moderators", "Report"),
    inRoom && !own && button("remove", "Remove as a moderator", "Remove", { class: "ghost mod-only" }),
    inRoom && button("pin", "Pin in the room's header", "Pin", { class: "ghost mod-only" }),
  );
}

/**
 * A room message or a direct message: a conversation's log holds only its
 * two people, so both look alike. Read aloud as "sender, time, text". `state`
 * is what became of it, when its changes came before it.
 */
export function messageNode(message: LiveEntry, reader: Reader, state: MessageState | undefined): HTMLElement {
  const own = message.uid === reader.uid;
  const local = "local" in message;
  const classes = ["msg"];
  if (message.action === "dm") classes.push("dm");
  if (own) classes.push("own");
  if (local) classes.push("local");
  if (mentionsReader(message, reader)) classes.push("mention");
  const node = el(
    "div",
    {
      class: classes.join(" "),
      "data-mid": local ? undefined : String(message.mid),
      "data-uid": message.uid,
      "data-ts": String(message.ts),
      title: local ? "Reached only the people on this server" : undefined,
    },
    el(
      "div",
      { class: "meta" },
      ...sender(message.name, own, message.uid),
      spoken(", "),
      clock(message.ts),
      spoken(", "),
    ),
    el("div", { class: "text" }, ...formatted(message.message, reader)),
    !local && actions(own, message.action === "message"),
  );
  if (state) showChanges(node, state, reader);
  return node;
}

function reactionChip(emoji: Emoji, uids: string[], reader: Reader): HTMLButtonElement {
  const mine = uids.includes(reader.uid);
  // Named by what it shows ("👍 2": a screen reader says the emoji's name), pressed when one of them is the reader's.
  const label = `${REACTION_NAMES[emoji]}: ${uids.length}`;
  return el(
    "button",
    {
      type: "button",
      class: "reaction",
      "data-act": "react",
      "data-emoji": emoji,
      "aria-pressed": String(mine),
      title: mine ? `${label}, yours among them: click to take it back` : `${label}: click to add yours`,
    },
    `${emoji} ${uids.length}`,
  );
}

/** Draws what became of a message: its newest text marked "(edited)", its reactions, or that it was deleted. */
export function showChanges(node: HTMLElement, state: MessageState, reader: Reader): void {
  const text = node.querySelector(".text");
  if (!text) return;
  node.querySelector(".edited")?.remove();
  node.querySelector(".reactions")?.remove();
  if (state.deleted) {
    node.classList.add("deleted");
    node.classList.remove("mention");
    text.replaceChildren(state.removed ? "removed by a moderator" : "message deleted");
    node.querySelector(".actions")?.remove();
    node.querySelector(".picker")?.remove();
    return;
  }
  if (state.edit) {
    const { text: edited, ts } = state.edit;
    text.replaceChildren(...formatted(edited, reader));
    node.classList.toggle("mention", mentionsReader({ uid: node.dataset.uid ?? "", message: edited }, reader));
    text.after(el("span", { class: "edited", title: `edited ${new Date(ts).toLocaleString()}` }, "(edited)"));
  }
  const chips = REACTIONS.map((emoji) => ({ emoji, uids: reactors(state, emoji) })).filter((r) => r.uids.length > 0);
  if (chips.length === 0) return;
  (node.querySelector(".edited") ?? text).after(
    el(
      "div",
      { class: "reactions", role: "group", "aria-label": "Reactions" },
      ...chips.map((r) => reactionChip(r.emoji, r.uids, reader)),
    ),
  );
}

/** The emoji to react with, under a message; pressed where the reader has reacted so already. */
export function pickerNode(state: MessageState | undefined, reader: Reader): HTMLElement {
  return el(
    "div",
    { class: "picker", role: "group", "aria-label": "Pick a reaction" },
    ...REACTIONS.map((emoji) =>
      button("react", `React with ${REACTION_NAMES[emoji]}`, emoji, {
        "data-emoji": emoji,
        "aria-pressed": String(state ? reactors(state, emoji).includes(reader.uid) : false),
      }),
    ),
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
      spoken(", "),
      clock(message.ts),
      spoken(", "),
    ),
    el("div", { class: "text" }, message.message),
  );
}

/** A line of the room's own: text, and people as `personName` draws them. */
export function sysNode(...parts: (Node | string)[]): HTMLElement {
  return el("div", { class: "sys" }, ...parts);
}

/** A line that stands in place of a room's messages: what could not be shown, and the server's reason. */
export function noteNode(text: string, reason: string): HTMLElement {
  return el("div", { class: "note", role: "alert" }, el("p", {}, text), el("p", { class: "note-reason" }, reason));
}

export function gapNode(): HTMLElement {
  return el("div", { class: "gap-marker", role: "note" }, "Some messages may be missing");
}

const OUT_STATUS: Record<Outgoing["state"], string> = {
  sending: "sending…",
  waiting: "waiting for the connection…",
};

/**
 * One of the user's messages the server has not acknowledged yet: shown at
 * once, marked with where it is, until the stored message takes its place.
 * Not a `.msg`: it has no number, nothing can be done to it yet.
 */
export function pendingNode(item: Outgoing, reader: Reader): HTMLElement {
  const node = el(
    "div",
    { class: "outgoing", "data-ref": item.ref },
    el("div", { class: "meta" }, ...sender(reader.name, true), spoken(", ")),
    el("div", { class: "text" }, ...formatted(item.text, reader)),
    el("div", { class: "out-status", role: "status" }),
  );
  showPending(node, item);
  return node;
}

/** Redraws a pending message's mark: on its way, or waiting for the link. */
export function showPending(node: HTMLElement, item: Outgoing): void {
  node.dataset.state = item.state;
  node.querySelector(".out-status")?.replaceChildren(OUT_STATUS[item.state]);
}
