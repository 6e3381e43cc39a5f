import type { Logger } from "pino";
import { type Broker, type BrokerHandler, BrokerUnavailable, type Envelope, type NodeMessage } from "../bus/broker.js";
import { OutFrame } from "../transport/out-frame.js";
import * as frames from "./frames.js";
import { RequestError } from "./protocol.js";

/** What the hub needs of a connection's session. */
export interface Recipient {
  readonly id: string;
  readonly name: string;
  /** Takes a room publication (encoded once for all recipients); a session still loading history holds it back. */
  receive(room: string, envelope: Envelope, frame: OutFrame): void;
  send(frame: string): void;
  /** The room's history started over; `frame` tells the client so. */
  restart(room: string, frame: OutFrame): void;
}

/** The node id is the part of a connection id before its first dot. */
export function nodeOf(connectionId: string): string | undefined {
  const dot = connectionId.indexOf(".");
  return dot > 0 ? connectionId.slice(0, dot) : undefined;
}

/**
 * This process's connections and rooms. It holds one broker subscription per
 * room with a local member (never one per user) and fans each publication out
 * to the local members, writing the same string to each.
 */
export class Hub implements BrokerHandler {
  private readonly local = new Map<string, Recipient>();
  private readonly rooms = new Map<string, Set<Recipient>>();
  private readonly subscribed = new Set<string>();
  private readonly roomOps = new Map<string, Promise<void>>();

  constructor(
    private readonly broker: Broker,
    private readonly log: Logger,
    private readonly maxRooms: number,
  ) {}

  get nodeId(): string {
    return this.broker.nodeId;
  }

  get roomCount(): number {
    return this.rooms.size;
  }

  register(r: Recipient): void {
    this.local.set(r.id, r);
  }

  unregister(r: Recipient): void {
    this.local.delete(r.id);
  }

  /** Adds a local member; resolves once the room's publications reach this node. */
  async enter(room: string, r: Recipient): Promise<void> {
    let members = this.rooms.get(room);
    if (!members) {
      if (this.rooms.size >= this.maxRooms) {
        throw new RequestError("too_many_rooms", "this server holds as many rooms as it can; try again later");
      }
      members = new Set();
      this.rooms.set(room, members);
    }
    members.add(r);
    await this.reconcile(room);
  }

  async exit(room: string, r: Recipient): Promise<void> {
    const members = this.rooms.get(room);
    if (!members?.delete(r)) return;
    if (members.size === 0) this.rooms.delete(room);
    await this.reconcile(room);
  }

  /** Publishes an unstored frame; while the other nodes are out of reach, this node's members still get it. */
  async publish(room: string, frame: string, exclude?: string): Promise<void> {
    try {
      await this.broker.publish(room, frame, exclude);
    } catch (err) {
      if (!(err instanceof BrokerUnavailable)) throw err;
      this.onRoom(room, { frame, exclude });
    }
  }

  /** Delivers to this node's members of a room only. */
  deliverLocally(room: string, frame: string): void {
    this.onRoom(room, { frame });
  }

  onRoom(room: string, envelope: Envelope): void {
    const members = this.rooms.get(room);
    if (!members) return;
    const frame = new OutFrame(envelope.frame);
    for (const m of members) {
      if (m.id !== envelope.exclude) m.receive(room, envelope, frame);
    }
  }

  onNode(message: NodeMessage): void {
    const target = this.local.get(message.to);
    if (message.t === "frame") {
      target?.send(message.frame);
      return;
    }
    if (!target) {
      void this.route(message.from.id, frames.error("offline", "that user is not connected", message.ref));
      return;
    }
    target.send(frames.pm("pm", target, message.message, message.from, message.ts, undefined));
    void this.route(
      message.from.id,
      frames.pm("pm_sent", target, message.message, message.from, message.ts, message.ref),
    );
  }

  /** Tells local members the room's mids start over, as an empty, unrecovered history of the new epoch. */
  onReset(room: string, epoch: string): void {
    const members = this.rooms.get(room);
    if (!members) return;
    this.log.warn({ room, epoch }, "a room's history started over");
    const frame = frames.history(
      { room, epoch, recovered: false, more: false, ref: undefined },
      frames.historyMessages([]),
    );
    for (const m of members) m.restart(room, frame);
  }

  /** Hands a private message to the target's node; false when that node is gone. */
  async sendPm(message: Extract<NodeMessage, { t: "pm" }>): Promise<boolean> {
    const node = nodeOf(message.to);
    if (node === undefined) return false;
    if (node === this.nodeId) {
      this.onNode(message);
      return true;
    }
    return this.broker.sendToNode(node, message);
  }

  /** Sends a frame to one connection on whichever node holds it. */
  async route(connectionId: string, frame: string): Promise<void> {
    const node = nodeOf(connectionId);
    if (node === this.nodeId) {
      this.local.get(connectionId)?.send(frame);
      return;
    }
    if (node === undefined) return;
    try {
      await this.broker.sendToNode(node, { t: "frame", to: connectionId, frame });
    } catch (err) {
      this.log.warn({ err, to: connectionId }, "could not route a frame to another node");
    }
  }

  /**
   * Brings the broker subscription in line with membership. Operations on one
   * room run one after another so a quick leave-then-join can't end unsubscribed.
   */
  private reconcile(room: string): Promise<void> {
    const previous = this.roomOps.get(room) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(async () => {
        const wanted = this.rooms.has(room);
        if (wanted && !this.subscribed.has(room)) {
          await this.broker.subscribe(room);
          this.subscribed.add(room);
        } else if (!wanted && this.subscribed.has(room)) {
          this.subscribed.delete(room);
          await this.broker.unsubscribe(room);
        }
      });
    this.roomOps.set(room, next);
    void next
      .finally(() => {
        if (this.roomOps.get(room) === next) this.roomOps.delete(room);
      })
      .catch(() => undefined);
    return next;
  }
}
