/**
 * The chat as the user sees it, driven by server frames and user actions.
 * One class past 250 lines because each of its methods is one reaction of
 * the page (a frame arrives, a room is switched, older history comes in)
 * over the same state; the state's rules live in state.ts, the drawing in
 * view.ts and message-list.ts.
 */
import { gapNode, type MessageList, messageNode, NO_ROOM, pmNode, sysNode } from "./message-list";
import type { ClientRequest, HistoryFrame, ServerFrame } from "./protocol";
import { acceptLive, applyJoinHistory, applyOlderHistory, ClientState, newRoom, type Room } from "./state";
import { loadNick, saveNick } from "./storage";
import { TypingThrottle, TypingTracker, typingText } from "./typing";
import type { View } from "./view";

const FIRST_ROOM = "lobby";
const PAGE_SIZE = 50;
const TYPING_SEND_MS = 2000;
const TYPING_SHOW_MS = 3000;
const OLDER_REF = "older:";

/** The chat itself: turns server frames and user actions into state, requests and view updates. */
export class Chat {
  private readonly state = new ClientState();
  private readonly typists = new TypingTracker(TYPING_SHOW_MS, (room) => {
    if (room === this.state.current) this.renderTyping();
  });
  private readonly typingThrottle = new TypingThrottle(TYPING_SEND_MS);
  private pmTarget: { id: string; name: string } | null = null;
  /** The name the user picked, replayed on every connection; null while they keep the assigned one. */
  private chosenNick = loadNick();
  private connectedBefore = false;

  constructor(
    private readonly view: View,
    private readonly log: MessageList,
    private readonly send: (frame: ClientRequest) => boolean,
  ) {}

  connected(): void {
    // The name goes first, so the rooms announce us under it rather than as a fresh "User #".
    if (this.chosenNick) this.send({ action: "nick", name: this.chosenNick });
    if (!this.connectedBefore) {
      this.connectedBefore = true;
      this.joinRoom(FIRST_ROOM);
    }
    for (const room of this.state.rooms.values()) {
      this.send(
        room.epoch === undefined
          ? { action: "join", room: room.name }
          : { action: "join", room: room.name, since: room.lastMid, epoch: room.epoch },
      );
    }
  }

  disconnected(): void {
    // Answers to anything asked on the old link will never come.
    this.state.joining.clear();
    for (const room of this.state.rooms.values()) {
      room.loadingOlder = false;
      this.typists.clearRoom(room.name);
    }
    this.view.setLoading(false);
  }

  handle(frame: ServerFrame): void {
    const { state } = this;
    switch (frame.action) {
      case "user_info":
        state.identify(frame.id);
        this.view.showNick(this.chosenNick ?? frame.name);
        return;
      case "user_join": {
        const room = state.rooms.get(frame.room);
        if (!room) return;
        room.users.set(frame.id, frame.name);
        this.system(room, `${frame.name} joined`);
        this.roomChanged(room);
        return;
      }
      case "user_left": {
        const room = state.rooms.get(frame.room);
        if (!room) return;
        room.users.delete(frame.id);
        this.typists.clear(room.name, frame.id);
        // The leaver may be this page's previous connection, timing out after a reconnect.
        if (!state.isOwn(frame.id)) this.system(room, `${frame.name} left`);
        this.roomChanged(room);
        return;
      }
      case "user_renamed":
        this.renamed(frame.id, frame.name, frame.previous, frame.room);
        return;
      case "message": {
        const room = state.rooms.get(frame.room);
        if (!room) return;
        // A local message (the server could not reach its other nodes) has no mid: shown, but it numbers nothing.
        if (!("local" in frame) && !acceptLive(room, frame)) return;
        const own = state.isOwn(frame.id);
        this.log.append(room.name, messageNode(frame, own), own);
        this.typists.clear(room.name, frame.id);
        if (room.name !== state.current && !own) {
          room.unread += 1;
          this.renderRooms();
        }
        return;
      }
      case "pm":
      case "pm_sent":
        this.log.append(state.current ?? NO_ROOM, pmNode(frame, frame.action === "pm_sent"), true);
        return;
      case "history":
        if (frame.ref === OLDER_REF + frame.room) this.olderHistory(frame);
        else this.joinHistory(frame);
        return;
      case "users": {
        const room = state.rooms.get(frame.room);
        if (!room) return;
        room.users.clear();
        for (const user of frame.users) room.users.set(user.id, user.name);
        this.roomChanged(room);
        return;
      }
      case "typing":
        if (state.rooms.has(frame.room) && !state.isOwn(frame.id)) this.typists.note(frame.room, frame.id, frame.name);
        return;
      case "left":
        this.dropRoom(frame.room);
        return;
      case "error":
        this.view.notice(frame.message);
        if (typeof frame.ref === "string" && frame.ref.startsWith(OLDER_REF)) {
          const room = state.rooms.get(frame.ref.slice(OLDER_REF.length));
          if (room) room.loadingOlder = false;
          this.view.setLoading(false);
        }
        return;
    }
  }

