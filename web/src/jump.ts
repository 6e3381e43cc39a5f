/**
 * Opening a place at one message (a search hit, a link): the message shown
 * in its context and highlighted, while the place's own log keeps taking
 * its live messages out of sight.
 *
 * A message already in the place's log is only scrolled to. Otherwise a
 * `history {around}` page is shown in a log of its own, the context: the
 * reader pages up from it with `history {before}`, and down towards the
 * place's log by pages of `history {before}` too, each ending where the
 * next begins, so no message is skipped. Once the context meets the oldest
 * message of the place's log it is put above that log, which takes over the
 * screen: scrolling down from a jump reaches the live end, and everything
 * that arrived meanwhile is there.
 */
import type { MessageList } from "./message-list";
import { type ClientRequest, type HistoryFrame, isChange, type StoredEntry } from "./protocol";
import { type Place, where } from "./state";

const AROUND_REF = "around:";
const OLDER_REF = "context-older:";
const NEWER_REF = "context-newer:";
/** Messages asked for around the target: a screenful on each side. */
const AROUND_PAGE = 50;
/** The most a `history` page holds (HISTORY_PAGE_MAX): a page down covers this many mids. */
const FILL_PAGE = 100;

/** What the jump needs of the chat. */
export interface JumpHost {
  place(key: string): Place | undefined;
  send(request: ClientRequest): boolean;
  /** A page's entries as nodes, their changes recorded on the place. */
  nodes(place: Place, entries: StoredEntry[]): HTMLElement[];
  notice(text: string): void;
  /** The place's context, or its own log again with what the context held above it, was put on screen. */
  shown(place: Place): void;
}

/** A context on screen: the messages from `first` to `last` of one place, and what lies beyond them. */
interface Context {
  key: string;
  epoch: string;
  first: number;
  last: number;
  /** Older messages are stored. */
  more: boolean;
  /** Messages lie between `last` and the place's log. */
  newer: boolean;
  loading: boolean;
  /** The message jumped to: it stays marked as the context pages on. */
  target: number;
  entries: StoredEntry[];
}

/** What a page's entry is about: a message's own mid, a change's message. */
const about = (entry: StoredEntry): number => (isChange(entry) ? entry.target : entry.mid);

const messageMids = (entries: StoredEntry[]): number[] => entries.filter((e) => !isChange(e)).map((e) => e.mid);

export class Jump {
  /** The jump asked for and not answered yet. */
  private asked: { key: string; mid: number } | null = null;
  private context: Context | null = null;
  private highlighted: HTMLElement | null = null;

  constructor(
    private readonly box: HTMLElement,
    private readonly log: MessageList,
    private readonly host: JumpHost,
  ) {}

  /** The place whose context is on screen, if any. */
  get open(): string | null {
    return this.context?.key ?? null;
  }

  /** Shows message `mid` of `place`, which is on screen: in its log if loaded there, else in a context. */
  to(place: Place, mid: number): void {
    this.back();
    const loaded = this.log.find(place.key, mid);
    // Among the newest, kept out of the page while the reader was far up: they come back first.
    if (loaded && !loaded.isConnected) this.log.toBottom();
    if (loaded?.isConnected) {
      this.highlight(loaded);
      loaded.scrollIntoView({ block: "center" });
      return;
    }
    const sent = this.host.send({
      action: "history",
      ...where(place),
      around: mid,
      limit: AROUND_PAGE,
      ref: AROUND_REF + place.key,
    });
    if (sent) this.asked = { key: place.key, mid };
    else this.host.notice("Not connected");
  }

  /** Takes a `history` reply if it answers the jump; false for any other. */
  history(frame: HistoryFrame): boolean {
    const ref = typeof frame.ref === "string" ? frame.ref : "";
    if (ref.startsWith(AROUND_REF)) this.arrived(ref.slice(AROUND_REF.length), frame);
    else if (ref.startsWith(OLDER_REF)) this.older(ref.slice(OLDER_REF.length), frame);
    else if (ref.startsWith(NEWER_REF)) this.newer(ref.slice(NEWER_REF.length), frame);
    else return false;
    return true;
  }

