import { avatar } from "./avatar";
import type { LinkState } from "./connection";
import { byId, type Child, el, spoken } from "./dom";
import { guestBadge, guestMark, isGuest } from "./guest-badge";
import type { TypingPart } from "./typing";

/** A room or a conversation in the side list. */
export interface PlaceItem {
  key: string;
  title: string;
  unread: number;
  /** Unread messages that mention the user. */
  mentions: number;
  /** A muted room shows that something is unread, not how much. */
  muted: boolean;
  active: boolean;
  /** A conversation whose other person the server no longer knows. */
  gone: boolean;
  /** A conversation's other person (uid), whose profile names it. */
  person?: string;
}

export interface UserItem {
  uid: string;
  name: string;
  me: boolean;
  /** Whether the name offers a conversation with them: not one's own, nor in the conversation with them. */
  direct: boolean;
  /** Set when another member has the same name: tells the two apart. */
  tag: string | undefined;
}

const NOTICE_MS = 8000;
const MAX_NOTICES = 3;

/** Everything on the page except the message list itself. */
export class View {
  readonly nick = byId<HTMLInputElement>("nick");
  readonly nickForm = byId<HTMLFormElement>("nick-form");
  readonly roomInput = byId<HTMLInputElement>("room-input");
  readonly joinForm = byId<HTMLFormElement>("join-form");
  readonly rooms = byId<HTMLUListElement>("rooms");
  readonly conversations = byId<HTMLUListElement>("conversations");
  readonly users = byId<HTMLUListElement>("users");
  private readonly peopleTitle = byId("people-title");
  readonly messages = byId("messages");
  readonly composer = byId<HTMLFormElement>("composer");
  readonly text = byId<HTMLTextAreaElement>("text");
  readonly counter = byId("counter");
  readonly editBar = byId("edit-bar");
  readonly editCancel = byId<HTMLButtonElement>("edit-cancel");
  readonly mentionList = byId("mention-list");
  readonly notify = byId<HTMLButtonElement>("notify");
  readonly mute = byId<HTMLButtonElement>("mute");
  readonly panelsToggle = byId<HTMLButtonElement>("panels-toggle");
  private readonly status = byId("status");
  private readonly roomTitle = byId("room-title");
  private readonly roomTopic = byId("room-topic");
  readonly inviteOpen = byId<HTMLButtonElement>("invite-open");
  readonly membersOpen = byId<HTMLButtonElement>("members-open");
  readonly settingsOpen = byId<HTMLButtonElement>("settings-open");
  readonly peopleOpen = byId<HTMLButtonElement>("people-open");
  readonly browseRooms = byId<HTMLButtonElement>("browse-rooms");
  readonly createRoom = byId<HTMLButtonElement>("create-room");
  private readonly onlineCount = byId("online-count");
  private readonly typing = byId("typing");
  private readonly loading = byId("loading");
  private readonly panelsBadge = byId("panels-badge");
  private readonly notices = byId("notices");
  private readonly offline = byId("offline");
  readonly jump = byId<HTMLButtonElement>("jump");
  /** The link was up once: a link that is down since is an outage to tell of, not a page still starting. */
  private wasOnline = false;
  /** Controls that only make sense with a live link; the composer is not one: what it sends waits for the link. */
  private readonly needLink: (HTMLInputElement | HTMLTextAreaElement | HTMLButtonElement)[] = [
    ...this.nickForm.querySelectorAll("button"),
    ...this.joinForm.querySelectorAll("button"),
    this.browseRooms,
    this.createRoom,
    this.inviteOpen,
    this.membersOpen,
    this.settingsOpen,
    this.peopleOpen,
  ];

