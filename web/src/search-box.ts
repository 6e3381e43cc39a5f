/**
 * The search box: a query goes to the server's `search`, and its hits come
 * back grouped by room or conversation, the matched words marked, to be
 * walked with the arrow keys and opened with Enter at the message, in its
 * context. Hit text is the words of other people: it goes into the page as
 * text nodes only, split where the server says the query matched.
 */
import { byId, el } from "./dom";
import { personName } from "./guest-badge";
import type { ClientRequest, FrameOf, SearchHit, ServerFrame } from "./protocol";

const SEARCH_REF = "search:";
/** Hits asked for at a time: a screenful of the panel. */
const PAGE = 20;

/** What the search box needs of the chat. */
export interface SearchHost {
  send(request: ClientRequest): boolean;
  /** A conversation's title: the other person's name as the page knows it. */
  personName(uid: string): string | undefined;
  /** Opens the hit's room or conversation at its message. */
  open(hit: SearchHit): void;
  /** The box closed with Escape: the keyboard goes back to where one writes. */
  closed(): void;
}

/** A hit's text cut where the query matched: `match` parts are to be marked. */
export function markMatches(
  text: string,
  ranges: readonly (readonly [number, number])[],
): { text: string; match: boolean }[] {
  const clamp = (n: number) => Math.max(0, Math.min(n, text.length));
  const spans = ranges
    .map(([start, end]) => [clamp(start), clamp(end)] as const)
    .filter(([start, end]) => end > start)
    .sort((a, b) => a[0] - b[0]);
  const parts: { text: string; match: boolean }[] = [];
  let at = 0;
  for (const [start, end] of spans) {
    // Overlapping ranges (a word matched by two terms) mark the union once.
    if (end <= at) continue;
    const from = Math.max(start, at);
    if (from > at) parts.push({ text: text.slice(at, from), match: false });
    parts.push({ text: text.slice(from, end), match: true });
    at = end;
  }
  if (at < text.length) parts.push({ text: text.slice(at), match: false });
  return parts;
}

/** What the group of a hit is keyed and titled by: its room, or the conversation with the other person. */
function placeOf(hit: SearchHit): string {
  return hit.room !== undefined ? `room:${hit.room}` : `dm:${hit.with ?? ""}`;
}

/** Whether a change was made in the room or conversation of a hit: in a conversation, the other person is one of its two. */
function samePlace(hit: SearchHit, change: FrameOf<"edit" | "delete">): boolean {
  if (hit.room !== undefined) return change.room === hit.room;
  return change.room === undefined && (change.uid === hit.with || change.to === hit.with);
}

export class SearchBox {
  private readonly form = byId<HTMLFormElement>("search-form");
  private readonly input = byId<HTMLInputElement>("search-input");
  private readonly panel = byId("search-panel");
  private readonly status = byId("search-status");
  private readonly list = byId("search-results");
  private readonly more = byId<HTMLButtonElement>("search-more");
  /** Numbers each request, so that only the answer to the newest is shown. */
  private asked = 0;
  private query = "";
  private hits: SearchHit[] = [];
  private next: string | undefined;
  /** The hit the arrow keys are on; -1 for none. */
  private active = -1;

