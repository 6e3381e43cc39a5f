import type { Logger } from "pino";
import {
  type Broker,
  type BrokerHandler,
  BrokerUnavailable,
  type ChangeOf,
  type HistoryPage,
  type HistoryQuery,
  isOutage,
  type StoredAt,
} from "../bus/broker.js";
import type { Envelope, LeftReason, NodeMessage } from "../bus/envelope.js";
import { nodeOf } from "../ids/connection-id.js";
import type { Connection, ListedUser, Presence, PresenceHandler, UserPage } from "../presence/presence.js";
import { RequestError } from "../protocol/errors.js";
import type { Person } from "../protocol/frames.js";
import type { Ref } from "../protocol/requests.js";
import { isConversation } from "./conversations.js";
import * as frames from "./frames.js";
import { LocalRooms, type Recipient } from "./local-rooms.js";
import type { Meter } from "./meter.js";
import { PresenceBatches } from "./presence-batches.js";
import { TickShared } from "./tick-shared.js";

export interface HubSettings {
  /** Rooms with a member on this node, at most (MAX_ROOMS_PER_NODE). */
  maxRoomsHere: number;
  /** Users in a room from which presence is counted, not announced (PRESENCE_BIG_ROOM). */
  bigRoom: number;
}

const UNAVAILABLE_MESSAGE =
  "the chat is partly out of reach: only people connected to this server saw your message, and it may " +
  "not have been saved; try sending it again in a moment";

/**
 * The node's one way to the other nodes: sessions ask the hub, and the hub
 * owns the broker and presence. It keeps this node's connections (by
 * connection and by user) and rooms (LocalRooms), coalesces presence into
 * one frame per room per step (PresenceBatches), and it alone decides what
 * happens while the other nodes are out of reach: frames still reach this
 * node's members.
 */
export class Hub implements BrokerHandler, PresenceHandler {
  private readonly local = new Map<string, Recipient>();
  /** A user's connections here: the one, or a Set of several (a Set per user would be some 150 bytes each). */
  private readonly byUser = new Map<string, Recipient | Set<Recipient>>();
  private readonly rooms: LocalRooms;
  private readonly batches: PresenceBatches;
  private readonly historyReads = new TickShared<HistoryPage>();
  private rulesWatcher: { changed(room: string): void; forget(room: string): void } | undefined;

  constructor(
    private readonly broker: Broker,
    private readonly presence: Presence,
    private readonly log: Logger,
    settings: HubSettings,
    meter: Meter,
  ) {
    this.rooms = new LocalRooms(broker, settings.maxRoomsHere, meter);
    this.batches = new PresenceBatches(settings.bigRoom, (room, joined, left, count, partial) => {
      // A big room's count, sent only as a count, is read again as it goes out: every node
      // publishes its own, and the last one a member hears should be the newest there is.
      const counted: Promise<{ count: number; partial?: true }> =
        joined.length + left.length > 0
          ? Promise.resolve(partial ? { count, partial } : { count })
          : this.presence.list(room, 0).then(
              (page) => page,
              () => ({ count, partial: true }),
            );
      counted
        .then((now) =>
          this.publish(room, { json: frames.presence(room, joined, left, now.count, now.partial), kind: "presence" }),
        )
        .catch((err: unknown) => {
          this.log.warn({ err, room }, "could not publish a room's presence");
        });
    });
  }

  async start(): Promise<void> {
    await this.broker.start(this);
    await this.presence.start(this);
  }

  get nodeId(): string {
    return this.broker.nodeId;
  }

  /** Rooms with a member on this node. */
  get roomCount(): number {
    return this.rooms.count;
  }

  isUp(): boolean {
    return this.broker.isUp();
  }

  /** A new connection of this node: from now on it can be found, and sent what is for its user. */
  async register(r: Recipient): Promise<void> {
    this.local.set(r.id, r);
    const mine = this.byUser.get(r.uid);
    if (mine === undefined) this.byUser.set(r.uid, r);
    else if (mine instanceof Set) mine.add(r);
    else if (mine !== r) this.byUser.set(r.uid, new Set([mine, r]));
    await this.presence.connect(r);
  }

