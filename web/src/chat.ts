/**
 * The chat as the user sees it, driven by server frames and user actions.
 * One class past 250 lines because each of its methods is one reaction of
 * the page (a frame arrives, a place is switched, older history comes in)
 * over the same state; the state's rules live in state.ts, the drawing in
 * view.ts and message-list.ts.
 */
import { gapNode, type MessageList, messageNode, NO_ROOM, pmNode, sysNode } from "./message-list";
import type { ClientRequest, HistoryFrame, LiveEntry, ServerFrame, UserInfo } from "./protocol";
import {
  acceptLive,
  applyJoinHistory,
  applyOlderHistory,
  applyRead,
  ClientState,
  dmKey,
  newPlace,
  type Place,
  roomKey,
  unread,
} from "./state";
import { loadNick, saveGuest, saveNick } from "./storage";
import { TypingThrottle, TypingTracker, typingText } from "./typing";
import type { View } from "./view";

const FIRST_ROOM = "lobby";
const PAGE_SIZE = 50;
const TYPING_SEND_MS = 2000;
const TYPING_SHOW_MS = 3000;
/** A big room's member list is fetched a page at a time; past this many the list says "and N more". */
const MEMBERS_SHOWN = 500;
const OLDER_REF = "older:";
const MORE_USERS_REF = "more-users:";
const JOIN_REF = "join:";
const SEND_REF = "send:";

interface Pending {
  key: string;
  text: string;
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
  private everJoined = false;
  /** The room the user asked for by hand: shown once the server confirms it. */
  private showOnJoin: string | null = null;
  /** Sends not yet acknowledged, by ref: a refusal puts the text back for another try. */
  private readonly pending = new Map<string, Pending>();
  private sends = 0;

  constructor(
    private readonly view: View,
    private readonly log: MessageList,
    private readonly send: (frame: ClientRequest) => boolean,
  ) {
    document.addEventListener("visibilitychange", () => {
      const place = this.state.currentPlace();
      if (place) this.markRead(place);
    });
  }

  disconnected(): void {
    // Answers to anything asked on the old link will never come.
    this.state.joining.clear();
    for (const place of this.state.places.values()) {
      place.loadingOlder = false;
      this.typists.clearRoom(place.key);
    }
    this.view.setLoading(false);
    // Whether these were stored is unknown: the text goes back to the user rather than be lost or sent twice.
    for (const [ref, pending] of this.pending) this.failed(ref, pending, "Not sent: the connection dropped");
  }

  handle(frame: ServerFrame): void {
    const { state } = this;
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
          if (!state.isOwn(p.uid)) this.system(room, `${p.name} joined`);
        }
        for (const p of frame.left) {
          room.users.delete(p.uid);
          this.typists.clear(room.key, p.uid);
          if (!state.isOwn(p.uid)) this.system(room, `${p.name} left`);
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
      case "conversation":
        this.conversationWith(frame.with.uid, frame.with.name);
        this.renderPlaces();
        return;
      case "pm":
        this.log.append(state.current ?? NO_ROOM, pmNode(frame), true);
        return;
      case "history": {
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
        if (typeof frame.ref === "string") this.pending.delete(frame.ref);
        return;
      case "error":
        this.refused(frame);
        return;
    }
  }

  /** Sends the composer's text; true when it went out and the composer may be cleared. */
  submit(text: string): boolean {
    if (text.trim() === "") return false;
    const place = this.state.currentPlace();
    if (!place) {
      this.view.notice("Join a room first");
      return false;
    }
    const ref = `${SEND_REF}${++this.sends}`;
    const request: ClientRequest =
      place.kind === "room"
        ? { action: "message", room: place.target, message: text, ref }
        : { action: "dm", to: place.target, message: text, ref };
    if (!this.send(request)) {
      this.view.notice("Not connected: your message is still in the box");
      return false;
    }
    this.pending.set(ref, { key: place.key, text });
    return true;
  }

  typed(text: string): void {
    const place = this.state.currentPlace();
    if (!place || text.trim() === "" || !this.typingThrottle.ready(place.key, Date.now())) return;
    this.send(
      place.kind === "room" ? { action: "typing", room: place.target } : { action: "typing", with: place.target },
    );
  }

  setNick(name: string): void {
    if (!this.send({ action: "nick", name })) this.view.notice("Not connected");
  }

  join(name: string): void {
    if (this.state.places.has(roomKey(name))) this.switchTo(roomKey(name));
    else this.joinRoom(name, true);
  }

  leave(key: string): void {
    const place = this.state.places.get(key);
    if (place?.kind !== "room") return;
    // Leaving takes effect here at once; offline, not rejoining it on reconnect is leaving enough.
    this.send({ action: "leave", room: place.target });
    this.dropPlace(key);
  }

