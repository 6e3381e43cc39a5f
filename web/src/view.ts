import type { LinkState } from "./connection";
import { byId, el } from "./dom";

export interface RoomItem {
  name: string;
  unread: number;
  active: boolean;
}

export interface UserItem {
  id: string;
  name: string;
  me: boolean;
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
  readonly users = byId<HTMLUListElement>("users");
  readonly messages = byId("messages");
  readonly composer = byId<HTMLFormElement>("composer");
  readonly text = byId<HTMLInputElement>("text");
  readonly pmCancel = byId<HTMLButtonElement>("pm-cancel");
  readonly panelsToggle = byId<HTMLButtonElement>("panels-toggle");
  private readonly send = byId<HTMLButtonElement>("send");
  private readonly status = byId("status");
  private readonly roomTitle = byId("room-title");
  private readonly onlineCount = byId("online-count");
  private readonly typing = byId("typing");
  private readonly loading = byId("loading");
  private readonly pmChip = byId("pm-chip");
  private readonly notices = byId("notices");
  /** Controls that only make sense with a live link. */
  private readonly needLink: (HTMLInputElement | HTMLButtonElement)[] = [
    this.text,
    this.send,
    ...this.nickForm.querySelectorAll("button"),
    ...this.joinForm.querySelectorAll("button"),
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
  }

  /** Shows the name the server uses, unless the user is busy editing it. */
  showNick(name: string): void {
    if (document.activeElement !== this.nick) this.nick.value = name;
  }

  renderRooms(items: RoomItem[]): void {
    this.rooms.replaceChildren(
      ...items.map((room) =>
        el(
          "li",
          { class: room.active ? "room active" : "room", "data-room": room.name },
          el(
            "button",
            { class: "room-name", type: "button", "aria-current": room.active ? "true" : undefined },
            `#${room.name}`,
            room.unread > 0 &&
              el("span", { class: "badge", "aria-label": `${room.unread} unread` }, String(room.unread)),
          ),
          el("button", { class: "leave ghost", type: "button", title: `Leave #${room.name}` }, "×"),
        ),
      ),
    );
  }

  renderHead(room: string | null, online: number): void {
    this.roomTitle.textContent = room === null ? "No room" : `#${room}`;
    this.onlineCount.textContent = room === null ? "" : `${online} online`;
  }

  renderUsers(items: UserItem[]): void {
    this.users.replaceChildren(
      ...items.map((user) =>
        el(
          "li",
          { class: user.me ? "user me" : "user", "data-id": user.id },
          user.me
            ? el("span", { class: "user-name" }, user.name)
            : el("button", { class: "user-name", type: "button", title: `Private message to ${user.name}` }, user.name),
          user.tag ? el("span", { class: "user-tag", title: "another member has the same name" }, user.tag) : null,
          user.me ? el("span", { class: "self-badge" }, "you") : null,
        ),
      ),
    );
  }

  setTyping(text: string): void {
    this.typing.textContent = text;
  }

  setLoading(on: boolean): void {
    this.loading.hidden = !on;
  }

  setPmTarget(name: string | null): void {
    this.pmChip.hidden = name === null;
    const label = this.pmChip.querySelector(".pm-name");
    if (label) label.textContent = name ?? "";
    this.text.placeholder = name === null ? "Write a message" : `Private message to ${name}`;
    this.composer.classList.toggle("pm-mode", name !== null);
  }

  notice(text: string): void {
    const close = el("button", { class: "ghost", type: "button", "aria-label": "Dismiss" }, "×");
    const item = el("div", { class: "notice", role: "alert" }, el("span", { class: "notice-text" }, text), close);
    close.addEventListener("click", () => item.remove());
    window.setTimeout(() => item.remove(), NOTICE_MS);
    this.notices.append(item);
    while (this.notices.childElementCount > MAX_NOTICES) this.notices.firstElementChild?.remove();
  }

  togglePanels(open = !document.body.classList.contains("panels-open")): void {
    document.body.classList.toggle("panels-open", open);
    this.panelsToggle.setAttribute("aria-expanded", String(open));
  }
}