  async unregister(r: Recipient): Promise<void> {
    this.local.delete(r.id);
    const mine = this.byUser.get(r.uid);
    if (mine === r) this.byUser.delete(r.uid);
    else if (mine instanceof Set && mine.delete(r) && mine.size === 1) {
      for (const last of mine) this.byUser.set(r.uid, last);
    }
    await this.presence.disconnect(r);
  }

  /** The user's connections on this node. */
  private connectionsOf(uid: string): Iterable<Recipient> {
    const mine = this.byUser.get(uid);
    if (mine === undefined) return [];
    return mine instanceof Set ? mine : [mine];
  }

  isMember(room: string, r: Recipient): boolean {
    return this.rooms.has(room, r);
  }

  /**
   * Makes `r` a member of a room and, if its user was not there, tells the
   * others. A `holding` member is written nothing until release(): it is
   * about to be sent the room's history, and must get what arrives meanwhile
   * after it, once. Resolves with who is in the room when it holds at most
   * `listUpTo` users and presence could list them in the same step.
   */
  async enter(room: string, r: Recipient, holding: boolean, listUpTo = 0): Promise<UserPage | undefined> {
    await this.rooms.add(room, r, holding);
    const entered = await this.presence.enter(room, r, listUpTo);
    if (entered.taken) {
      await this.rooms.remove(room, r);
      throw new RequestError("name_taken", `someone in '${room}' is already called ${r.name}: choose another name`);
    }
    if (entered.first) this.batches.joined(room, r, entered.count, entered.partial);
    return entered.users && { users: entered.users, count: entered.count };
  }

  /** Makes `r` receive a conversation's messages: a room nobody is announced in. */
  async openConversation(conversation: string, r: Recipient, holding: boolean): Promise<void> {
    await this.rooms.add(conversation, r, holding);
  }

  /** A member is about to be sent the room's history again (a rejoin). */
  hold(room: string, r: Recipient): void {
    this.rooms.hold(room, r);
  }

  /** The member was sent the room's history up to `top`; what arrived meanwhile follows, less that. */
  release(room: string, r: Recipient, top: number): void {
    this.rooms.release(room, r, top);
  }

  /**
   * Takes `r` out of a room. If it was its user's last connection there, the
   * user leaves after `graceMs` unless a connection comes back: none for a
   * `leave`, PRESENCE_GRACE for a connection that closed.
   */
  async exit(room: string, r: Recipient, graceMs: number): Promise<void> {
    await this.rooms.remove(room, r);
    await this.presence.exit(room, r, graceMs);
  }

  async closeConversation(conversation: string, r: Recipient): Promise<void> {
    await this.rooms.remove(conversation, r);
  }

  /**
   * `r` (already renamed) was called `previous`: those of `rooms` its user is
   * in now, and its user's other connections, learn the new name. Refused
   * (`name_taken`), with nothing changed, when another user in one of them has it.
   */
  async renamed(r: Recipient, previous: string, rooms: Iterable<string>): Promise<void> {
    const renamed = await this.presence.rename([...rooms], r);
    if (renamed.taken !== undefined) {
      throw new RequestError("name_taken", `someone in '${renamed.taken}' is already called that`);
    }
    for (const other of this.connectionsOf(r.uid)) if (other !== r) other.renamed(r.name);
    await this.presence.connect(r);
    await Promise.all(renamed.rooms.map((room) => this.publish(room, { json: frames.userRenamed(room, r, previous) })));
    await this.toNodesOf(r.uid, { kind: "renamed", uid: r.uid, name: r.name });
  }

  /**
   * Ends the user's connections on every node, those of one sign-in session
   * when it is given. Each node holding one is told over the bus, so it
   * takes as long as a message does, not a poll.
   */
  async endUser(uid: string, session: string | undefined, code: number, reason: string): Promise<void> {
    this.endHere(uid, session, code, reason);
    await this.toNodesOf(uid, { kind: "end", uid, session, code, reason });
  }

