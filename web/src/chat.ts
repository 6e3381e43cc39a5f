/**
 * The chat as the user sees it, driven by server frames and user actions.
 * One class past 250 lines because each of its methods is one reaction of
 * the page (a frame arrives, a place is switched, older history comes in)
 * over the same state. The rules live apart and are unit-tested: what the
 * user writes and sends (drafts, the outbox, the place on screen) in the
 * reducer of session.ts, a place's numbering and read marks in state.ts and
 * changes.ts; the drawing in view.ts, message-node.ts and message-list.ts.
 */
import type { Attention } from "./attention";
import type { Mentionable } from "./autocomplete";
import type { Composer } from "./composer";
import { personName } from "./guest-badge";
import { JoinRetries } from "./join-retries";
import { Jump } from "./jump";
import { MessageEditor } from "./message-editor";
import { type MessageList, NO_ROOM } from "./message-list";
import {
  gapNode,
  mentionsReader,
  messageNode,
  noteNode,
  pendingNode,
  pmNode,
  type Reader,
  showChanges,
  showPending,
  sysNode,
} from "./message-node";
import { ModerationView } from "./moderation";
import {
  type ClientRequest,
  type FrameOf,
  type HistoryFrame,
  isChange,
  type LiveEntry,
  PAGE_REF,
  type ServerFrame,
  type StoredChange,
  type StoredEntry,
  type UserInfo,
} from "./protocol";
import { formatRoute, type Route, routeTo, routeUrl } from "./routes";
import { type Input, newSession, type Outgoing, type Session, type Step, step } from "./session";
import {
  acceptLive,
  applyJoinHistory,
  applyOlderHistory,
  applyRead,
  ClientState,
  dmKey,
  newPlace,
  type Place,
  readUpTo,
  roomKey,
  unread,
  unreadMentions,
  where,
} from "./state";
import {
  claimUnsent,
  loadDrafts,
  loadMuted,
  loadNick,
  loadPlace,
  saveDrafts,
  saveGuest,
  saveMuted,
  saveNick,
  savePlace,
  saveUnsent,
} from "./storage";
import { TypingThrottle, TypingTracker, typingLine } from "./typing";
import type { UserItem, View } from "./view";

const PAGE_SIZE = 50;
const TYPING_SEND_MS = 2000;
const TYPING_SHOW_MS = 3000;
/** A big room's member list is fetched a page at a time; past this many the list says "and N more". */
const MEMBERS_SHOWN = 500;
const OLDER_REF = "older:";
const MORE_USERS_REF = "more-users:";
const JOIN_REF = "join:";
const NICK_REF = "nick";
const SEND_REF = `send:${PAGE_REF}:`;
/** A notification shows the start of a message, not a wall of it. */
const NOTIFY_CHARS = 200;

/** The messages that the changes among `entries` change. */
function changedTargets(entries: StoredEntry[]): number[] {
  return entries.filter(isChange).map((c) => c.target);
}

/** The chat itself: turns server frames and user actions into state, requests and view updates. */
export class Chat {
  private readonly state = new ClientState();
  private readonly typists = new TypingTracker(TYPING_SHOW_MS, (key) => {
    if (key === this.state.current) this.renderTyping();
  });
  private readonly typingThrottle = new TypingThrottle(TYPING_SEND_MS);
  /** The name the user picked, replayed on every connection; null while they keep the assigned one. */
  private chosenNick = loadNick();
  /** A `nick` of this page's is on its way: the rename that answers it is the user's choice. */
  private nickAsked = false;
  private everJoined = false;
  /** The room the user asked for by hand: shown once the server confirms it. */
  private showOnJoin: string | null = null;
  /** The room shown on join was asked for by hand (not the first room of a page load): the composer takes the focus. */
  private focusOnJoin = false;
  /** What the user writes and sends: drafts, the outbox, the place on screen (session.ts decides; this page shows). */
  private session: Session = newSession(SEND_REF, loadDrafts(), claimUnsent());
  /** Messages an earlier page left unsent: drawn once this page knows who the user is. */
  private adopted = this.session.outbox.map((m) => m.ref);
  /**
   * Conversations opened because a message came in (someone wrote first):
   * that message arrives in their history, not live, and is announced from there.
   */
  private readonly announce = new Set<string>();
  /** Rooms whose unread count and notifications the user turned off, in this browser. */
  private readonly muted = loadMuted();
  /** The place that was on screen when the page was last left: a reload comes back to it once it is joined. */
  private returnTo = loadPlace();
  /** Edits, deletions and reactions the user asks for. */
  readonly editor: MessageEditor;
  /** Roles, room rules, blocks, the moderators' controls and reports. */
  readonly moderation: ModerationView;
  /** What the server says each room is (its `room` frames): the name to show, and its topic. */
  private readonly about = new Map<
    string,
    { name: string; topic: string; visibility: FrameOf<"room">["visibility"]; v: number }
  >();
  /** Opening a place at one of its messages. */
  private readonly jump: Jump;
  /** A link to open once the connection is up. */
  private route: Route | null = null;
  /** The place a link asked for: its refusal is shown in full, not as a passing notice. */
  private linked: { key: string; mid: number | undefined; listed: boolean } | null = null;
  /** Joins refused for now, sent again; rejoined places waiting for their history. */
  private readonly retries = new JoinRetries((key) => this.joinAgain(key));

