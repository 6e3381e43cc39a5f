import { hasReacted } from "./changes";
import type { Composer } from "./composer";
import type { MessageList } from "./message-list";
import { pickerNode, type Reader } from "./message-node";
import { type ClientRequest, type Emoji, PAGE_REF } from "./protocol";
import { type Place, where } from "./state";

const CHANGE_REF = `change:${PAGE_REF}:`;

/** What the editor needs of the chat around it. */
export interface EditorContext {
  /** The room or conversation on screen: every request is about one of its messages. */
  place(): Place | undefined;
  reader(): Reader;
  send(frame: ClientRequest): boolean;
  notice(text: string): void;
}

/**
 * What the user does to the stored messages on screen: edits their own (in
 * the composer), deletes their own, reacts to anyone's. The result is never
 * drawn here: it comes back from the server as a change to every member
 * alike, this page included; a refusal is told.
 */
export class MessageEditor {
  /** Requests not answered yet, by ref: what a refusal says was not done. */
  private readonly pending = new Map<string, string>();
  private sent = 0;

  constructor(
    private readonly ctx: EditorContext,
    private readonly log: MessageList,
    private readonly composer: Composer,
  ) {}

  /** Puts message `mid` into the composer, to be edited. */
  startEdit(mid: number): void {
    const place = this.ctx.place();
    const text = place && this.textOf(place, mid);
    if (place && typeof text === "string") this.composer.startEdit(place.key, mid, text);
  }

  cancelEdit(): void {
    this.composer.endEdit();
    this.composer.focus();
  }

  /** Sends `text` as the new text of the message being edited; the composer leaves editing once it went out. */
  finishEdit(text: string): void {
    const place = this.ctx.place();
    const editing = this.composer.editing;
    if (!editing) return;
    // The message is in another place than the one on screen: there is nothing here to edit.
    if (!place || editing.key !== place.key || text === this.textOf(place, editing.mid)) {
      this.composer.endEdit();
      return;
    }
    if (this.request("edit", { action: "edit", ...where(place), mid: editing.mid, message: text })) {
      this.composer.endEdit();
    }
  }

  /** Deletes one's own message `mid`. */
  remove(mid: number): void {
    const place = this.ctx.place();
    if (place) this.request("delete", { action: "delete", ...where(place), mid });
  }

  /** Adds the user's reaction `emoji` to message `mid`, or takes it back if it is there. */
  react(mid: number, emoji: Emoji): void {
    const place = this.ctx.place();
    if (!place) return;
    const remove = hasReacted(place.changes.of(mid), emoji, this.ctx.reader().uid);
    this.request("react", { action: "react", ...where(place), mid, emoji, ...(remove ? { remove } : {}) });
  }

  /** The reactions to pick from under message `mid`, those the user gave pressed. */
  picker(mid: number): HTMLElement {
    return pickerNode(this.ctx.place()?.changes.of(mid), this.ctx.reader());
  }

  /** An `ack`: that request went through. */
  acked(ref: string): void {
    this.pending.delete(ref);
  }

  /** An `error`: says what was not done, if it is about one of these requests; false when it is not. */
  refused(ref: string, why: string): boolean {
    const verb = this.pending.get(ref);
    if (verb === undefined) return false;
    this.pending.delete(ref);
    this.ctx.notice(`Could not ${verb}: ${why}`);
    return true;
  }

  /** The link dropped: a change that was stored comes back with the replay on reconnect; one that was not is not shown. */
  forget(): void {
    this.pending.clear();
  }

  /** The text message `mid` shows now (its latest edit): what an edit starts from. */
  private textOf(place: Place, mid: number): string | null | undefined {
    return this.log.find(place.key, mid)?.querySelector(".text")?.textContent;
  }

  private request(verb: string, request: ClientRequest): boolean {
    const ref = `${CHANGE_REF}${++this.sent}`;
    if (!this.ctx.send({ ...request, ref })) {
      this.ctx.notice(`Not connected: could not ${verb}`);
      return false;
    }
    this.pending.set(ref, verb);
    return true;
  }
}
