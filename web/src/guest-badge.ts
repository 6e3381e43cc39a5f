import { el, spoken } from "./dom";

/** Guests' user ids start `g-` (docs/protocol.md): beside an account's name, a guest's is marked, so it cannot pass for one. */
export function isGuest(uid: string | undefined): boolean {
  return uid?.startsWith("g-") === true;
}

export function guestBadge(): HTMLElement {
  return el("span", { class: "guest-badge", title: "a guest: not signed in" }, "guest");
}

/** After a guest's name: read aloud as "Ada (guest)", the badge a word of its own, not the end of the name. */
export function guestMark(uid: string | undefined): HTMLElement[] {
  return isGuest(uid) ? [spoken(" ("), guestBadge(), spoken(")")] : [];
}

/**
 * A person named in a line of text (a search hit, "joined", "left"): their
 * display name once profile.ts paints it, and a guest marked as everywhere else.
 */
export function personName(uid: string, name: string, className = "person"): HTMLElement[] {
  return [el("span", { class: className, "data-profile": uid }, name), ...guestMark(uid)];
}