  /** Takes a refusal if it answers the jump (the message is gone, the archive away); false for any other. */
  refused(ref: string, code: string, message: string): boolean {
    if (ref.startsWith(AROUND_REF)) {
      if (this.asked?.key === ref.slice(AROUND_REF.length)) this.asked = null;
      this.host.notice(
        code === "no_such_message" ? "That message is no longer there: it was deleted or is no longer kept" : message,
      );
      return true;
    }
    if (!ref.startsWith(OLDER_REF) && !ref.startsWith(NEWER_REF)) return false;
    if (this.context) this.context.loading = false;
    this.host.notice(message);
    return true;
  }

  /** The reader scrolled: true when it is the context that is on screen, which pages on at its ends. */
  scrolled(): boolean {
    const c = this.context;
    if (!c) return false;
    const place = this.host.place(c.key);
    if (!place || c.loading || this.log.restoreIfAtBottom()) return true;
    if (this.log.atTop() && c.more) {
      c.loading = this.ask(place, OLDER_REF, c.first, AROUND_PAGE);
    } else if (this.log.nearBottom() && c.newer) {
      c.loading = this.ask(place, NEWER_REF, this.fillEnd(place, c), FILL_PAGE);
    }
    return true;
  }

  /** The link dropped: what was asked on it will not be answered, and paging may ask again on the next. */
  disconnected(): void {
    this.asked = null;
    if (this.context) this.context.loading = false;
  }

  /** Lets go of the context, if one is open, without showing anything in its place (the caller shows a place). */
  leave(): void {
    this.asked = null;
    if (!this.context) return;
    this.log.drop(contextKey(this.context.key));
    this.context = null;
  }

  /** Back from the context, if one is open, to the place's own log. */
  back(): void {
    const key = this.context?.key;
    this.leave();
    if (key !== undefined) this.log.show(key);
  }

  private ask(place: Place, prefix: string, before: number, limit: number): boolean {
    return this.host.send({ action: "history", ...where(place), before, limit, ref: prefix + place.key });
  }

  /** Where the next page down ends (exclusive): a page's worth of mids on, or the place's log, whichever is first. */
  private fillEnd(place: Place, c: Context): number {
    return Math.min(c.last + 1 + FILL_PAGE, this.logStart(place));
  }

  /** The oldest mid of the place's log since its last gap; past its newest when that part is empty. */
  private logStart(place: Place): number {
    return place.oldestMid > 0 ? place.oldestMid : place.lastMid + 1;
  }

  private arrived(key: string, frame: HistoryFrame): void {
    const asked = this.asked;
    const place = this.host.place(key);
    if (asked?.key !== key || !place) return;
    this.asked = null;
    if (place.epoch !== undefined && frame.epoch !== place.epoch) {
      this.host.notice("That message belongs to a history that was since lost");
      return;
    }
    const mids = messageMids(frame.messages);
    const first = mids[0];
    const last = mids.at(-1);
    if (first === undefined || last === undefined) {
      this.host.notice("That message is no longer there: it was deleted or is no longer kept");
      return;
    }
    const c: Context = {
      key,
      epoch: frame.epoch,
      first,
      last,
      more: frame.more,
      newer: frame.newer === true,
      loading: false,
      target: asked.mid,
      entries: frame.messages,
    };
    this.context = c;
    if (last + 1 >= this.logStart(place) || !c.newer) {
      this.rejoin(place);
      return;
    }
    const ctx = contextKey(key);
    this.log.drop(ctx);
    this.log.detach(ctx);
    this.log.show(ctx);
    const batch = document.createDocumentFragment();
    batch.append(...this.host.nodes(place, frame.messages));
    this.log.append(ctx, batch);
    this.markStart(c);
    this.mark(ctx, c.target, "center");
    this.host.shown(place);
  }