  constructor(
    private readonly view: View,
    private readonly log: MessageList,
    private readonly composer: Composer,
    private readonly attention: Attention,
    private readonly send: (frame: ClientRequest) => boolean,
  ) {
    this.editor = new MessageEditor(
      {
        place: () => this.state.currentPlace(),
        reader: () => this.reader(),
        send,
        notice: (text) => view.notice(text),
      },
      log,
      composer,
    );
    this.moderation = new ModerationView(
      send,
      (text) => view.notice(text),
      () => this.renderPlace(),
    );
    this.jump = new Jump(view.messages, log, {
      place: (key) => this.state.places.get(key),
      send,
      nodes: (place, entries) => this.entryNodes(place, entries),
      notice: (text) => view.notice(text),
      shown: (place) => {
        this.markStart(place);
        this.markRead(place);
        this.renderPlaces();
      },
    });
    document.addEventListener("visibilitychange", () => {
      const place = this.state.currentPlace();
      if (place) this.markRead(place);
      this.renderPlaces();
    });
  }

  disconnected(): void {
    // Answers to anything asked on the old link will never come.
    this.state.joining.clear();
    this.retries.clear();
    for (const place of this.state.places.values()) {
      place.loadingOlder = false;
      this.typists.clearRoom(place.key);
    }
    this.view.setLoading(false);
    this.apply({ type: "link-down" });
    this.editor.forget();
    this.jump.disconnected();
  }

  handle(frame: ServerFrame): void {
    const { state } = this;
    if (this.moderation.handle(frame)) return;
    switch (frame.action) {
      case "user_info":
        this.identified(frame);
        return;
      case "presence": {
        const room = state.places.get(roomKey(frame.room));
        if (!room) return;
        room.count = frame.count;
        for (const p of frame.joined) {
          room.users.set(p.uid, p.name);
          if (!state.isOwn(p.uid)) this.system(room, ...personName(p.uid, p.name), " joined");
        }
        for (const p of frame.left) {
          room.users.delete(p.uid);
          this.typists.clear(room.key, p.uid);
          if (!state.isOwn(p.uid)) this.system(room, ...personName(p.uid, p.name), " left");
        }
        this.placeChanged(room);
        return;
      }
      case "user_renamed":
        this.renamed(frame.uid, frame.name, frame.previous, frame.room);
        return;
      case "message":
        this.live(state.places.get(roomKey(frame.room)), frame);
        return;
      case "dm": {
        const peer = state.isOwn(frame.uid) ? frame.to : frame.uid;
        const place = this.conversationWith(peer, state.isOwn(frame.uid) ? undefined : frame.name);
        this.live(place, frame);
        return;
      }
      case "edit":
      case "delete":
      case "react":
        this.changed(frame);
        return;
      case "conversation":
        if (!state.places.has(dmKey(frame.with.uid))) this.announce.add(dmKey(frame.with.uid));
        this.conversationWith(frame.with.uid, frame.with.name);
        this.renderPlaces();
        return;
      case "pm":
        this.log.append(state.current ?? NO_ROOM, pmNode(frame), true);
        return;
      case "history": {
        if (this.jump.history(frame)) return;
        const key = frame.with !== undefined ? dmKey(frame.with) : roomKey(frame.room ?? "");
        if (frame.ref === OLDER_REF + key) this.olderHistory(key, frame);
        else this.joinHistory(key, frame);
        return;
      }
      case "users": {
        const room = state.places.get(roomKey(frame.room));
        if (!room) return;
        if (frame.ref !== MORE_USERS_REF + room.key) room.users.clear();
        for (const user of frame.users) room.users.set(user.uid, user.name);
        room.count = frame.count;
        if (frame.next !== undefined && room.users.size < MEMBERS_SHOWN) {
          this.send({ action: "users", room: room.target, after: frame.next, ref: MORE_USERS_REF + room.key });
        }
        this.placeChanged(room);
        return;
      }
      case "typing": {
        if (state.isOwn(frame.uid)) return;
        const key = "room" in frame ? roomKey(frame.room) : dmKey(frame.uid);
        if (state.places.has(key)) this.typists.note(key, frame.uid, frame.name);
        return;
      }
      case "joined":
        // This user joined it on another tab: this one follows.
        if (!state.places.has(roomKey(frame.room))) this.joinRoom(frame.room, false);
        return;
      case "left":
        this.dropPlace(roomKey(frame.room));
        return;
      case "read": {
        const key = frame.with !== undefined ? dmKey(frame.with) : roomKey(frame.room ?? "");
        const place = state.places.get(key);
        if (place && applyRead(place, frame.mid, frame.epoch)) this.renderPlaces();
        return;
      }
      case "ack":
        if (typeof frame.ref === "string") {
          this.apply({ type: "ack", ref: frame.ref });
          this.editor.acked(frame.ref);
        }
        return;
      case "error":
        this.refused(frame);
        return;
    }
  }