  /**
   * Sends a frame about a user (their new profile) to everyone who shares a
   * room with them now, to `partners` (those they have a conversation with,
   * in a room with them or not), and to their own connections, on every
   * node: each node holding one of their connections publishes it to the
   * rooms that connection is in, and each partner's connections get it
   * wherever they are.
   */
  async aroundUser(uid: string, json: string, partners: Iterable<string>): Promise<void> {
    const others = [...new Set(partners)].filter((other) => other !== uid);
    await Promise.all([
      this.aroundHere(uid, json),
      this.toNodesOf(uid, { kind: "around", uid, json }),
      ...others.map((other) => this.toUser(other, json)),
    ]);
  }

  private async aroundHere(uid: string, json: string): Promise<void> {
    const rooms = new Set<string>();
    for (const r of this.connectionsOf(uid)) for (const room of this.rooms.roomsOf(r)) rooms.add(room);
    this.deliverToUser(uid, json, undefined);
    await Promise.all([...rooms].map((room) => this.publish(room, { json })));
  }

  private endHere(uid: string, session: string | undefined, code: number, reason: string): void {
    for (const r of [...this.connectionsOf(uid)]) {
      if (session === undefined || r.signIn === session) r.close?.(code, reason);
    }
  }

  /** The name of a user connected now, here or on another node; undefined when it is not, or cannot be asked. */
  async connectedName(uid: string): Promise<string | undefined> {
    for (const r of this.connectionsOf(uid)) return r.name;
    return (await this.presence.findUser(uid).catch(() => undefined))?.name;
  }

  /** The kept users with a connection on this node. */
  *keptUsersHere(): Iterable<string> {
    for (const uid of this.byUser.keys()) {
      for (const r of this.connectionsOf(uid)) {
        if (r.kept) {
          yield uid;
          break;
        }
      }
    }
  }

  /** A page of a room's history; the same query asked again within one turn (a room's joiners) is read once. */
  history(room: string, query: HistoryQuery): Promise<HistoryPage> {
    const key = `${room}\n${query.since}\n${query.epoch}\n${query.before}\n${query.limit}`;
    return this.historyReads.get(key, () => this.broker.history(room, query));
  }

  /** A page of who is in a room, on every node. */
  members(room: string, limit: number, after?: string): Promise<UserPage> {
    return this.presence.list(room, limit, after);
  }

  /** Publishes an unstored frame; while the other nodes are out of reach, this node's members still get it. */
  async publish(room: string, envelope: Envelope): Promise<void> {
    try {
      await this.broker.publish(room, envelope);
    } catch (err) {
      if (!(err instanceof BrokerUnavailable)) throw err;
      this.rooms.deliver(room, envelope);
    }
  }

  /**
   * Stores and publishes a chat message; resolves with its mid and epoch. While the
   * other nodes are out of reach, this node's members get it unnumbered and
   * the sender is refused with `unavailable`.
   */
  publishMessage(room: string, from: Person, text: string, idempotencyKey: string | undefined): Promise<StoredAt> {
    const fields = { room, message: text, id: from.id, uid: from.uid, name: from.name, ts: Date.now() };
    return this.store(room, frames.chatMessage(fields), () => frames.localMessage(fields), idempotencyKey);
  }

  /** Stores and publishes a direct message in a conversation; as publishMessage. */
  publishDm(
    conversation: string,
    from: Person,
    to: string,
    text: string,
    idempotencyKey: string | undefined,
  ): Promise<StoredAt> {
    const fields = { id: from.id, uid: from.uid, name: from.name, to, message: text, ts: Date.now() };
    return this.store(conversation, frames.dm(fields), () => frames.localDm(fields), idempotencyKey);
  }

  /**
   * Stores and publishes a change to a stored message (an edit, a deletion, a
   * reaction). Unlike a message it is never shown locally while the other
   * nodes are out of reach: a change nobody else can see would only mislead.
   */
  publishChange(
    room: string,
    change: Parameters<Broker["publishStored"]>[1],
    idempotencyKey: string | undefined,
    of: ChangeOf,
  ) {
    return this.store(room, change, undefined, idempotencyKey, of);
  }

