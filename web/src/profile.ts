import { AuthRefusal, getJson, post } from "./accounts";
import { avatar, defaultColour, initials, PALETTE, paintAvatar } from "./avatar";
import { byId, el } from "./dom";
import { Overlay } from "./overlay";
import type { ServerFrame } from "./protocol";

export type Profile = Omit<Extract<ServerFrame, { action: "profile" }>, "action">;

/** At most this many uids per `GET /auth/profiles`, as the server takes. */
const PER_REQUEST = 100;

/**
 * What people are shown as: an account's display name and avatar colour.
 * Whatever shows a person carries `data-profile` (their name) or
 * `data-avatar` (their avatar) with their uid; this paints each as it is
 * added to the page, asks the server once for accounts it has not seen, and
 * paints again when a `profile` frame says someone changed. So the message
 * list, the members list and the header need not know of profiles. Guests
 * have none: their name, and the colour their uid gives.
 */
export class Profiles {
  private readonly known = new Map<string, Profile>();
  private readonly asked = new Set<string>();
  private wanted: string[] = [];

  constructor(private readonly root: HTMLElement) {
    new MutationObserver((records) => {
      for (const record of records) {
        for (const node of record.addedNodes) if (node instanceof HTMLElement) this.paintWithin(node);
      }
    }).observe(root, { childList: true, subtree: true });
    this.paintWithin(root);
  }

  learn(profile: Profile): void {
    this.known.set(profile.uid, profile);
    const uid = CSS.escape(profile.uid);
    for (const node of this.root.querySelectorAll<HTMLElement>(`[data-profile="${uid}"], [data-avatar="${uid}"]`)) {
      this.paint(node);
    }
  }

  get(uid: string): Profile | undefined {
    return this.known.get(uid);
  }

  private paintWithin(node: HTMLElement): void {
    if (node.matches("[data-profile], [data-avatar]")) this.paint(node);
    for (const inner of node.querySelectorAll<HTMLElement>("[data-profile], [data-avatar]")) this.paint(inner);
  }

  private paint(node: HTMLElement): void {
    const uid = node.dataset.profile ?? node.dataset.avatar ?? "";
    const profile = this.known.get(uid);
    if (!profile) this.want(uid);
    // The account name the page first wrote, kept for when the display name is cleared.
    node.dataset.name ??= node.textContent ?? "";
    const shown = profile?.display ?? node.dataset.name;
    if (node.dataset.avatar !== undefined) {
      paintAvatar(node, shown, profile?.colour ?? defaultColour(uid));
      return;
    }
    if (node.textContent !== shown) node.textContent = shown;
    // The unique name is a hover away: two people may choose the same display name.
    if (profile && profile.display !== profile.name) node.title = `@${profile.name}`;
    else node.removeAttribute("title");
  }

  private want(uid: string): void {
    if (!uid.startsWith("a-") || this.asked.has(uid)) return;
    this.asked.add(uid);
    this.wanted.push(uid);
    if (this.wanted.length === 1) queueMicrotask(() => this.ask());
  }

  private ask(): void {
    const uids = this.wanted;
    this.wanted = [];
    for (let i = 0; i < uids.length; i += PER_REQUEST) {
      const query = uids
        .slice(i, i + PER_REQUEST)
        .map((uid) => `uid=${encodeURIComponent(uid)}`)
        .join("&");
      getJson<{ profiles: Profile[] }>(`/auth/profiles?${query}`).then(
        ({ profiles }) => {
          for (const p of profiles) if (!this.known.has(p.uid)) this.learn(p);
        },
        // Names stay as the messages carry them; the next page load asks again.
        () => undefined,
      );
    }
  }
}

/**
 * The profile page: the display name and the avatar colour a signed-in
 * person chooses, with a preview of each colour as their initials would look.
 */
export function wireProfilePage(profiles: Profiles, me: Profile): void {
  // Put away as the dialogs are: Close or Escape, the focus back on the button that opened it.
  const overlay = new Overlay(byId("profile"), true);
  const form = byId<HTMLFormElement>("profile-form");
  const display = byId<HTMLInputElement>("profile-display");
  const colours = byId("profile-colours");
  const message = byId("profile-message");
  byId("profile-account-name").textContent = me.name;
  const header = byId("account-name");
  header.dataset.profile = me.uid;
  header.before(avatar(me.uid, me.name));
  profiles.learn(me);

  const swatches: HTMLElement[] = [];
  const choice = (value: string, label: string, colour: number) => {
    const swatch = el("span", { "aria-hidden": "true" });
    swatch.dataset.colour = String(colour);
    swatches.push(swatch);
    return el(
      "label",
      { class: "colour-choice" },
      el("input", { type: "radio", name: "colour", value }),
      swatch,
      ` ${label}`,
    );
  };
  colours.append(
    choice("", "Automatic", defaultColour(me.uid)),
    ...PALETTE.map((label, i) => choice(String(i), label, i)),
  );
  const preview = () => {
    const name = display.value.trim() || me.name;
    // As text here, unlike an avatar beside a name: these are the palette's samples, read for their contrast.
    for (const s of swatches) {
      s.className = `avatar avatar-${s.dataset.colour}`;
      s.textContent = initials(name);
    }
  };
  display.addEventListener("input", preview);

  const open = () => {
    const now = profiles.get(me.uid) ?? me;
    display.value = now.display === now.name ? "" : now.display;
    display.placeholder = now.name;
    const picked = now.colour === null ? "" : String(now.colour);
    for (const radio of form.querySelectorAll<HTMLInputElement>("input[name=colour]")) {
      radio.checked = radio.value === picked;
    }
    message.textContent = "";
    preview();
    overlay.open(display);
  };
  const openButton = byId<HTMLButtonElement>("profile-open");
  openButton.hidden = false;
  openButton.addEventListener("click", open);
  byId("profile-close").addEventListener("click", () => overlay.close());
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const picked = new FormData(form).get("colour");
    post<{ account: Profile }>("/auth/profile", {
      display: display.value,
      colour: picked === null || picked === "" ? null : Number(picked),
    }).then(
      ({ account }) => {
        profiles.learn({ uid: account.uid, name: account.name, display: account.display, colour: account.colour });
        message.textContent = "Saved.";
      },
      (err: unknown) => {
        message.textContent = err instanceof AuthRefusal ? err.message : "The server cannot be reached. Try again.";
      },
    );
  });
}