  /** Sends what the composer holds: a new message, or the edit of one; the composer is cleared once it went out. */
  submit(): void {
    const text = this.composer.value;
    if (text.trim() === "") return;
    const excess = this.composer.excess();
    if (excess !== null) {
      this.view.notice(
        excess.chars > 0
          ? `Not sent: ${excess.chars} ${excess.chars === 1 ? "character" : "characters"} too long (at most ${excess.limit})`
          : `Not sent: ${excess.bytes} bytes too long (at most ${excess.limit} bytes; emoji and some scripts take several each)`,
      );
      return;
    }
    if (this.composer.editing) {
      this.editor.finishEdit(text);
      return;
    }
    const { refusal, session } = this.apply({ type: "send", text });
    if (refusal === "no-place") this.view.notice("Join a room first");
    else if (refusal === "gone") {
      const title = this.state.currentPlace()?.title ?? "";
      this.view.notice(`Not sent: ${title} is no longer known to the server. Your text stays here.`);
    } else {
      const sent = session.outbox.at(-1);
      // What one sends goes at the live end, which is where the view goes too.
      if (sent && this.jump.open === sent.key) this.jump.back();
      if (sent) this.log.appendPending(sent.key, pendingNode(sent, this.reader()));
      // Whatever is typed next is a new message: others hear of it at once.
      this.typingThrottle.reset();
    }
  }

  /**
   * Takes one step of the session: keeps its drafts, brings the composer
   * and the marks of unsent messages in line, and puts on the wire what it says.
   */
  private apply(input: Input): Step {
    const before = this.session;
    const next = step(before, input, (key) => this.state.places.get(key)?.title ?? before.drafts[key]?.title ?? "");
    const { session } = next;
    this.session = session;
    this.state.current = session.current;
    if (session.drafts !== before.drafts) saveDrafts(session.drafts);
    if (session.outbox !== before.outbox) saveUnsent(SEND_REF, session.outbox);
    if (!this.composer.editing && this.composer.value !== session.composer) this.composer.value = session.composer;
    if (next.settled) this.log.pending(next.settled.key, next.settled.ref)?.remove();
    for (const item of session.outbox) this.showOutgoing(item);
    for (const item of next.transmit) this.transmit(item);
    return next;
  }

  /** Sends an outbox message, with the ref it keeps until acknowledged. */
  private transmit(item: Outgoing): void {
    const { ref, key, text } = item;
    const isDm = key.startsWith(dmKey(""));
    // A room left meanwhile (a room being joined again after a reload is not): the text goes back to its draft.
    if (!isDm && !this.state.places.has(key) && !this.state.joining.has(key)) {
      this.apply({ type: "refused", ref });
      this.view.notice("Not sent: you are no longer in that room. Your text is kept as its draft.");
      return;
    }
    const request: ClientRequest = isDm
      ? { action: "dm", to: key.slice(dmKey("").length), message: text, ref }
      : { action: "message", room: key, message: text, ref };
    // A link that just closed: the close follows, and with it the resend.
    this.send(request);
  }

  private showOutgoing(item: Outgoing): void {
    const node = this.log.pending(item.key, item.ref);
    if (node) showPending(node, item);
  }

  /** Tells the others in the place on screen that the user is writing (not editing, and not an empty box). */
  typed(text: string): void {
    const place = this.state.currentPlace();
    if (!this.composer.editing) this.apply({ type: "type", text });
    if (text.trim() === "") {
      this.typingThrottle.reset();
      return;
    }
    if (!place || this.composer.editing || !this.typingThrottle.ready(place.key, Date.now())) return;
    this.send({ action: "typing", ...where(place) });
  }

  /** The people `@` may complete in the place on screen: the others in the room, or the other member. */
  mentionable(): Mentionable[] {
    const place = this.state.currentPlace();
    if (!place) return [];
    if (place.kind === "dm") return [{ uid: place.target, name: place.title }];
    return [...place.users].filter(([uid]) => !this.state.isOwn(uid)).map(([uid, name]) => ({ uid, name }));
  }

  /**
   * The user opened or closed a phone's list of places. A place asked for earlier (a link's, a
   * room picked before its join was answered) still comes on screen when it arrives, but under
   * the list the user opened since: neither the list nor the keyboard is taken from them.
   */
  togglePanels(): void {
    if (this.view.togglePanels()) this.focusOnJoin = false;
  }

  toggleMute(): void {
    const key = this.state.current;
    if (key === null || this.state.currentPlace()?.kind !== "room") return;
    if (!this.muted.delete(key)) this.muted.add(key);
    saveMuted(this.muted);
    this.renderPlaces();
    this.renderPlace();
  }

  setNick(name: string): void {
    this.nickAsked = true;
    if (!this.send({ action: "nick", name, ref: NICK_REF })) {
      this.nickAsked = false;
      this.view.notice("Not connected");
      this.view.resetNick(this.state.myName);
    }
  }

  /** Whether the room is among the user's places. */
  isIn(room: string): boolean {
    return this.state.places.has(roomKey(room));
  }

  join(name: string): void {
    if (this.isIn(name)) this.switchTo(roomKey(name), true);
    else this.joinRoom(name, true, true);
  }

