import { el } from "./dom";
import type { ServerFrame } from "./protocol";
import { field } from "./room-dialog";

type RoomsPage = Extract<ServerFrame, { action: "rooms" }>;

/** When a room last spoke, as a person says it. */
function activity(ts: number | undefined): string {
  if (ts === undefined) return "no messages yet";
  return `last message ${new Date(ts).toLocaleString([], { dateStyle: "medium", timeStyle: "short" })}`;
}

/** The room directory: public and read-only rooms by name, searchable, a page at a time, each a click from joining (or opening, once joined). */
export class RoomsDirectory {
  readonly dialog: HTMLDialogElement;
  private readonly query = el("input", { name: "q", type: "search", autocomplete: "off" });
  private readonly list = el("ul", { class: "directory" });
  private readonly more = el("button", { class: "ghost", type: "button", hidden: "" }, "More rooms");
  private readonly status = el("p", { role: "status" });
  private next: string | undefined;

  constructor(
    private readonly ask: (q: string, after: string | undefined) => void,
    private readonly join: (room: string) => void,
    /** Whether the user is in the room already: its button opens it rather than joining it. */
    private readonly isIn: (room: string) => boolean,
  ) {
    const close = el("button", { class: "ghost", type: "button" }, "Close");
    const search = el("form", { class: "inline-form", role: "search" }, ...field("Search rooms", this.query));
    search.append(el("button", { type: "submit" }, "Search"));
    this.dialog = el(
      "dialog",
      { id: "rooms-directory", class: "room-panel", "aria-labelledby": "rooms-directory-title" },
      el("h2", { id: "rooms-directory-title" }, "Rooms"),
      search,
      this.status,
      this.list,
      this.more,
      close,
    );
    document.body.append(this.dialog);
    close.addEventListener("click", () => this.dialog.close());
    search.addEventListener("submit", (event) => {
      event.preventDefault();
      this.load();
    });
    this.more.addEventListener("click", () => this.ask(this.query.value.trim(), this.next));
    this.list.addEventListener("click", (event) => {
      const room = (event.target as Element).closest<HTMLElement>("[data-join]")?.dataset.join;
      if (room === undefined) return;
      this.dialog.close();
      this.join(room);
    });
  }

  open(): void {
    this.dialog.showModal();
    this.query.focus();
    this.load();
  }

  private load(): void {
    this.next = undefined;
    this.list.replaceChildren();
    this.status.textContent = "Loading…";
    this.ask(this.query.value.trim(), undefined);
  }

  /** A room's button: opens a room the user is in, joins any other. */
  private button(room: string, name: string): HTMLButtonElement {
    const verb = this.isIn(room) ? "Open" : "Join";
    const look = verb === "Open" ? { class: "ghost" } : {};
    return el("button", { ...look, type: "button", "data-join": room, "aria-label": `${verb} ${name}` }, verb);
  }

  /** A page came: the first replaces the list, the next ones add to it. */
  show(page: RoomsPage, first: boolean): void {
    const items = page.rooms.map((r) =>
      el(
        "li",
        { class: "directory-room" },
        el("span", { class: "directory-name" }, r.name),
        r.visibility === "readonly" ? el("span", { class: "account-badge" }, "read-only") : null,
        el("span", { class: "directory-topic" }, r.topic),
        el("span", { class: "directory-meta" }, `${r.online} online · ${activity(r.active)}`),
        this.button(r.room, r.name),
      ),
    );
    if (first) this.list.replaceChildren(...items);
    else this.list.append(...items);
    this.next = page.next;
    this.more.hidden = page.next === undefined;
    this.status.textContent = this.list.childElementCount === 0 ? "No rooms found" : "";
  }

  refused(message: string): void {
    this.status.textContent = message;
  }
}
