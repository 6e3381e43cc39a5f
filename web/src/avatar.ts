import type { AVATAR_COLOURS } from "../../src/protocol/profile";
import { el } from "./dom";

/**
 * The avatars' fixed palette, by the index a profile names (src/protocol/profile.ts):
 * each a CSS class (style.css) whose background carries white initials at
 * 4.5:1 or more, in light and dark mode alike.
 */
export const PALETTE = ["Red", "Amber", "Green", "Teal", "Blue", "Indigo", "Purple", "Pink"] as const satisfies {
  length: typeof AVATAR_COLOURS;
};

/** The colour a person has until they choose one: the same for their uid on every page. */
export function defaultColour(uid: string): number {
  let hash = 0;
  for (let i = 0; i < uid.length; i++) hash = (hash * 31 + uid.charCodeAt(i)) >>> 0;
  return hash % PALETTE.length;
}

/** Up to two letters: the first of the first two words ("Ada Lovelace" → "AL"), whatever the script. */
export function initials(name: string): string {
  const words = name.trim().split(/\s+/u).filter(Boolean);
  const first = (word: string | undefined) => (word ? (Array.from(word)[0] ?? "") : "");
  return (first(words[0]) + first(words[1])).toLocaleUpperCase() || "?";
}

/**
 * Colours an avatar and sets its initials, which style.css draws: not text
 * of the page, so a message's or a member's text is what it was, and a
 * screen reader hears the name beside it instead.
 */
export function paintAvatar(node: HTMLElement, name: string, colour: number): void {
  const text = initials(name);
  if (node.dataset.initials !== text) node.dataset.initials = text;
  const wanted = `avatar avatar-${colour}`;
  if (node.className !== wanted) node.className = wanted;
}

/**
 * A person's avatar, as their uid's default until profile.ts paints it with
 * their profile. Hidden from screen readers: the name beside it says who.
 */
export function avatar(uid: string, name: string): HTMLElement {
  const node = el("span", { "data-avatar": uid, "data-name": name, "aria-hidden": "true" });
  paintAvatar(node, name, defaultColour(uid));
  return node;
}