  setLink(state: LinkState, transport: string | undefined): void {
    const body = document.body;
    body.dataset.state = state;
    if (state === "online" && transport) body.dataset.transport = transport;
    else delete body.dataset.transport;
    this.status.textContent =
      state === "online"
        ? `Online · ${transport ?? "?"}`
        : state === "connecting"
          ? "Connecting…"
          : "Offline, reconnecting…";
    for (const control of this.needLink) control.disabled = state !== "online";
    if (state === "online") this.wasOnline = true;
    this.offline.hidden = state === "online" || !this.wasOnline;
  }

  /** The longest name and room name the server takes: the boxes take no more. */
  setLimits(name: number, room: number): void {
    this.nick.maxLength = name;
    this.roomInput.maxLength = room;
  }

  /** Puts the name the server uses back in the box, over whatever was typed there. */
  resetNick(name: string): void {
    this.nick.value = name;
  }

  /** Shows the name the server uses, unless the user is busy editing it. */
  showNick(name: string): void {
    if (document.activeElement !== this.nick) this.nick.value = name;
  }

  renderPlaces(rooms: PlaceItem[], conversations: PlaceItem[]): void {
    this.rooms.replaceChildren(
      ...rooms.map((room) =>
        el(
          "li",
          { class: `room${room.active ? " active" : ""}${room.muted ? " muted" : ""}`, "data-room": room.key },
          this.placeButton(room, `#${room.title}`),
          el(
            "button",
            {
              class: "leave ghost",
              type: "button",
              title: `Leave #${room.title}`,
              "aria-label": `Leave #${room.title}`,
            },
            "×",
          ),
        ),
      ),
    );
    this.conversations.replaceChildren(
      ...conversations.map((c) =>
        el(
          "li",
          {
            class: `room conversation${c.active ? " active" : ""}${c.gone ? " gone" : ""}`,
            "data-room": c.key,
            title: c.gone ? `${c.title} is no longer known to the server` : undefined,
          },
          this.placeButton(c, c.title),
        ),
      ),
    );
  }

  /** Unread messages outside the place on screen, on the button that opens the lists on a phone. */
  setPanelsBadge(unread: number): void {
    this.panelsBadge.hidden = unread === 0;
    this.panelsBadge.replaceChildren(spoken(", "), el("span", {}, String(unread)), spoken(" unread"));
  }

  /**
   * `title` is null while no place is open; `sub` says who is there; `muted` is null where there is nothing to mute;
   * `person` is a conversation's other person (uid), whose profile names it.
   */
  renderHead(title: string | null, sub: string, muted: boolean | null, person?: string): void {
    this.roomTitle.replaceChildren(
      ...(person === undefined
        ? [title ?? "No room"]
        : [el("span", { "data-profile": person }, title ?? ""), ...guestMark(person)]),
    );
    this.onlineCount.textContent = sub;
    this.mute.hidden = muted === null;
    // A conversation has its two people.
    this.membersOpen.hidden = muted === null;
    this.mute.setAttribute("aria-pressed", String(muted === true));
    this.mute.setAttribute("aria-label", `Mute ${title ?? ""}`);
    this.mute.title = muted ? "Muted: no unread count, no notifications. Click to unmute" : "Mute notifications";
  }

  setTopic(topic: string): void {
    this.roomTopic.textContent = topic;
    this.roomTopic.hidden = topic === "";
  }

  /**
   * The people beside the messages under `title`: a room's who are online, a conversation's two.
   * `more`: people in the room beyond those listed (a big room lists a page of them).
   */
  renderUsers(title: string, items: UserItem[], more = 0, controls?: (uid: string, name: string) => HTMLElement): void {
    this.peopleTitle.textContent = title;
    this.users.replaceChildren(
      ...items.map((user) =>
        el(
          "li",
          { class: user.me ? "user me" : "user", "data-id": user.uid },
          avatar(user.uid, user.name),
          !user.direct
            ? el("span", { class: "user-name", "data-profile": user.uid }, user.name)
            : el(
                "button",
                { class: "user-name", type: "button", title: `Message ${user.name} directly` },
                el("span", { "data-profile": user.uid }, user.name),
              ),
          user.tag ? el("span", { class: "user-tag", title: "another member has the same name" }, user.tag) : null,
          isGuest(user.uid) ? guestBadge() : null,
          user.me ? el("span", { class: "self-badge" }, "you") : null,
          user.me || !controls ? null : controls(user.uid, user.name),
        ),
      ),
      ...(more > 0 ? [el("li", { class: "more-users" }, `and ${more} more`)] : []),
    );
  }

