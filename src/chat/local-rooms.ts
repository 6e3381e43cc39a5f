import type { Broker } from "../bus/broker.js";
import type { Envelope } from "../bus/envelope.js";
import { MidGate } from "../bus/mid-gate.js";
import { RequestError } from "../protocol/errors.js";
import { OutFrame } from "../transport/out-frame.js";
import type { Meter } from "./meter.js";

/** What the hub needs of a connection. */
export interface Recipient {
  readonly id: string;
  readonly name: string;
  /** Writes a frame encoded once for all its recipients. */
  write(frame: OutFrame): void;
  send(json: string): void;
}

/** A publication as it waits for a member still being sent the room's history. */
interface Delivery {
  mid?: number;
  frame: OutFrame;
}

/**
 * This node's rooms: who is in each here, and one broker subscription per
 * room with a member here (never one per member). Each publication is
 * encoded once and the same frame written to every member here. A member
 * still being sent the room's history gets what arrived meanwhile afterwards,
 * less what that history held: each member has a MidGate.
 */
export class LocalRooms {
  private readonly rooms = new Map<string, Map<Recipient, MidGate<Delivery>>>();
  private readonly subscribed = new Set<string>();
  private readonly roomOps = new Map<string, Promise<void>>();

  constructor(
    private readonly broker: Broker,
    private readonly maxRooms: number,
    private readonly meter: Meter,
  ) {}

  get count(): number {
    return this.rooms.size;
  }

  has(room: string, r: Recipient): boolean {
    return this.rooms.get(room)?.has(r) ?? false;
  }

  /**
   * Adds a member; resolves once the room's publications reach this node.
   * A `holding` member is written nothing until release().
   */
  async add(room: string, r: Recipient, holding: boolean): Promise<void> {
    let members = this.rooms.get(room);
    if (!members) {
      if (this.rooms.size >= this.maxRooms) {
        throw new RequestError("too_many_rooms", "this server holds as many rooms as it can; try again later");
      }
      members = new Map();
      this.rooms.set(room, members);
    }
    const gate = new MidGate<Delivery>();
    if (holding) gate.hold();
    members.set(r, gate);
    try {
      await this.reconcile(room);
    } catch (err) {
      this.drop(room, r);
      void this.reconcile(room).catch(() => undefined);
      throw err;
    }
  }

  /** Writes nothing more to a member until release(): its history is about to be read again. */
  hold(room: string, r: Recipient): void {
    this.rooms.get(room)?.get(r)?.hold();
  }

  /** Ends a hold: the member had the room's history up to `top`, and now gets what is newer. */
  release(room: string, r: Recipient, top: number): void {
    const gate = this.rooms.get(room)?.get(r);
    if (!gate) return;
    gate.last = Math.max(gate.last, top);
    for (const d of gate.release()) {
      if (gate.admit(d)) this.writeTo(r, d.frame);
    }
  }

  async remove(room: string, r: Recipient): Promise<void> {
    if (this.drop(room, r)) await this.reconcile(room);
  }

  deliver(room: string, envelope: Envelope): void {
    const members = this.rooms.get(room);
    if (!members) return;
    const frame = new OutFrame(envelope.json);
    const delivery: Delivery = { mid: envelope.mid, frame };
    for (const [member, gate] of members) {
      if (member.id === envelope.exclude || gate.keep(delivery)) continue;
      if (gate.admit(delivery)) this.writeTo(member, frame);
    }
  }

  /** The room's mids start over: members are told (`frame`) and their gates reset. */
  historyReset(room: string, frame: () => OutFrame): void {
    const members = this.rooms.get(room);
    if (!members) return;
    const out = frame();
    for (const [member, gate] of members) {
      gate.last = 0;
      member.write(out);
    }
  }

  private writeTo(member: Recipient, frame: OutFrame): void {
    member.write(frame);
    this.meter.stats.deliveries++;
  }

  private drop(room: string, r: Recipient): boolean {
    const members = this.rooms.get(room);
    if (!members?.delete(r)) return false;
    if (members.size === 0) this.rooms.delete(room);
    return true;
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