  private older(key: string, frame: HistoryFrame): void {
    const c = this.context;
    const place = this.host.place(key);
    if (c?.key !== key || !place) return;
    c.loading = false;
    if (frame.epoch !== c.epoch) return;
    const entries = frame.messages.filter((e) => about(e) < c.first);
    c.more = frame.more;
    c.first = messageMids(entries)[0] ?? c.first;
    c.entries = [...entries, ...c.entries];
    this.log.prepend(contextKey(key), this.host.nodes(place, entries));
    this.markStart(c);
  }

  /** Once nothing older is stored, the context's top says so, as the place's log does. */
  private markStart(c: Context): void {
    if (c.more) return;
    this.log.markStart(
      contextKey(c.key),
      c.first <= 1 ? "Start of the conversation" : "Older messages are no longer kept",
    );
  }

  private newer(key: string, frame: HistoryFrame): void {
    const c = this.context;
    const place = this.host.place(key);
    if (c?.key !== key || !place) return;
    c.loading = false;
    if (frame.epoch !== c.epoch) return;
    const end = this.fillEnd(place, c);
    const entries = frame.messages.filter((e) => about(e) > c.last && about(e) < end);
    c.last = end - 1;
    c.entries = [...c.entries, ...entries];
    if (end >= this.logStart(place)) {
      this.rejoin(place, this.log.lastSeenMid());
      return;
    }
    const batch = document.createDocumentFragment();
    batch.append(...this.host.nodes(place, entries));
    this.log.append(contextKey(key), batch);
    // A reader paging down a long way holds a few pages, as in the place's own log: the oldest go (see `trimmed`).
    this.log.trimTop(contextKey(key));
  }

  /** The list let go of the oldest messages of `log`: if it is the context's, paging up starts again below them. */
  trimmed(log: string, oldestMid: number): void {
    const c = this.context;
    if (!c || log !== contextKey(c.key) || oldestMid === 0) return;
    c.first = oldestMid;
    c.more = true;
    c.entries = c.entries.filter((e) => about(e) >= oldestMid);
  }

  /**
   * The context reaches the place's log: what it holds older than that log
   * goes above it, and the log is shown with the target marked and, in
   * view, the message the reader was at (`at`), or else the target.
   */
  private rejoin(place: Place, at?: number): void {
    const c = this.context;
    if (!c) return;
    const start = this.logStart(place);
    const older = c.entries.filter((e) => about(e) < start);
    this.leave();
    this.log.show(place.key);
    this.log.prepend(place.key, this.host.nodes(place, older));
    if (messageMids(older).length > 0) {
      place.oldestMid = c.first;
      place.more = c.more;
    }
    this.host.shown(place);
    if (at === undefined) {
      this.mark(place.key, c.target, "center");
      return;
    }
    this.mark(place.key, c.target);
    this.log.find(place.key, at)?.scrollIntoView({ block: "end" });
  }

  /** Marks message `mid` of a log as the one jumped to; with `scroll`, brings it into view there. */
  private mark(key: string, mid: number, scroll?: ScrollLogicalPosition): void {
    const node = this.log.find(key, mid);
    if (!node?.isConnected) {
      if (scroll) this.box.scrollTop = 0;
      return;
    }
    this.highlight(node);
    if (scroll) node.scrollIntoView({ block: scroll });
  }

  private highlight(node: HTMLElement): void {
    this.highlighted?.classList.remove("target");
    this.highlighted?.removeAttribute("aria-current");
    node.classList.add("target");
    node.setAttribute("aria-current", "true");
    this.highlighted = node;
  }
}

/** The log a place's context is kept under: room names hold no ':', conversations' keys start with '@'. */
const contextKey = (key: string): string => `context:${key}`;