  /** A place's button: its name, how much is unread (a dot when muted) and how many of those mention the user. */
  private placeButton(place: PlaceItem, label: string): HTMLButtonElement {
    const unread =
      place.unread === 0
        ? null
        : place.muted
          ? el("span", { class: "unread-dot" }, spoken("unread messages"))
          : el("span", { class: "badge" }, spoken(", "), el("span", {}, String(place.unread)), spoken(" unread"));
    const mentions =
      place.mentions > 0 &&
      el(
        "span",
        { class: "mentions-count" },
        spoken(`, ${place.mentions} ${place.mentions === 1 ? "mention" : "mentions"}`),
        el("span", { "aria-hidden": "true" }, `@${place.mentions}`),
      );
    return el(
      "button",
      { class: "room-name", type: "button", "aria-current": place.active ? "true" : undefined },
      el("span", { class: "place-title", "data-profile": place.person }, label),
      ...guestMark(place.person),
      mentions,
      unread,
      place.muted && spoken(", muted"),
      place.gone && spoken(", no longer known to the server"),
    );
  }

  /** The button that jumps to the newest message, while there are `unseen` ones below the view, or while `away` from them (a jump back in history). */
  setUnseen(unseen: number, away = false): void {
    this.jump.hidden = unseen === 0 && !away;
    this.jump.textContent =
      unseen === 0 ? "Back to the newest messages ↓" : `${unseen} new ${unseen === 1 ? "message" : "messages"} ↓`;
  }

  /** Who is typing, each typist named by their profile (profile.ts paints a `data-profile`). */
  setTyping(parts: TypingPart[]): void {
    const line = parts.flatMap((p): (HTMLElement | string)[] =>
      typeof p === "string" ? [p] : [el("span", { "data-profile": p.uid }, p.name), ...guestMark(p.uid)],
    );
    this.typing.replaceChildren(...(line.length === 0 ? [] : [el("span", { class: "typing-line" }, ...line)]));
  }

  setLoading(on: boolean): void {
    this.loading.hidden = !on;
  }

  /**
   * A passing message; with `action`, a button that does something about it (and dismisses it).
   * Parts rather than text where it names someone, so a guest is marked there too.
   */
  notice(content: string | Child[], action?: { label: string; run: () => void }): void {
    const close = el("button", { class: "ghost", type: "button", "aria-label": "Dismiss" }, "×");
    const act = action ? el("button", { class: "notice-action", type: "button" }, action.label) : null;
    const words = el("span", { class: "notice-text" }, ...(typeof content === "string" ? [content] : content));
    const text = words.textContent;
    const item = el("div", { class: "notice", role: "alert" }, words, act, close);
    close.addEventListener("click", () => item.remove());
    act?.addEventListener("click", () => {
      item.remove();
      action?.run();
    });
    window.setTimeout(() => item.remove(), NOTICE_MS);
    // The same words again (a server refusing each reconnect alike) replace the notice, never stack on it.
    for (const shown of this.notices.querySelectorAll(".notice-text")) {
      if (shown.textContent === text) shown.parentElement?.remove();
    }
    this.notices.append(item);
    while (this.notices.childElementCount > MAX_NOTICES) this.notices.firstElementChild?.remove();
  }

  /** Opens or closes a phone's list of places; says whether it is open now. */
  togglePanels(open = !document.body.classList.contains("panels-open")): boolean {
    document.body.classList.toggle("panels-open", open);
    this.panelsToggle.setAttribute("aria-expanded", String(open));
    return open;
  }
}