  /** Opens the conversation with a person of the room on screen. */
  startConversation(uid: string): void {
    const name = this.state.currentPlace()?.users.get(uid);
    if (name === undefined || this.state.isOwn(uid)) return;
    this.switchTo(this.conversationWith(uid, name).key);
    this.view.text.focus();
  }

  switchTo(key: string): void {
    const place = this.state.places.get(key);
    if (!place) return;
    this.state.current = key;
    place.readWhenOpened = place.read;
    this.log.show(key);
    this.log.markUnread(key, place.read);
    this.view.setLoading(place.loadingOlder);
    this.view.togglePanels(false);
    this.markRead(place);
    this.renderPlaces();
    this.renderPlace();
    this.loadOlderIfAtTop();
  }

  loadOlderIfAtTop(): void {
    const place = this.state.currentPlace();
    if (!place?.more || place.loadingOlder || place.oldestMid <= 1 || !this.log.atTop()) return;
    const where = place.kind === "room" ? { room: place.target } : { with: place.target };
    const sent = this.send({
      action: "history",
      ...where,
      before: place.oldestMid,
      limit: PAGE_SIZE,
      ref: OLDER_REF + place.key,
    });
    if (!sent) return;
    place.loadingOlder = true;
    this.view.setLoading(true);
  }

  /** Sends again what was refused; the composer is cleared if it still holds that text. */
  retry(key: string, text: string): void {
    this.switchTo(key);
    if (this.submit(text) && this.view.text.value === text) this.view.text.value = "";
  }

