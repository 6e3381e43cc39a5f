import { RequestError } from "../protocol/errors.js";
import { TokenBucket } from "./rate-limit.js";

/** What one stored entry costs besides its text: its envelope (ids, name, time, room) and the store's keeping of it. */
const ENTRY_BYTES = 256;

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

/** How much a user, and the users of one client address, may have stored and started (0 = no limit). */
export interface AllowancePolicy {
  /** WRITE_BYTES_PER_USER, per minute. */
  bytesPerUser: number;
  /** WRITE_BYTES_PER_IP, per minute. */
  bytesPerAddress: number;
  /** NEW_ROOMS_PER_HOUR. */
  roomsPerHour: number;
  /** NEW_CONVERSATIONS_PER_HOUR. */
  conversationsPerHour: number;
  /** NEW_GUESTS_PER_IP, per hour. */
  guestsPerHour: number;
  /** FIRST_DMS_PER_RECIPIENT, per minute: counted by the user store, on every node. */
  firstDmsPerRecipient: number;
}

/**
 * Allowances by key (a user, an address): `amount` per `periodMs`, at most
 * `amount` at once, each made on first use and forgotten once full again. A
 * write passes while anything is left, and its cost is then owed (up to a
 * whole allowance).
 */
class AllowanceMap {
  private readonly byKey = new Map<string, TokenBucket>();

  constructor(
    private readonly amount: number,
    private readonly periodMs: number,
  ) {}

  /** Milliseconds until `key` has something left; 0 without a limit. */
  waitMs(key: string): number {
    return this.amount === 0 ? 0 : (this.byKey.get(key)?.waitMs() ?? 0);
  }

  spend(key: string, units: number): void {
    if (this.amount === 0) return;
    let allowance = this.byKey.get(key);
    if (!allowance) {
      allowance = new TokenBucket((this.amount * 1000) / this.periodMs, this.amount);
      this.byKey.set(key, allowance);
    }
    allowance.charge(units);
  }

  sweep(): void {
    for (const [key, allowance] of this.byKey) if (allowance.full) this.byKey.delete(key);
  }
}

/** Who writes: a user, from an address. */
export interface Writer {
  readonly uid: string;
  readonly clientAddress: string;
}

export type Start = "room" | "conversation";

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/**
 * What this node lets each user, and each client address, add to what is
 * stored: bytes a minute (messages, changes, rooms joined), rooms and
 * conversations started an hour, guest identities made an hour. Kept per
 * node: a user or an address spread over several nodes has each node's.
 */
export class Allowances {
  private readonly userBytes: AllowanceMap;
  private readonly addressBytes: AllowanceMap;
  private readonly starts: Record<Start, AllowanceMap>;
  private readonly guests: AllowanceMap;
  private readonly sweeper: NodeJS.Timeout;
  readonly firstDmsPerRecipient: number;

  constructor(policy: AllowancePolicy) {
    this.firstDmsPerRecipient = policy.firstDmsPerRecipient;
    this.userBytes = new AllowanceMap(policy.bytesPerUser, MINUTE_MS);
    this.addressBytes = new AllowanceMap(policy.bytesPerAddress, MINUTE_MS);
    this.starts = {
      room: new AllowanceMap(policy.roomsPerHour, HOUR_MS),
      conversation: new AllowanceMap(policy.conversationsPerHour, HOUR_MS),
    };
    this.guests = new AllowanceMap(policy.guestsPerHour, HOUR_MS);
    this.sweeper = setInterval(() => {
      for (const map of [this.userBytes, this.addressBytes, this.starts.room, this.starts.conversation, this.guests]) {
        map.sweep();
      }
    }, MINUTE_MS);
    this.sweeper.unref();
  }

  /**
   * Charges a write of a text of `textBytes` (0 for an entry without text)
   * to its user and its address, or refuses it (`over_budget`) while either
   * has written its allowance of the last minute.
   */
  charge(writer: Writer, textBytes: number): void {
    const wait = Math.max(this.userBytes.waitMs(writer.uid), this.addressBytes.waitMs(writer.clientAddress));
    if (wait > 0) {
      const s = seconds(wait);
      throw new RequestError("over_budget", `you have written too much in the last minute: wait ${s} s`, s);
    }
    this.userBytes.spend(writer.uid, textBytes + ENTRY_BYTES);
    this.addressBytes.spend(writer.clientAddress, textBytes + ENTRY_BYTES);
  }

  /** Whether the user may start a room or conversation now; when not, one that exists already is still written in. */
  mayStart(uid: string, what: Start): boolean {
    return this.starts[what].waitMs(uid) === 0;
  }

  /** The refusal of a start the user has no allowance for. */
  startRefusal(uid: string, what: Start): RequestError {
    const s = seconds(this.starts[what].waitMs(uid));
    const minutes = Math.ceil(s / 60);
    return new RequestError(
      "too_many_new",
      `you have started too many ${what === "room" ? "rooms" : "conversations"} in the last hour: ` +
        `wait ${minutes} min`,
      s,
    );
  }

  /** The user started a room or a conversation (wrote its first message). */
  started(uid: string, what: Start): void {
    this.starts[what].spend(uid, 1);
  }

  /** Takes one new guest identity from the address's allowance, or refuses it (`too_many_guests`). */
  newGuest(address: string): void {
    const wait = this.guests.waitMs(address);
    if (wait > 0) {
      const s = seconds(wait);
      throw new RequestError(
        "too_many_guests",
        `too many new guests from your address: come back with your guest token, or wait ${Math.ceil(s / 60)} min`,
        s,
      );
    }
    this.guests.spend(address, 1);
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
