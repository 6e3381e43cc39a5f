import type { Broker } from "../bus/broker.js";
import type { Envelope, LeftReason } from "../bus/envelope.js";
import { MidGate } from "../bus/mid-gate.js";
import type { Entrant } from "../presence/presence.js";
import { RequestError } from "../protocol/errors.js";
import type { FrameOf } from "../protocol/frames.js";
import { OutFrame } from "../transport/out-frame.js";
import { isConversation } from "./conversations.js";
import * as frames from "./frames.js";
import type { Meter } from "./meter.js";

/** What the hub needs of a connection. */
export interface Recipient extends Entrant {
  /** 2 for a client that reads coalesced `presence` and the other `proto=2` frames. */
  readonly proto: 1 | 2;
  /** Its user can come back as itself (a token, or a `proto=2` guest). */
  readonly persistent: boolean;
  /** Its user is kept in the store: a token's, or a guest that has done something worth keeping. */
  readonly kept: boolean;
  /** Writes a frame encoded once for all its recipients. */
  write(frame: OutFrame): void;
  send(json: string): void;
  /** The hub took it out of a room: its user left the room on another connection, or a moderator took them out. */
  left(room: string, reason?: LeftReason): void;
  /** The users its user blocked: their direct messages are not delivered to it. */
  readonly blocked?: ReadonlySet<string>;
  /** Its user blocked or unblocked someone, on some connection. */
  blocksChanged?(users: { uid: string; name: string }[]): void;
  /** Its user took a new name on another connection. */
  renamed(name: string): void;
  /** The sign-in session of an account's connection. */
  readonly signIn?: string;
  /** Ends the connection (its user signed out, or was disabled). */
  close?(code: number, reason: string): void;
  /** The other user of a conversation it has open (by the conversation's room name). */
  peerIn(conversation: string): string | undefined;
}

/** A `presence` frame as the original protocol has it: one `user_join` or `user_left` per person. */
interface Expanded {
  /** The connection a frame is about, which is not sent its own arrival. */
  about: string;
  frame: OutFrame;
}

function expand(json: string): Expanded[] {
  const p = JSON.parse(json) as FrameOf<"presence">;
  return [
    ...p.joined.map((who) => ({ about: who.id, frame: new OutFrame(frames.userJoin(p.room, who)) })),
    ...p.left.map((who) => ({ about: who.id, frame: new OutFrame(frames.userLeft(p.room, who)) })),
  ];
}

/** Who wrote a stored frame (`uid`); empty for one without. */
export function authorOf(json: string): string {
  const uid = (JSON.parse(json) as { uid?: unknown }).uid;
  return typeof uid === "string" ? uid : "";
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

  /** Told when the last member here leaves a room. */
  emptied: ((room: string) => void) | undefined;

  get count(): number {
    return this.rooms.size;
  }

  /** This node's members of a room. */
  membersOf(room: string): Iterable<Recipient> {
    return this.rooms.get(room)?.keys() ?? [];
  }

  /** The rooms and conversations `r` is a member of here. */
  *roomsOf(r: Recipient): Iterable<string> {
    for (const [room, members] of this.rooms) if (members.has(r)) yield room;
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
    // Made once per node, and only when a member here wants the original protocol's frames.
    let expanded: Expanded[] | undefined;
    // Only a conversation's frames are kept from a member who blocked their author, and only then is the author read.
    let author: string | undefined;
    for (const [member, gate] of members) {
      if (member.id === envelope.exclude) continue;
      if (envelope.kind === "rules" && member.proto === 1) continue;
      if (member.blocked !== undefined && member.blocked.size > 0 && isConversation(room)) {
        author ??= authorOf(envelope.json);
        if (member.blocked.has(author)) continue;
      }
      if (envelope.kind === "presence" && member.proto === 1) {
        expanded ??= expand(envelope.json);
        for (const one of expanded) if (one.about !== member.id) this.offer(member, gate, { frame: one.frame });
      } else {
        this.offer(member, gate, delivery);
      }
    }
  }

  private offer(member: Recipient, gate: MidGate<Delivery>, delivery: Delivery): void {
    if (!gate.keep(delivery) && gate.admit(delivery)) this.writeTo(member, delivery.frame);
  }

  /** The room's mids start over: members are told (`frame`) and their gates reset. */
  /** `frame` says it to one member: a conversation is named differently to each of its two users. */
  historyReset(room: string, frame: (member: Recipient) => OutFrame): void {
    const members = this.rooms.get(room);
    if (!members) return;
    for (const [member, gate] of members) {
      gate.last = 0;
      member.write(frame(member));
    }
  }

  private writeTo(member: Recipient, frame: OutFrame): void {
    member.write(frame);
    this.meter.stats.deliveries++;
  }

  private drop(room: string, r: Recipient): boolean {
    const members = this.rooms.get(room);
    if (!members?.delete(r)) return false;
    if (members.size === 0) {
      this.rooms.delete(room);
      this.emptied?.(room);
    }
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