  private async store(
    room: string,
    stored: Parameters<Broker["publishStored"]>[1],
    /** The frame this node's members get while the others are out of reach: made only then, not for every message. */
    local: (() => string) | undefined,
    idempotencyKey: string | undefined,
    of?: ChangeOf,
  ): Promise<StoredAt> {
    try {
      return await this.broker.publishStored(room, stored, idempotencyKey, of);
    } catch (err) {
      if (!(err instanceof BrokerUnavailable)) throw err;
      if (local !== undefined) this.rooms.deliver(room, { json: local() });
      throw new RequestError("unavailable", UNAVAILABLE_MESSAGE);
    }
  }

  /**
   * Sends a frame to every `proto=2` connection of a user, on every node,
   * but those in `unlessIn`; `except` is a connection here that already knows.
   */
  async toUser(uid: string, json: string, options: { unlessIn?: string; except?: Recipient } = {}): Promise<void> {
    const { unlessIn, except } = options;
    this.deliverToUser(uid, json, unlessIn, except);
    await this.toNodesOf(uid, { kind: "user", uid, json, unlessIn });
  }

  /** The user left a room: their connections on every node leave it too, and are told. */
  async leftEverywhere(uid: string, room: string, except: Recipient): Promise<void> {
    await this.leaveHere(uid, room, except);
    await this.toNodesOf(uid, { kind: "leave", uid, room });
  }

  /** A moderator took the user out of a room: their connections on every node leave it, told why. */
  async takeOut(uid: string, room: string, reason: LeftReason): Promise<void> {
    await this.leaveHere(uid, room, undefined, reason);
    await this.toNodesOf(uid, { kind: "leave", uid, room, reason });
  }

  /** The user's block list changed: their connections on every node take it. */
  async blocksChanged(uid: string, users: { uid: string; name: string }[]): Promise<void> {
    for (const r of this.connectionsOf(uid)) r.blocksChanged?.(users);
    await this.toNodesOf(uid, { kind: "blocks", uid, users });
  }

  /**
   * A private message (the original protocol's): `pm` to the target
   * connection, on whatever node holds it, then `pm_sent` to the sender, who
   * is on this node. It crosses to the other node once; presence says who
   * the target is. A target whose user blocked the sender is not sent it,
   * and the sender is not told: `pm_sent` goes back as ever.
   */
  async sendPm(from: Recipient, targetId: string, text: string, ref: Ref): Promise<void> {
    const node = nodeOf(targetId);
    const offline = new RequestError("offline", "that user is not connected");
    if (node === undefined) throw offline;
    const here = node === this.nodeId ? this.local.get(targetId) : undefined;
    const target = node === this.nodeId ? here : await this.findElsewhere(targetId);
    if (!target) throw offline;
    const ts = Date.now();
    const json = frames.pm("pm", target, text, from, ts, undefined);
    if (here) deliverPm(here, from.uid, json);
    else if (!(await this.broker.sendToNode(node, { kind: "conn", to: targetId, json, from: from.uid }))) throw offline;
    from.send(frames.pm("pm_sent", target, text, from, ts, ref));
  }

  private async findElsewhere(id: string): Promise<Connection | undefined> {
    if (!this.broker.isUp()) throw new BrokerUnavailable();
    try {
      return await this.presence.find(id);
    } catch (err) {
      // A bug is no outage: the request is refused as `internal`, and logged as an error.
      if (!this.outOfReach(err)) throw err;
      this.log.warn({ err, conn: id }, "could not look up a connection on the other nodes");
      throw new BrokerUnavailable();
    }
  }

  /** A failure because the other nodes are out of reach now, not a bug. */
  private outOfReach(err: unknown): boolean {
    return isOutage(err) || !this.broker.isUp();
  }

  /** Sends a node message to every other node holding a connection of the user. */
  private async toNodesOf(uid: string, message: NodeMessage): Promise<void> {
    let nodes: string[];
    try {
      nodes = await this.presence.nodesOf(uid);
    } catch (err) {
      if (!this.outOfReach(err)) throw err;
      // Their connections of this user catch up when they next join; the operator sees what they missed.
      this.log.warn({ err, uid, kind: message.kind }, "could not tell a user's other nodes: they are out of reach");
      return;
    }
    await Promise.all(
      nodes.map((node) =>
        this.broker.sendToNode(node, message).catch((err: unknown) => {
          this.log.warn({ err, node }, "could not reach another node about a user");
        }),
      ),
    );
  }

