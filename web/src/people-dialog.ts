import { el } from "./dom";
import { personName } from "./guest-badge";
import { field } from "./room-dialog";

/** Someone listed, with what is said of them beside their name (their role, whether they are online). */
export interface ListedPerson {
  uid: string;
  name: string;
  detail: string;
}

/**
 * A list of people a page at a time, each with a button that starts a
 * conversation: a room's members, or, with a search box, the people directory.
 */
export class PeopleDialog {
  readonly dialog: HTMLDialogElement;
  private readonly heading: HTMLHeadingElement;
  private readonly query = el("input", { name: "q", type: "search", autocomplete: "off" });
  private readonly search: HTMLFormElement;
  private readonly list = el("ul", { class: "directory" });
  private readonly more = el("button", { class: "ghost", type: "button", hidden: "" }, "More");
  private readonly status = el("p", { role: "status" });
  private next: string | undefined;

  constructor(
    id: string,
    /** Asks for a page: the first (after undefined) or the next. */
    private readonly ask: (q: string, after: string | undefined) => void,
    private readonly converse: (uid: string, name: string) => void,
    searchable: boolean,
    /** What an empty list says. */
    private readonly nobody = "Nobody found",
  ) {
    this.heading = el("h2", { id: `${id}-title` });
    this.search = el("form", { class: "inline-form", role: "search" }, ...field("Search people", this.query));
    this.search.append(el("button", { type: "submit" }, "Search"));
    this.search.hidden = !searchable;
    const close = el("button", { class: "ghost", type: "button" }, "Close");
    this.dialog = el(
      "dialog",
      { id, class: "room-panel", "aria-labelledby": `${id}-title` },
      this.heading,
      this.search,
      this.status,
      this.list,
      this.more,
      close,
    );
    document.body.append(this.dialog);
    close.addEventListener("click", () => this.dialog.close());
    this.search.addEventListener("submit", (event) => {
      event.preventDefault();
      this.load();
    });
    this.more.addEventListener("click", () => this.ask(this.query.value.trim(), this.next));
    this.list.addEventListener("click", (event) => {
      const item = (event.target as Element).closest<HTMLElement>("[data-uid]");
      const { uid, name } = item?.dataset ?? {};
      if (uid === undefined || name === undefined) return;
      this.dialog.close();
      this.converse(uid, name);
    });
  }

  open(title: string): void {
    this.heading.textContent = title;
    this.dialog.showModal();
    if (!this.search.hidden) this.query.focus();
    this.load();
  }

  private load(): void {
    this.next = undefined;
    this.list.replaceChildren();
    this.status.textContent = "Loading…";
    this.ask(this.query.value.trim(), undefined);
  }

  /** A page came: the first replaces the list, the next ones add to it. `me` gets no button: one writes to others. */
  show(people: ListedPerson[], next: string | undefined, first: boolean, me: string): void {
    const items = people.map((p) =>
      el(
        "li",
        { class: "directory-room" },
        ...personName(p.uid, p.name, "directory-name"),
        el("span", { class: "directory-meta" }, p.detail),
        p.uid === me
          ? el("span", { class: "self-badge" }, "you")
          : el(
              "button",
              { type: "button", "data-uid": p.uid, "data-name": p.name, "aria-label": `Message ${p.name}` },
              "Message",
            ),
      ),
    );
    if (first) this.list.replaceChildren(...items);
    else this.list.append(...items);
    this.next = next;
    this.more.hidden = next === undefined;
    this.status.textContent = this.list.childElementCount === 0 ? this.nobody : "";
  }

  refused(message: string): void {
    this.status.textContent = message;
  }
}