  leave(key: string): void {
    const place = this.state.places.get(key);
    if (place?.kind !== "room") return;
    // Leaving takes effect here at once; offline, not rejoining it on reconnect is leaving enough.
    this.send({ action: "leave", room: place.target });
    this.dropPlace(key);
    if (this.state.current === null) this.view.roomInput.focus();
    else this.composer.focus();
  }

  /** A room's display name and topic, from the server: shown in the lists and the header. */
  describeRoom(frame: FrameOf<"room">): void {
    const key = roomKey(frame.room);
    // Two nodes' announcements of two changes may come in either order: an older one is not shown. An answer
    // to this page's own request is the room as it is now (a Redis that started over counts from 0 again).
    const announced = frame.ref === undefined && frame.role === undefined;
    if (announced && frame.v < (this.about.get(key)?.v ?? 0)) return;
    this.about.set(key, { name: frame.name, topic: frame.topic, visibility: frame.visibility, v: frame.v });
    this.renderPlaces();
    this.renderPlace();
  }

  /** What the server last said of a room: its name, topic and who may come in; undefined before it said. */
  roomAbout(room: string): { name: string; topic: string; visibility: FrameOf<"room">["visibility"] } | undefined {
    return this.about.get(roomKey(room));
  }

  /** The name a room is shown by: its display name once the server said it, its id until then. */
  roomName(room: string): string {
    return this.about.get(roomKey(room))?.name ?? room;
  }

  /** The id of the room on screen; null for a conversation or nothing. */
  currentRoom(): string | null {
    const place = this.state.currentPlace();
    return place?.kind === "room" ? place.target : null;
  }

  /** This user's id, once the server said it. */
  myUid(): string {
    return this.state.myUid;
  }

  /** Opens the conversation with anyone: a member of a room, someone from the people directory. */
  converse(uid: string, name: string): void {
    if (this.state.isOwn(uid)) return;
    this.switchTo(this.conversationWith(uid, name).key, true);
  }

  /** Opens the conversation with a person of the room on screen. */
  startConversation(uid: string): void {
    const name = this.state.currentPlace()?.users.get(uid);
    if (name === undefined || this.state.isOwn(uid)) return;
    this.switchTo(this.conversationWith(uid, name).key, true);
  }

  /**
   * Puts a place on screen. `focus`: the user asked for the place, so the
   * keyboard moves to the composer and a phone's open list of places closes
   * over it; a place shown by itself (a join answered, the place on screen
   * gone) leaves the list as the user has it.
   */
  switchTo(key: string, focus = false): void {
    const place = this.state.places.get(key);
    if (!place) return;
    // An edit belongs to the place its message is in.
    if (this.composer.editing && this.composer.editing.key !== key) this.composer.endEdit();
    this.composer.mentions.close();
    this.apply({ type: "show", key });
    savePlace(key);
    this.jump.leave();
    // The address names the place on screen: a reload, or the address copied, comes back to it.
    window.history.replaceState(null, "", formatRoute(routeTo(place.kind, place.target)));
    place.readWhenOpened = place.read;
    this.log.show(key);
    this.log.markUnread(key, place.read);
    this.view.setLoading(place.loadingOlder);
    // Only a place the user asked for, and has not opened the list again since (togglePanels), closes it.
    if (focus) this.view.togglePanels(false);
    this.markRead(place);
    this.renderPlaces();
    this.renderPlace();
    this.loadOlderIfAtTop();
    if (focus) this.composer.focus();
  }

  /** Opens what a link names: a room or a conversation, at one of its messages if it names one. */
  open(route: Route): void {
    if (!this.session.online) {
      this.route = route;
      return;
    }
    if (route.kind === "dm" && this.state.isOwn(route.uid)) {
      this.view.notice("That link is to a conversation with yourself");
      return;
    }
    const key = route.kind === "room" ? roomKey(route.room) : dmKey(route.uid);
    // A link opened is where the user wants to be, not the place the last page was left at.
    this.returnTo = null;
    const place = this.state.places.get(key);
    // A place the page lists already (a conversation kept for its draft) keeps its own way of being refused.
    this.linked = { key, mid: route.mid, listed: place !== undefined };
    if (place?.epoch !== undefined) {
      this.switchTo(key, true);
      this.arrived(place);
      return;
    }
    this.showOnJoin = key;
    this.focusOnJoin = true;
    if (route.kind === "dm") this.conversationWith(route.uid, undefined);
    else if (!this.state.joining.has(key)) this.joinRoom(route.room, true, true);
  }

  /** The place a link asked for is on screen: on to its message, if the link names one. */
  private arrived(place: Place): void {
    if (this.linked?.key !== place.key) return;
    const { mid } = this.linked;
    this.linked = null;
    if (mid !== undefined) this.jump.to(place, mid);
  }

  /** The name of the other person of the conversation with `uid`, if the page has it. */
  conversationTitle(uid: string): string | undefined {
    return this.state.places.get(dmKey(uid))?.title;
  }

  /** The address of message `mid` of the place on screen. */
  linkTo(mid: number): string | null {
    const place = this.state.currentPlace();
    return place ? routeUrl(routeTo(place.kind, place.target, mid)) : null;
  }