  constructor(private readonly host: SearchHost) {
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.search(this.input.value.trim());
    });
    this.input.addEventListener("keydown", (event) => this.keydown(event));
    this.input.addEventListener("input", () => this.typed(this.input.value.trim()));
    this.list.addEventListener("click", (event) => {
      const option = (event.target as Element).closest<HTMLElement>("[role=option]");
      if (option) this.choose(Number(option.dataset.index));
    });
    // Choosing with the mouse must not take the focus off the box first, which would close the panel.
    this.list.addEventListener("mousedown", (event) => event.preventDefault());
    this.more.addEventListener("click", () => this.ask(this.next));
    document.addEventListener("click", (event) => {
      if (!this.form.contains(event.target as Node)) this.close();
    });
  }

  /** Ctrl+K or `/`: puts the keyboard in the box, its text selected to be typed over. */
  focus(): void {
    this.input.focus();
    this.input.select();
    if (this.hits.length > 0 || this.status.textContent !== "") this.setOpen(true);
  }

  /** Takes a frame if it answers a search of this box; false for any other. */
  handle(frame: ServerFrame): boolean {
    const ref = "ref" in frame && typeof frame.ref === "string" ? frame.ref : "";
    if (!ref.startsWith(SEARCH_REF)) return false;
    const current = ref === SEARCH_REF + this.asked;
    if (!current) return true;
    if (frame.action === "search") this.answered(frame.hits, frame.next);
    else if (frame.action === "error") {
      this.more.hidden = true;
      this.say(
        frame.code === "unavailable"
          ? `Search is unavailable right now: ${frame.message}`
          : `This search cannot be done: ${frame.message}`,
      );
    }
    return true;
  }

  /**
   * A hit deleted since it was found leaves the list, for its text is gone
   * for everyone; one edited shows its new text, unmarked, as the words
   * found may have gone with the edit.
   */
  changed(change: FrameOf<"edit" | "delete">): void {
    const index = this.hits.findIndex((hit) => hit.mid === change.target && samePlace(hit, change));
    const hit = this.hits[index];
    if (!hit) return;
    this.hits =
      change.action === "delete"
        ? this.hits.filter((_, i) => i !== index)
        : this.hits.map((h, i) =>
            i === index ? { ...h, message: change.message, matches: [], edited: change.ts } : h,
          );
    this.render();
    this.status.textContent = this.counted();
  }

  /**
   * A search costs the archive's time, so it is asked for with Enter, not
   * at each key; until then the panel says so, and what was found for the
   * text before leaves, so no one takes those hits for this text's.
   */
  private typed(q: string): void {
    if (q === "") {
      this.close();
      return;
    }
    // An answer still on its way was for the text before.
    this.asked++;
    this.query = "";
    this.hits = [];
    this.list.replaceChildren();
    this.setActive(-1);
    this.more.hidden = true;
    this.say("Press Enter to search");
  }

  private search(q: string): void {
    if (q === "") {
      this.close();
      return;
    }
    this.query = q;
    this.hits = [];
    this.active = -1;
    this.list.replaceChildren();
    this.ask(undefined);
  }

  private ask(before: string | undefined): void {
    this.asked++;
    const sent = this.host.send({
      action: "search",
      q: this.query,
      limit: PAGE,
      ...(before === undefined ? {} : { before }),
      ref: SEARCH_REF + this.asked,
    });
    this.more.hidden = true;
    this.say(sent ? "Searching…" : "Not connected: search needs the connection");
  }

  private answered(hits: SearchHit[], next: string | undefined): void {
    this.hits = [...this.hits, ...hits];
    this.next = next;
    this.more.hidden = next === undefined;
    this.render();
    this.say(this.counted());
  }

  private counted(): string {
    const n = this.hits.length;
    return n === 0 ? "No results" : `${n}${this.next === undefined ? "" : "+"} ${n === 1 ? "result" : "results"}`;
  }

  /** The hits, grouped by room or conversation in the order their newest hit comes. */
  private render(): void {
    const groups = new Map<string, HTMLElement>();
    this.hits.forEach((hit, index) => {
      const key = placeOf(hit);
      let group = groups.get(key);
      if (!group) {
        const id = `search-group-${groups.size}`;
        const title =
          hit.room !== undefined
            ? `#${hit.room}`
            : `Conversation with ${this.host.personName(hit.with ?? "") ?? hit.with ?? ""}`;
        group = el(
          "div",
          { class: "search-group", role: "group", "aria-labelledby": id },
          el("div", { class: "search-group-title", id, role: "presentation" }, title),
        );
        groups.set(key, group);
      }
      group.append(this.option(hit, index));
    });
    this.list.replaceChildren(...groups.values());
    this.setActive(Math.min(this.active, this.hits.length - 1));
  }

  private option(hit: SearchHit, index: number): HTMLElement {
    const when = new Date(hit.ts);
    return el(
      "div",
      {
        class: "search-hit",
        role: "option",
        id: `search-hit-${index}`,
        "aria-selected": "false",
        "data-index": String(index),
      },
      el(
        "span",
        { class: "hit-meta" },
        ...personName(hit.uid, hit.name, "from"),
        ", ",
        el(
          "time",
          { datetime: when.toISOString() },
          when.toLocaleString([], { dateStyle: "medium", timeStyle: "short" }),
        ),
        ": ",
      ),
      el(
        "span",
        { class: "hit-text" },
        ...markMatches(hit.message, hit.matches).map((part) =>
          part.match ? el("mark", { class: "hit-match" }, part.text) : part.text,
        ),
      ),
    );
  }

  private keydown(event: KeyboardEvent): void {
    const n = this.hits.length;
    if (event.key === "ArrowDown" && n > 0) {
      event.preventDefault();
      this.setOpen(true);
      this.setActive(Math.min(this.active + 1, n - 1));
    } else if (event.key === "ArrowUp" && n > 0) {
      event.preventDefault();
      this.setActive(Math.max(this.active - 1, 0));
    } else if (event.key === "Enter" && this.active >= 0 && !this.panel.hidden) {
      event.preventDefault();
      this.choose(this.active);
    } else if (event.key === "Escape") {
      event.preventDefault();
      this.close();
      this.host.closed();
    }
  }

  private setActive(index: number): void {
    this.active = index;
    for (const option of this.list.querySelectorAll<HTMLElement>("[role=option]")) {
      const on = Number(option.dataset.index) === index;
      option.setAttribute("aria-selected", String(on));
      option.classList.toggle("active", on);
      if (on) option.scrollIntoView({ block: "nearest" });
    }
    if (index >= 0) this.input.setAttribute("aria-activedescendant", `search-hit-${index}`);
    else this.input.removeAttribute("aria-activedescendant");
  }

  private choose(index: number): void {
    const hit = this.hits[index];
    if (!hit) return;
    this.close();
    this.host.open(hit);
  }

  private say(text: string): void {
    this.status.textContent = text;
    this.setOpen(true);
  }

  private close(): void {
    this.setOpen(false);
  }

  private setOpen(open: boolean): void {
    this.panel.hidden = !open;
    this.input.setAttribute("aria-expanded", String(open));
  }
}
