import { el } from "./dom";
import { guestMark } from "./guest-badge";
import { mentionQuery, namesFor } from "./mentions";

/**
 * Offers the names of the people present while an `@name` is typed in the
 * composer, a guest's marked as everywhere else (the mark is not inserted): a listbox the textarea points at (aria-activedescendant), so the
 * focus never leaves the text. Arrows move, Enter or Tab pick, Escape closes;
 * a click picks too.
 */
/** Someone `@` may complete: the name is what mentions them, the uid says whether they are a guest. */
export interface Mentionable {
  uid: string;
  name: string;
}

export class MentionPicker {
  private offered: string[] = [];
  /** Whose each offered name is. */
  private uids = new Map<string, string>();
  private active = 0;
  /** The `@query` being completed: from the `@` to the caret. */
  private span = { start: 0, end: 0 };

  constructor(
    private readonly input: HTMLTextAreaElement,
    private readonly list: HTMLElement,
    private readonly names: () => Iterable<Mentionable>,
    /** The text changed: the composer re-measures it. */
    private readonly changed: () => void,
  ) {
    // A click on an option must not take the focus (and the caret) from the text.
    list.addEventListener("mousedown", (event) => event.preventDefault());
    list.addEventListener("click", (event) => {
      const option = (event.target as Element).closest<HTMLElement>("[data-index]");
      if (option) this.pick(Number(option.dataset.index));
    });
    input.addEventListener("blur", () => this.close());
  }

  get open(): boolean {
    return !this.list.hidden;
  }

  /** Looks at the word before the caret and offers the names it could begin, or closes. */
  update(): void {
    const { selectionStart, selectionEnd, value } = this.input;
    const query = selectionStart === selectionEnd ? mentionQuery(value.slice(0, selectionStart)) : null;
    const people = query ? [...this.names()] : [];
    const offered = query
      ? namesFor(
          query.query,
          people.map((p) => p.name),
        )
      : [];
    if (!query || offered.length === 0) {
      this.close();
      return;
    }
    this.span = { start: query.start, end: selectionStart };
    if (offered.join("\n") !== this.offered.join("\n")) this.active = 0;
    this.offered = offered;
    this.uids = new Map(people.map((p) => [p.name, p.uid]));
    this.render();
  }

  /** Handles the keys the open list takes; true when the key was its. */
  keydown(event: KeyboardEvent): boolean {
    if (!this.open || event.isComposing) return false;
    const n = this.offered.length;
    switch (event.key) {
      case "ArrowDown":
        this.active = (this.active + 1) % n;
        this.render();
        break;
      case "ArrowUp":
        this.active = (this.active + n - 1) % n;
        this.render();
        break;
      case "Enter":
      case "Tab":
        this.pick(this.active);
        break;
      case "Escape":
        this.close();
        break;
      default:
        return false;
    }
    event.preventDefault();
    return true;
  }

  close(): void {
    this.list.hidden = true;
    this.offered = [];
    this.input.removeAttribute("aria-activedescendant");
  }

  private pick(index: number): void {
    const name = this.offered[index];
    if (name === undefined) return;
    const { value } = this.input;
    const insert = `@${name} `;
    this.input.value = value.slice(0, this.span.start) + insert + value.slice(this.span.end);
    const caret = this.span.start + insert.length;
    this.input.setSelectionRange(caret, caret);
    this.close();
    this.changed();
  }

  private render(): void {
    this.list.replaceChildren(
      ...this.offered.map((name, i) =>
        el(
          "div",
          {
            id: `mention-option-${i}`,
            role: "option",
            class: i === this.active ? "active" : undefined,
            "aria-selected": String(i === this.active),
            "data-index": String(i),
          },
          name,
          ...guestMark(this.uids.get(name)),
        ),
      ),
    );
    this.list.hidden = false;
    this.input.setAttribute("aria-activedescendant", `mention-option-${this.active}`);
    this.list.children[this.active]?.scrollIntoView({ block: "nearest" });
  }
}