  /** Sends the composer's text; true when it went out and the input may be cleared. */
  submit(text: string): boolean {
    if (text.trim() === "") return false;
    const room = this.state.current;
    const sent = this.pmTarget
      ? this.send({ action: "pm", target: { id: this.pmTarget.id }, message: text })
      : room !== null && this.send({ action: "message", room, message: text });
    if (!sent) this.view.notice(room === null && !this.pmTarget ? "Join a room first" : "Not connected");
    return sent;
  }

  typed(text: string): void {
    const room = this.state.current;
    // A private message is nobody else's business, so it sends no room-wide typing.
    if (room === null || this.pmTarget || text.trim() === "") return;
    if (this.typingThrottle.ready(room, Date.now())) this.send({ action: "typing", room });
  }

  setNick(name: string): void {
    if (!this.send({ action: "nick", name })) this.view.notice("Not connected");
  }

  join(name: string): void {
    if (this.state.rooms.has(name)) this.switchTo(name);
    else this.joinRoom(name);
  }

  leave(name: string): void {
    // Leaving takes effect here at once; offline, not rejoining it on reconnect is leaving enough.
    this.send({ action: "leave", room: name });
    this.dropRoom(name);
  }

  switchTo(name: string): void {
    const room = this.state.rooms.get(name);
    if (!room) return;
    this.state.current = name;
    room.unread = 0;
    this.log.show(name);
    this.view.setLoading(room.loadingOlder);
    this.view.togglePanels(false);
    this.renderRooms();
    this.renderRoom();
    this.loadOlderIfAtTop();
  }

  startPm(id: string): void {
    const name = this.state.currentRoom()?.users.get(id);
    if (name === undefined || this.state.isOwn(id)) return;
    this.pmTarget = { id, name };
    this.view.setPmTarget(name);
    this.view.togglePanels(false);
    this.view.text.focus();
  }

  cancelPm(): void {
    this.pmTarget = null;
    this.view.setPmTarget(null);
  }

  loadOlderIfAtTop(): void {
    const room = this.state.currentRoom();
    if (!room?.more || room.loadingOlder || room.oldestMid <= 1 || !this.log.atTop()) return;
    const sent = this.send({
      action: "history",
      room: room.name,
      before: room.oldestMid,
      limit: PAGE_SIZE,
      ref: OLDER_REF + room.name,
    });
    if (!sent) return;
    room.loadingOlder = true;
    this.view.setLoading(true);
  }

  private joinRoom(name: string): void {
    if (this.send({ action: "join", room: name })) this.state.joining.add(name);
    else this.view.notice("Not connected");
  }