  /** A link led to a place the server will not open for this user: the chat says so where the place would be. */
  private unreachable(key: string, why: string): void {
    this.linked = null;
    this.showOnJoin = null;
    this.state.joining.delete(key);
    const what = key.startsWith(dmKey("")) ? "this conversation" : `#${key}`;
    this.dropPlace(key);
    this.composer.endEdit();
    this.apply({ type: "show", key: null });
    this.jump.leave();
    this.log.showNote(noteNode(`This link cannot be opened: you cannot read ${what}.`, why));
    this.view.setLoading(false);
    this.renderPlaces();
    this.renderPlace();
  }

  loadOlderIfAtTop(): void {
    const place = this.state.currentPlace();
    if (!place?.more || place.loadingOlder || place.oldestMid <= 1 || !this.log.atTop()) return;
    const sent = this.send({
      action: "history",
      ...where(place),
      before: place.oldestMid,
      limit: PAGE_SIZE,
      ref: OLDER_REF + place.key,
    });
    if (!sent) return;
    place.loadingOlder = true;
    this.view.setLoading(true);
  }

  private reader(): Reader {
    return { uid: this.state.myUid, name: this.state.myName, blocked: this.moderation.blocked };
  }

  /**
   * Every connection starts here: the server says who this user is and where
   * they are, and the page (re)joins all of it, recovering what it missed.
   */
  private identified(info: UserInfo): void {
    const { state } = this;
    state.myUid = info.uid;
    state.myName = info.name;
    if (info.guest !== undefined) saveGuest(info.guest);
    // The name goes first, so the rooms announce us under it rather than as a fresh "User #".
    if (this.chosenNick !== null && this.chosenNick !== info.name) {
      this.send({ action: "nick", name: this.chosenNick, ref: NICK_REF });
    }
    this.view.showNick(this.chosenNick ?? info.name);
    for (const c of info.conversations ?? []) this.conversationWith(c.uid, c.name, false);
    // A conversation with a draft stays listed with it, even one the server no longer has.
    for (const [key, draft] of Object.entries(this.session.drafts)) {
      if (key.startsWith(dmKey(""))) this.conversationWith(key.slice(dmKey("").length), draft.title, false);
    }
    for (const room of info.rooms ?? []) if (!state.places.has(roomKey(room))) this.joinRoom(room, false);
    if (info.limits) {
      this.composer.setLimits(info.limits.maxMessageLength, info.limits.maxMessageBytes);
      this.view.setLimits(info.limits.maxNameLength, info.limits.maxRoomLength);
    }
    const lobby = info.limits?.lobby;
    if (!this.everJoined && lobby !== undefined && state.places.size === 0 && state.joining.size === 0) {
      this.joinRoom(lobby, true);
    }
    this.everJoined = true;
    for (const place of state.places.values()) {
      if (!state.joining.has(place.key)) this.rejoin(place);
    }
    for (const item of this.session.outbox) {
      if (this.adopted.includes(item.ref)) this.log.appendPending(item.key, pendingNode(item, this.reader()));
    }
    this.adopted = [];
    // After the joins on the same link: a message to a room goes to a room this connection is in.
    this.apply({ type: "link-up" });
    this.renderPlaces();
    const route = this.route;
    this.route = null;
    if (route) this.open(route);
  }

  /** Joins a place the page has, from its newest message if it shows any. */
  private rejoin(place: Place): void {
    const ref = JOIN_REF + place.key;
    if (place.epoch === undefined) {
      this.send({ action: "join", ...where(place), ref });
      return;
    }
    this.retries.rejoined(place.key);
    this.send({ action: "join", ...where(place), since: place.lastMid, epoch: place.epoch, ref });
  }

  /** Sends again a join the server refused for now. */
  private joinAgain(key: string): void {
    const place = this.state.places.get(key);
    if (place) this.rejoin(place);
    // Only rooms are waited for without a place: a conversation has its place before its join.
    else if (this.state.joining.has(key)) this.send({ action: "join", room: key, ref: JOIN_REF + key });
  }

  /** The conversation with `uid`, made (and joined, when `join`) if the page has none yet. */
  private conversationWith(uid: string, name: string | undefined, join = true): Place {
    const key = dmKey(uid);
    let place = this.state.places.get(key);
    if (!place) {
      place = newPlace("dm", uid, name ?? "…");
      this.state.places.set(key, place);
      if (join) this.send({ action: "join", with: uid, ref: JOIN_REF + key });
    } else if (name !== undefined && name !== place.title) {
      place.title = name;
      this.renderPlaces();
    }
    return place;
  }

  /** Joins a room; `show` puts it on screen once joined, `focus` then moves the keyboard to the composer. */
  private joinRoom(name: string, show: boolean, focus = false): void {
    const key = roomKey(name);
    if (this.send({ action: "join", room: name, ref: JOIN_REF + key })) {
      this.state.joining.add(key);
      if (show) {
        this.showOnJoin = key;
        this.focusOnJoin = focus;
      }
    } else this.view.notice("Not connected");
  }

