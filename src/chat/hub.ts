import type { Logger } from "pino";
import {
  type Broker,
  type BrokerHandler,
  BrokerUnavailable,
  type HistoryPage,
  type HistoryQuery,
} from "../bus/broker.js";
import type { Envelope, NodeMessage } from "../bus/envelope.js";
import { nodeOf } from "../ids/connection-id.js";
import type { Member, Presence, PresenceHandler } from "../presence/presence.js";
import { RequestError } from "../protocol/errors.js";
import type { Ref } from "../protocol/requests.js";
import * as frames from "./frames.js";
import { LocalRooms, type Recipient } from "./local-rooms.js";
import type { Meter } from "./meter.js";

/**
 * The node's one way to the other nodes: sessions ask the hub, and the hub
 * owns the broker and presence. It keeps this node's connections and rooms
 * (LocalRooms), and it alone decides what happens while the other nodes are
 * out of reach: frames still reach this node's members.
 */
export class Hub implements BrokerHandler, PresenceHandler {
  private readonly local = new Map<string, Recipient>();
  private readonly rooms: LocalRooms;

  constructor(
    private readonly broker: Broker,
    private readonly presence: Presence,
    private readonly log: Logger,
    maxRoomsHere: number,
    meter: Meter,
  ) {
    this.rooms = new LocalRooms(broker, maxRoomsHere, meter);
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

  /** A new connection of this node: from now on it can be sent private messages. */
  async register(r: Recipient): Promise<void> {
    this.local.set(r.id, r);
    await this.presence.connect(r);
  }

  async unregister(r: Recipient): Promise<void> {
    this.local.delete(r.id);
    await this.presence.disconnect(r.id);
  }

  isMember(room: string, r: Recipient): boolean {
    return this.rooms.has(room, r);
  }

  /**
   * Makes `r` a member of a room and tells the others there. A `holding`
   * member is written nothing until release(): it is about to be sent the
   * room's history, and must get what arrives meanwhile after it, once.
   */
  async enter(room: string, r: Recipient, holding: boolean): Promise<void> {
    await this.rooms.add(room, r, holding);
    await this.presence.add(room, r);
    await this.publish(room, frames.userJoin(room, r), r.id);
  }

  /** A member is about to be sent the room's history again (a rejoin). */
  hold(room: string, r: Recipient): void {
    this.rooms.hold(room, r);
  }

  /** The member was sent the room's history up to `top`; what arrived meanwhile follows, less that. */
  release(room: string, r: Recipient, top: number): void {
    this.rooms.release(room, r, top);
  }

  async exit(room: string, r: Recipient): Promise<void> {
    await this.rooms.remove(room, r);
    await this.presence.remove(room, r.id);
    await this.publish(room, frames.userLeft(room, r));
  }

  /** `r` (already renamed) was called `previous`: every list it is on, and each of `rooms`, learn the new name. */
  async renamed(r: Recipient, previous: string, rooms: Iterable<string>): Promise<void> {
    await this.presence.connect(r);
    for (const room of rooms) {
      await this.presence.add(room, r);
      await this.publish(room, frames.userRenamed(room, r, previous));
    }
  }

  history(room: string, query: HistoryQuery): Promise<HistoryPage> {
    return this.broker.history(room, query);
  }

  /** Who is in a room, on every node. */
  members(room: string): Promise<Member[]> {
    return this.presence.list(room);
  }

  /** Publishes an unstored frame; while the other nodes are out of reach, this node's members still get it. */
  async publish(room: string, json: string, exclude?: string): Promise<void> {
    try {
      await this.broker.publish(room, json, exclude);
    } catch (err) {
      if (!(err instanceof BrokerUnavailable)) throw err;
      this.rooms.deliver(room, { json, exclude });
    }
  }

  /**
   * Stores and publishes a chat message; resolves with its mid. While the
   * other nodes are out of reach, this node's members get it unnumbered and
   * the sender is refused with `unavailable`.
   */
  async publishMessage(room: string, from: Member, text: string, idempotencyKey: string | undefined): Promise<number> {
    const fields = { room, message: text, id: from.id, name: from.name, ts: Date.now() };
    try {
      return await this.broker.publishStored(room, frames.chatMessage(fields), idempotencyKey);
    } catch (err) {
      if (!(err instanceof BrokerUnavailable)) throw err;
      this.rooms.deliver(room, { json: frames.localMessage(fields) });
      throw new RequestError(
        "unavailable",
        "the other nodes are out of reach: only users on this server got your message, and it may not have " +
          "been stored; send it again with the same ref to store it at most once",
      );
    }
  }

  /**
   * A private message: `pm` to the target, on whatever node holds it, then
   * `pm_sent` to the sender, who is on this node. It crosses to the other
   * node once; presence says who the target is.
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
    if (here) here.send(json);
    else if (!(await this.broker.sendToNode(node, { to: targetId, json }))) throw offline;
    from.send(frames.pm("pm_sent", target, text, from, ts, ref));
  }

  private async findElsewhere(id: string): Promise<Member | undefined> {
    if (!this.broker.isUp()) throw new BrokerUnavailable();
    try {
      return await this.presence.find(id);
    } catch {
      throw new BrokerUnavailable();
    }
  }

  onRoom(room: string, envelope: Envelope): void {
    this.rooms.deliver(room, envelope);
  }

  onNode(message: NodeMessage): void {
    this.local.get(message.to)?.send(message.json);
  }

  /** Tells local members the room's mids start over, as an empty, unrecovered history of the new epoch. */
  onHistoryReset(room: string, epoch: string): void {
    this.rooms.historyReset(room, () => {
      this.log.warn({ room, epoch }, "a room's history started over");
      return frames.history({ room, epoch, recovered: false, more: false, ref: undefined }, frames.historyMessages([]));
    });
  }

  onGone(room: string, members: Member[]): void {
    for (const m of members) {
      this.publish(room, frames.userLeft(room, m)).catch((err: unknown) => {
        this.log.warn({ err, room }, "could not announce that a dead node's user left");
      });
    }
  }

  async close(): Promise<void> {
    await this.presence.close();
    await this.broker.close();
  }
}
