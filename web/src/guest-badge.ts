import { el } from "./dom";

/** Guests' user ids start `g-` (docs/protocol.md): beside an account's name, a guest's is marked, so it cannot pass for one. */
export function isGuest(uid: string | undefined): boolean {
  return uid?.startsWith("g-") === true;
}

export function guestBadge(): HTMLElement {
  return el("span", { class: "guest-badge", title: "a guest: not signed in" }, "guest");
}