  private live(place: Place | undefined, frame: LiveEntry): void {
    if (!place) return;
    const own = this.state.isOwn(frame.uid);
    const reader = this.reader();
    const mentioned = mentionsReader(frame, reader);
    // A local message (the server could not reach its other nodes) has no mid: shown, but it numbers nothing.
    if ("local" in frame) this.log.append(place.key, messageNode(frame, reader, undefined), own);
    else {
      if (this.retries.holds(place.key) || !acceptLive(place, frame, own)) return;
      if (mentioned) place.mentions.add(frame.mid);
      this.log.append(place.key, messageNode(frame, reader, place.changes.of(frame.mid)), own);
      if (place.oldestMid === frame.mid) this.markStart(place);
    }
    this.typists.clear(place.key, frame.uid);
    if (!own && (mentioned || place.kind === "dm")) this.alert(place, frame);
    this.markRead(place);
    this.renderPlaces();
  }

  /** A notification of a message for the user (a mention, a direct message), unless its room is muted. */
  private alert(place: Place, message: { name: string; message: string }): void {
    if (this.muted.has(place.key)) return;
    const title = place.kind === "dm" ? message.name : `${message.name} in #${place.title}`;
    this.attention.notify(place.key, title, message.message.slice(0, NOTIFY_CHARS));
  }

  /** An edit, deletion or reaction as it happens: numbered like a message, shown on the message it changes. */
  private changed(change: StoredChange): void {
    const { state } = this;
    const own = state.isOwn(change.uid);
    const key =
      change.room !== undefined
        ? roomKey(change.room)
        : change.to !== undefined
          ? dmKey(own ? change.to : change.uid)
          : "";
    const place = state.places.get(key);
    if (!place || this.retries.holds(place.key) || !acceptLive(place, change, own)) return;
    place.changes.record(change);
    this.redraw(place, [change.target]);
    this.markRead(place);
    this.renderPlaces();
  }

  /**
   * A page of history as nodes: its messages drawn as they are now, its
   * changes recorded. The changes' messages that were on screen already are
   * to be `redraw`n once the page is in; those not loaded yet wait for it.
   */
  private entryNodes(place: Place, entries: StoredEntry[]): HTMLElement[] {
    const reader = this.reader();
    for (const entry of entries) if (isChange(entry)) place.changes.record(entry);
    const nodes: HTMLElement[] = [];
    for (const entry of entries) {
      if (isChange(entry)) continue;
      if (mentionsReader(entry, reader)) place.mentions.add(entry.mid);
      nodes.push(messageNode(entry, reader, place.changes.of(entry.mid)));
    }
    return nodes;
  }

  /** Draws anew the loaded messages among `targets`, as their changes now have them. */
  private redraw(place: Place, targets: Iterable<number>): void {
    const reader = this.reader();
    for (const target of new Set(targets)) {
      const node = this.log.find(place.key, target);
      const state = place.changes.of(target);
      if (node && state) showChanges(node, state, reader);
    }
  }

  /** Once nothing older is stored, the top of the list says so: the first message ever, or the oldest kept. */
  private markStart(place: Place): void {
    if (place.more || place.oldestMid === 0) return;
    this.log.markStart(
      place.key,
      place.oldestMid <= 1 ? "Start of the conversation" : "Older messages are no longer kept",
    );
  }

  /**
   * Tells every tab how far the place on screen has been read, while the
   * page is visible: all of it when the reader is at the bottom, else only
   * up to the last message that has been in view.
   */
  private markRead(place: Place): void {
    if (place.key !== this.state.current) return;
    this.showUnseen(place);
    if (document.visibilityState !== "visible") return;
    const upTo = readUpTo(place, this.log.atBottom(), this.log.lastSeenMid());
    if (upTo === null || place.epoch === undefined) return;
    place.read = upTo;
    this.send({ action: "read", ...where(place), mid: upTo, epoch: place.epoch });
    this.showUnseen(place);
  }

  private showUnseen(place: Place): void {
    this.view.setUnseen(this.log.atBottom() ? 0 : unread(place), this.jump.open !== null);
  }

  /** The reader scrolled: what came into view is read, and older messages load at the top. */
  scrolled(): void {
    if (this.jump.scrolled()) return;
    this.log.restoreIfAtBottom();
    const place = this.state.currentPlace();
    if (place) {
      const before = place.read;
      this.markRead(place);
      if (place.read !== before) this.renderPlaces();
    }
    this.loadOlderIfAtTop();
  }

  /** Jumps to the newest message of the place on screen, which reads it. */
  jumpToNewest(): void {
    this.jump.back();
    this.log.toBottom();
    this.scrolled();
  }

  private joinHistory(key: string, frame: HistoryFrame): void {
    const { state } = this;
    let place = state.places.get(key);
    const asked = state.joining.delete(key);
    this.retries.settled(key);
    if (!place) {
      if (!asked || frame.room === undefined) return;
      place = newPlace("room", frame.room, frame.room);
      state.places.set(key, place);
    }
    this.apply({ type: "joined", key });
    // The server names a conversation's other person: one opened by a link may have no message to name them by.
    if (place.kind === "dm" && frame.name !== undefined) place.title = frame.name;
    const { gap, epochChanged, entries } = applyJoinHistory(place, frame);
    if (epochChanged) this.log.retire(place.key);
    const batch = document.createDocumentFragment();
    if (gap) batch.append(gapNode());
    batch.append(...this.entryNodes(place, entries));
    this.log.append(place.key, batch);
    this.redraw(place, changedTargets(entries));
    this.markStart(place);
    if (this.announce.delete(key)) this.announceNewest(place, entries);
    const back = this.returnTo === key;
    if (back) this.returnTo = null;
    if (this.showOnJoin === key || state.current === null || back) {
      const focus = this.showOnJoin === key && this.focusOnJoin;
      // Another place's join may come back first: the place asked for is still to be shown when its own does.
      if (this.showOnJoin === key) {
        this.showOnJoin = null;
        this.focusOnJoin = false;
      }
      this.switchTo(key, focus);
      this.arrived(place);
    } else {
      this.markRead(place);
      this.renderPlaces();
    }
  }