  private joinHistory(frame: HistoryFrame): void {
    const { state } = this;
    let room = state.rooms.get(frame.room);
    const asked = state.joining.delete(frame.room);
    if (!room) {
      if (!asked) return;
      room = newRoom(frame.room);
      state.rooms.set(room.name, room);
    }
    const replay = frame.recovered !== undefined;
    const { gap, messages } = applyJoinHistory(room, frame);
    const batch = document.createDocumentFragment();
    if (gap) batch.append(gapNode());
    for (const message of messages) batch.append(messageNode(message, state.isOwn(message.id)));
    this.log.append(room.name, batch);
    // What a reconnect replays arrived while we were away: unread, unless ours.
    if (replay && room.name !== state.current) {
      room.unread += messages.filter((m) => !state.isOwn(m.id)).length;
    }
    if (asked || state.current === null) this.switchTo(room.name);
    else this.renderRooms();
  }

  private olderHistory(frame: HistoryFrame): void {
    const room = this.state.rooms.get(frame.room);
    if (!room) return;
    const messages = applyOlderHistory(room, frame);
    this.log.prepend(
      room.name,
      messages.map((m) => messageNode(m, this.state.isOwn(m.id))),
    );
    if (room.name !== this.state.current) return;
    this.view.setLoading(false);
    // A short page may still not fill the list, and then there is nothing to scroll up with.
    this.loadOlderIfAtTop();
  }

  private renamed(id: string, name: string, previous: string, roomName: string | undefined): void {
    const own = id === this.state.myId;
    if (own) {
      // Only our own `nick` renames this connection, so the name the server settled on is the user's choice.
      this.chosenNick = name;
      saveNick(name);
      this.view.showNick(name);
    }
    if (this.pmTarget?.id === id) {
      this.pmTarget.name = name;
      this.view.setPmTarget(name);
    }
    const room = roomName === undefined ? undefined : this.state.rooms.get(roomName);
    if (!room) return;
    room.users.set(id, name);
    if (name !== previous)
      this.system(room, own ? `You are now known as ${name}` : `${previous} is now known as ${name}`);
    this.roomChanged(room);
  }

  private dropRoom(name: string): void {
    const { state } = this;
    if (!state.rooms.delete(name)) return;
    this.log.drop(name);
    this.typists.clearRoom(name);
    if (state.current !== name) {
      this.renderRooms();
      return;
    }
    const next = state.rooms.keys().next();
    if (!next.done) {
      this.switchTo(next.value);
      return;
    }
    state.current = null;
    this.log.show(NO_ROOM);
    this.view.setLoading(false);
    this.renderRooms();
    this.renderRoom();
  }

  private system(room: Room, text: string): void {
    this.log.append(room.name, sysNode(text));
  }

  /** Re-renders what shows a room's members, if that room is on screen. */
  private roomChanged(room: Room): void {
    if (room.name === this.state.current) this.renderRoom();
  }

  private renderRooms(): void {
    this.view.renderRooms(
      [...this.state.rooms.values()].map((room) => ({
        name: room.name,
        unread: room.unread,
        active: room.name === this.state.current,
      })),
    );
  }

  private renderRoom(): void {
    const room = this.state.currentRoom();
    const { myId } = this.state;
    // Earlier connections of this page linger in the list until the server notices they are gone.
    const users = [...(room?.users ?? [])]
      .filter(([id]) => id === myId || !this.state.isOwn(id))
      .map(([id, name]) => ({ id, name, me: id === myId, tag: undefined as string | undefined }))
      .sort((a, b) => a.name.localeCompare(b.name));
    // Two people may carry one name (guests, or the same name in two tokens): each then shows a tag of its id.
    const counts = new Map<string, number>();
    for (const u of users) counts.set(u.name.toLowerCase(), (counts.get(u.name.toLowerCase()) ?? 0) + 1);
    for (const u of users) if ((counts.get(u.name.toLowerCase()) ?? 0) > 1) u.tag = `#${u.id.slice(-4)}`;
    this.view.renderHead(room?.name ?? null, users.length);
    this.view.renderUsers(users);
    this.renderTyping();
  }

  private renderTyping(): void {
    const room = this.state.current;
    this.view.setTyping(room === null ? "" : typingText(this.typists.names(room)));
  }
}