  /**
   * Every connection starts here: the server says who this user is and where
   * they are, and the page (re)joins all of it, recovering what it missed.
   */
  private identified(info: UserInfo): void {
    const { state } = this;
    state.myUid = info.uid;
    if (info.guest !== undefined) saveGuest(info.guest);
    // The name goes first, so the rooms announce us under it rather than as a fresh "User #".
    if (this.chosenNick !== null && this.chosenNick !== info.name) this.send({ action: "nick", name: this.chosenNick });
    this.view.showNick(this.chosenNick ?? info.name);
    for (const c of info.conversations ?? []) this.conversationWith(c.uid, c.name, false);
    for (const room of info.rooms ?? []) if (!state.places.has(roomKey(room))) this.joinRoom(room, false);
    if (!this.everJoined && state.places.size === 0 && state.joining.size === 0) this.joinRoom(FIRST_ROOM, true);
    this.everJoined = true;
    for (const place of state.places.values()) {
      if (state.joining.has(place.key)) continue;
      const where = place.kind === "room" ? { room: place.target } : { with: place.target };
      const since = place.epoch === undefined ? {} : { since: place.lastMid, epoch: place.epoch };
      this.send({ action: "join", ...where, ...since, ref: JOIN_REF + place.key });
    }
    this.renderPlaces();
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

  private joinRoom(name: string, show: boolean): void {
    const key = roomKey(name);
    if (this.send({ action: "join", room: name, ref: JOIN_REF + key })) {
      this.state.joining.add(key);
      if (show) this.showOnJoin = key;
    } else this.view.notice("Not connected");
  }

  private live(place: Place | undefined, frame: LiveEntry): void {
    if (!place) return;
    const own = this.state.isOwn(frame.uid);
    // A local message (the server could not reach its other nodes) has no mid: shown, but it numbers nothing.
    if (!("local" in frame) && !acceptLive(place, frame, own)) return;
    this.log.append(place.key, messageNode(frame, own), own);
    this.typists.clear(place.key, frame.uid);
    if (place.key === this.state.current) this.markRead(place);
    else this.renderPlaces();
  }

  /** Tells every tab that the place on screen has been read, while the page is visible. */
  private markRead(place: Place): void {
    if (document.visibilityState !== "visible" || place.key !== this.state.current) return;
    if (place.epoch === undefined || place.lastMid <= place.read) return;
    place.read = place.lastMid;
    const where = place.kind === "room" ? { room: place.target } : { with: place.target };
    this.send({ action: "read", ...where, mid: place.lastMid, epoch: place.epoch });
    this.renderPlaces();
  }

  private joinHistory(key: string, frame: HistoryFrame): void {
    const { state } = this;
    let place = state.places.get(key);
    const asked = state.joining.delete(key);
    if (!place) {
      if (!asked || frame.room === undefined) return;
      place = newPlace("room", frame.room, frame.room);
      state.places.set(key, place);
    }
    const { gap, messages } = applyJoinHistory(place, frame);
    const batch = document.createDocumentFragment();
    if (gap) batch.append(gapNode());
    for (const message of messages) batch.append(messageNode(message, state.isOwn(message.uid)));
    this.log.append(place.key, batch);
    if (this.showOnJoin === key || state.current === null) {
      this.showOnJoin = null;
      this.switchTo(key);
    } else {
      if (key === state.current) this.markRead(place);
      this.renderPlaces();
    }
  }

  private olderHistory(key: string, frame: HistoryFrame): void {
    const place = this.state.places.get(key);
    if (!place) return;
    const messages = applyOlderHistory(place, frame);
    this.log.prepend(
      key,
      messages.map((m) => messageNode(m, this.state.isOwn(m.uid))),
    );
    if (key !== this.state.current) return;
    this.view.setLoading(false);
    // A short page may still not fill the list, and then there is nothing to scroll up with.
    this.loadOlderIfAtTop();
  }

  private refused(frame: Extract<ServerFrame, { action: "error" }>): void {
    const ref = typeof frame.ref === "string" ? frame.ref : "";
    const pending = this.pending.get(ref);
    if (pending) {
      this.failed(ref, pending, `Not sent: ${frame.message}`);
      return;
    }
    this.view.notice(frame.message);
    if (ref.startsWith(OLDER_REF)) {
      const place = this.state.places.get(ref.slice(OLDER_REF.length));
      if (place) place.loadingOlder = false;
      this.view.setLoading(false);
    } else if (ref.startsWith(JOIN_REF) && frame.code !== "unavailable") {
      // A room or person that cannot be joined is not kept in the lists.
      this.state.joining.delete(ref.slice(JOIN_REF.length));
      this.dropPlace(ref.slice(JOIN_REF.length));
    }
  }

  /** A send that did not make it: its text goes back into an empty composer, and the notice offers a retry. */
  private failed(ref: string, pending: Pending, why: string): void {
    this.pending.delete(ref);
    if (this.view.text.value === "" && pending.key === this.state.current) this.view.text.value = pending.text;
    this.view.notice(why, { label: "Retry", run: () => this.retry(pending.key, pending.text) });
  }

  private renamed(uid: string, name: string, previous: string, roomName: string | undefined): void {
    const own = this.state.isOwn(uid);
    if (own) {
      // Only this user's own `nick` renames it, so the name the server settled on is the user's choice.
      this.chosenNick = name;
      saveNick(name);
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

  private dropPlace(key: string): void {
    const { state } = this;
    if (!state.places.delete(key)) return;
    this.log.drop(key);
    this.typists.clearRoom(key);
    if (state.current !== key) {
      this.renderPlaces();
      return;
    }
    const next = state.rooms()[0] ?? state.conversations()[0];
    if (next) {
      this.switchTo(next.key);
      return;
    }
    state.current = null;
    this.log.show(NO_ROOM);
    this.view.setLoading(false);
    this.renderPlaces();
    this.renderPlace();
  }

  private system(place: Place, text: string): void {
    this.log.append(place.key, sysNode(text));
  }

  /** Re-renders what shows a place's people, if that place is on screen. */
  private placeChanged(place: Place): void {
    if (place.key === this.state.current) this.renderPlace();
  }

  private renderPlaces(): void {
    const { state } = this;
    const item = (place: Place) => ({
      key: place.key,
      title: place.title,
      unread: place.key === state.current && document.visibilityState === "visible" ? 0 : unread(place),
      active: place.key === state.current,
    });
    const rooms = state.rooms().map(item);
    const conversations = state.conversations().map(item);
    this.view.renderPlaces(rooms, conversations);
    this.view.setPanelsBadge([...rooms, ...conversations].reduce((n, p) => n + (p.active ? 0 : p.unread), 0));
  }

  private renderPlace(): void {
    const place = this.state.currentPlace();
    const { myUid } = this.state;
    if (place?.kind === "dm") {
      this.view.renderHead(place.title, "direct messages");
      this.view.renderUsers([]);
      this.renderTyping();
      return;
    }
    const users = [...(place?.users ?? [])]
      .map(([uid, name]) => ({ uid, name, me: uid === myUid, tag: undefined as string | undefined }))
      .sort((a, b) => a.name.localeCompare(b.name));
    // Two people may carry one name (the same name in two tokens): each then shows a tag of its id.
    const counts = new Map<string, number>();
    for (const u of users) counts.set(u.name.toLowerCase(), (counts.get(u.name.toLowerCase()) ?? 0) + 1);
    for (const u of users) if ((counts.get(u.name.toLowerCase()) ?? 0) > 1) u.tag = `#${u.uid.slice(-4)}`;
    const count = Math.max(place?.count ?? 0, users.length);
    this.view.renderHead(place ? `#${place.title}` : null, place ? `${count} online` : "");
    this.view.renderUsers(users, count - users.length);
    this.renderTyping();
  }

  private renderTyping(): void {
    const key = this.state.current;
    this.view.setTyping(key === null ? "" : typingText(this.typists.names(key)));
  }
}