  private deliverToUser(uid: string, json: string, unlessIn: string | undefined, except?: Recipient): void {
    for (const r of this.connectionsOf(uid)) {
      if (r === except || r.proto !== 2 || (unlessIn !== undefined && this.rooms.has(unlessIn, r))) continue;
      r.send(json);
    }
  }

  private async leaveHere(uid: string, room: string, except?: Recipient, reason?: LeftReason): Promise<void> {
    for (const r of [...this.connectionsOf(uid)]) {
      if (r === except || !this.rooms.has(room, r)) continue;
      await this.exit(room, r, 0);
      r.left(room, reason);
    }
  }

  /**
   * Watches rooms' rules: told when a room's change (`rules`), and when no
   * connection here is in a room any more, so that nothing cached for it goes stale.
   */
  watchRules(watcher: { changed(room: string): void; forget(room: string): void }): void {
    this.rulesWatcher = watcher;
    this.rooms.emptied = (room) => watcher.forget(room);
  }

  /**
   * Tells every node a room's rules changed, and its `proto=2` members what
   * it is now (`json`: its `room` frame, or its `room_rules` for its moderation).
   */
  async announceRules(room: string, json: string): Promise<void> {
    this.rulesWatcher?.changed(room);
    await this.publish(room, { json, kind: "rules" });
  }

  onRoom(room: string, envelope: Envelope): void {
    if (envelope.kind === "rules") this.rulesWatcher?.changed(room);
    this.rooms.deliver(room, envelope);
  }

  onNode(message: NodeMessage): void {
    switch (message.kind) {
      case "conn":
        deliverPm(this.local.get(message.to), message.from, message.json);
        return;
      case "user":
        this.deliverToUser(message.uid, message.json, message.unlessIn);
        return;
      case "leave":
        void this.leaveHere(message.uid, message.room, undefined, message.reason).catch((err: unknown) => {
          this.log.warn({ err, room: message.room }, "could not take a user's connection out of a room");
        });
        return;
      case "blocks":
        for (const r of this.connectionsOf(message.uid)) r.blocksChanged?.(message.users);
        return;
      case "renamed":
        for (const r of this.connectionsOf(message.uid)) r.renamed(message.name);
        return;
      case "end":
        this.endHere(message.uid, message.session, message.code, message.reason);
        return;
      case "around":
        void this.aroundHere(message.uid, message.json).catch((err: unknown) => {
          this.log.warn({ err, uid: message.uid }, "could not send a frame to a user's rooms");
        });
        return;
    }
  }

  /** Tells local members the room's mids start over, as an empty, unrecovered history of the new epoch. */
  onHistoryReset(room: string, epoch: string): void {
    this.log.warn({ room, epoch }, "a room's history started over");
    const empty = frames.historyMessages([]);
    const fields = { epoch, recovered: false, more: false, top: 0, read: 0, ref: undefined };
    // Room names are the same for all; one frame serves them.
    const forRoom = frames.history({ ...fields, room }, empty);
    this.rooms.historyReset(room, (member) => {
      if (!isConversation(room)) return forRoom;
      return frames.history({ ...fields, with: member.peerIn(room) }, empty);
    });
  }

  onGone(room: string, users: ListedUser[], count: number): void {
    for (const who of users) this.batches.left(room, who, count);
  }

  onBack(room: string, users: ListedUser[], count: number): void {
    for (const who of users) this.batches.joined(room, who, count);
  }

  async stop(): Promise<void> {
    await this.presence.close();
    await this.broker.close();
  }
}

/** A private message reaches its connection unless that connection's user blocked its sender (`from`). */
function deliverPm(target: Recipient | undefined, from: string | undefined, json: string): void {
  if (target && (from === undefined || target.blocked?.has(from) !== true)) target.send(json);
}