  /** Announces the newest message of `entries`, if someone else wrote it and it is unread. */
  private announceNewest(place: Place, entries: StoredEntry[]): void {
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = entries[i];
      if (!entry || isChange(entry)) continue;
      if (!this.state.isOwn(entry.uid) && entry.mid > place.read) this.alert(place, entry);
      return;
    }
  }

  /** The list let go of a place's oldest messages: scrolling up loads them again, from `oldestMid` down. */
  olderDropped(key: string, oldestMid: number): void {
    this.jump.trimmed(key, oldestMid);
    const place = this.state.places.get(key);
    if (!place || oldestMid === 0) return;
    place.oldestMid = oldestMid;
    place.more = true;
  }

  private olderHistory(key: string, frame: HistoryFrame): void {
    const place = this.state.places.get(key);
    if (!place) return;
    const entries = applyOlderHistory(place, frame);
    this.log.prepend(key, this.entryNodes(place, entries));
    this.redraw(place, changedTargets(entries));
    this.markStart(place);
    if (key !== this.state.current) return;
    this.view.setLoading(false);
    // A short page may still not fill the list, and then there is nothing to scroll up with.
    this.loadOlderIfAtTop();
  }

  private refused(frame: Extract<ServerFrame, { action: "error" }>): void {
    const ref = typeof frame.ref === "string" ? frame.ref : "";
    const { settled } = this.apply({ type: "refused", ref });
    if (settled) {
      this.view.notice(`Not sent: ${frame.message}`, { label: "Retry", run: () => this.retry(settled) });
      return;
    }
    if (this.editor.refused(ref, frame.message)) return;
    if (this.jump.refused(ref, frame.code, frame.message)) return;
    const joining = ref.startsWith(JOIN_REF) ? ref.slice(JOIN_REF.length) : null;
    if (joining !== null && frame.code === "unavailable") {
      if (this.retries.refused(joining) === 1) {
        const place = this.state.places.get(joining);
        const what = place?.kind === "dm" ? `The conversation with ${place.title}` : `#${place?.title ?? joining}`;
        this.view.notice(`${what} cannot be loaded right now; trying again.`);
      }
      return;
    }
    if (joining !== null) this.retries.settled(joining);
    if (joining !== null && this.linked?.key === joining && !this.linked.listed) {
      this.unreachable(joining, frame.message);
      return;
    }
    // A refused name does not stay in the box as if it were taken.
    if (ref === NICK_REF) {
      this.nickAsked = false;
      if (this.chosenNick !== null && this.chosenNick !== this.state.myName) this.chosenNick = null;
      this.view.resetNick(this.state.myName);
    }
    if (ref.startsWith(JOIN_REF) && frame.code === "no_such_user") {
      this.forgotten(ref.slice(JOIN_REF.length));
      return;
    }
    this.view.notice(frame.message);
    if (ref.startsWith(OLDER_REF)) {
      const place = this.state.places.get(ref.slice(OLDER_REF.length));
      if (place) place.loadingOlder = false;
      this.view.setLoading(false);
    } else if (joining !== null) {
      // A room or person that cannot be joined is not kept in the lists, nor waited for to be shown.
      const key = ref.slice(JOIN_REF.length);
      this.state.joining.delete(key);
      if (this.showOnJoin === key) this.showOnJoin = null;
      this.dropPlace(key);
    }
  }

  /**
   * The server does not know the other person of a conversation (it forgot
   * its guests on a restart). The conversation stays, with its draft, and
   * says so: switching the view away would carry the draft elsewhere.
   */
  private forgotten(key: string): void {
    this.state.joining.delete(key);
    const place = this.state.places.get(key);
    if (place?.kind !== "dm" || this.session.gone.has(key)) return;
    this.apply({ type: "unknown-person", key });
    this.system(place, `${place.title} is no longer known to the server. Nothing can be sent here; your draft stays.`);
    this.renderPlaces();
    this.placeChanged(place);
  }

  /** Sends a refused message again, with its ref; the composer and draft let go of its text if they still hold it. */
  private retry(item: Outgoing): void {
    if (!this.state.places.has(item.key)) return;
    this.switchTo(item.key, true);
    const again = this.apply({ type: "retry", message: item }).session.outbox.at(-1);
    if (again) this.log.appendPending(again.key, pendingNode(again, this.reader()));
  }

  private renamed(uid: string, name: string, previous: string, roomName: string | undefined): void {
    const own = this.state.isOwn(uid);
    if (own) {
      this.state.myName = name;
      // A `nick` (this page's, or another tab's of a user who chose a name) is the user's choice; a guest
      // who chose none may be drawn another name where it enters a room, which stays unchosen.
      if (this.nickAsked || this.chosenNick !== null) {
        this.chosenNick = name;
        saveNick(name);
      }
      this.nickAsked = false;
      this.view.showNick(name);
    }
    const conversation = this.state.places.get(dmKey(uid));
    if (conversation) {
      conversation.title = name;
      this.renderPlaces();
      this.placeChanged(conversation);
    }
    const room = roomName === undefined ? undefined : this.state.places.get(roomKey(roomName));
    if (!room) return;
    room.users.set(uid, name);
    if (name !== previous)
      this.system(room, own ? `You are now known as ${name}` : `${previous} is now known as ${name}`);
    this.placeChanged(room);
  }

  /** The page lets go of a place and of all it kept of it: its messages, and a room's name, topic, role and rules. */
  private dropPlace(key: string): void {
    const { state } = this;
    const place = state.places.get(key);
    if (!place) return;
    state.places.delete(key);
    if (place.kind === "room") {
      this.about.delete(key);
      this.moderation.forget(place.target);
    }
    this.log.drop(key);
    this.typists.clearRoom(key);
    if (state.current !== key) {
      this.renderPlaces();
      return;
    }
    // Off screen before anything else shows: its draft stays its own.
    this.composer.endEdit();
    this.apply({ type: "show", key: null });
    const next = state.rooms()[0] ?? state.conversations()[0];
    if (next) {
      this.switchTo(next.key);
      return;
    }
    this.log.show(NO_ROOM);
    this.view.setLoading(false);
    this.renderPlaces();
    this.renderPlace();
  }

  private system(place: Place, ...parts: (Node | string)[]): void {
    this.log.append(place.key, sysNode(...parts));
  }

  /** Re-renders what shows a place's people, if that place is on screen. */
  private placeChanged(place: Place): void {
    if (place.key === this.state.current) this.renderPlace();
  }

  private renderPlaces(): void {
    const { state } = this;
    const item = (place: Place) => {
      const onScreen = place.key === state.current && document.visibilityState === "visible" && this.log.atBottom();
      return {
        key: place.key,
        title: place.kind === "room" ? this.roomName(place.target) : place.title,
        unread: onScreen ? 0 : unread(place),
        mentions: onScreen ? 0 : unreadMentions(place),
        muted: this.muted.has(place.key),
        active: place.key === state.current,
        gone: this.session.gone.has(place.key),
        person: place.kind === "room" ? undefined : place.target,
      };
    };
    const rooms = state.rooms().map(item);
    const conversations = state.conversations().map(item);
    this.view.renderPlaces(rooms, conversations);
    const all = [...rooms, ...conversations];
    // A muted room keeps its count to itself; a mention of the user gets through all the same.
    const loud = all.filter((p) => !p.muted);
    this.view.setPanelsBadge(loud.reduce((n, p) => n + (p.active ? 0 : p.unread), 0));
    this.attention.showCounts(
      loud.reduce((n, p) => n + p.unread, 0),
      all.reduce((n, p) => n + p.mentions, 0),
    );
  }

  private renderPlace(): void {
    const place = this.state.currentPlace();
    const { myUid } = this.state;
    if (place?.kind === "dm") {
      this.view.renderHead(
        place.title,
        this.session.gone.has(place.key) ? "no longer known to the server" : "direct messages",
        null,
        place.target,
      );
      this.view.setTopic("");
      // Who is online is not told outside rooms: the conversation's two people are listed, without it.
      const two: UserItem[] = [
        { uid: place.target, name: place.title, me: false, direct: false, tag: undefined },
        { uid: myUid, name: this.state.myName, me: true, direct: false, tag: undefined },
      ];
      this.view.renderUsers("In this conversation", two);
      this.moderation.show(null);
      this.renderTyping();
      return;
    }
    const users = [...(place?.users ?? [])]
      .map(([uid, name]): UserItem => ({ uid, name, me: uid === myUid, direct: uid !== myUid, tag: undefined }))
      .sort((a, b) => a.name.localeCompare(b.name));
    // Two people may carry one name (the same name in two tokens): each then shows a tag of its id.
    const counts = new Map<string, number>();
    for (const u of users) counts.set(u.name.toLowerCase(), (counts.get(u.name.toLowerCase()) ?? 0) + 1);
    for (const u of users) if ((counts.get(u.name.toLowerCase()) ?? 0) > 1) u.tag = `#${u.uid.slice(-4)}`;
    const count = Math.max(place?.count ?? 0, users.length);
    this.view.setTopic(place ? (this.about.get(place.key)?.topic ?? "") : "");
    this.view.renderHead(
      place ? `#${this.roomName(place.target)}` : null,
      place ? `${count} online` : "",
      place ? this.muted.has(place.key) : null,
    );
    this.view.renderUsers("Online", users, count - users.length, (uid, name) =>
      this.moderation.userControls(uid, name),
    );
    this.moderation.show(place?.kind === "room" ? place.target : null);
    this.renderTyping();
  }

  private renderTyping(): void {
    const key = this.state.current;
    this.view.setTyping(key === null ? [] : typingLine(this.typists.typists(key)));
  }
}
