import type { Logger } from "pino";
import type { LeftReason } from "../bus/envelope.js";
import { newConnectionId } from "../ids/connection-id.js";
import { CloseCode } from "../protocol/close-codes.js";
import { RequestError } from "../protocol/errors.js";
import { type ConnectOptions, parseRequest, type Ref, type Request, salvageRef } from "../protocol/requests.js";
import type { Role } from "../protocol/rooms.js";
import { DEFAULT_ROOM, foldName } from "../protocol/rules.js";
import { OutFrame } from "../transport/out-frame.js";
import type { Peer, PeerListener } from "../transport/peer.js";
import type { UserRecord } from "../users/user-store.js";
import { type ConnectionRefusal, type Identified, identify, refuseConnection, TokenLease } from "./admission.js";
import type { ChatContext } from "./context.js";
import { FloodGuard } from "./flood-guard.js";
import * as frames from "./frames.js";
import { drawGuestName } from "./guests.js";
import type { Caller } from "./handlers/caller.js";
import { dispatch } from "./handlers/index.js";
import { bestEffort, enterRoom, exitRoom } from "./handlers/rooms.js";
import { refusalOf } from "./refusal.js";
import { RequestQueue } from "./request-queue.js";

/** Whom a connection that blocked nobody blocked: one empty set for them all. */
const NOBODY: ReadonlySet<string> = new Set();

const blockedSet = (users: { uid: string }[]): ReadonlySet<string> =>
  users.length === 0 ? NOBODY : new Set(users.map((u) => u.uid));

/** What `user_info` says besides the connection's id, user and name. */
type Greeting = Omit<Parameters<typeof frames.userInfo>[0], "id" | "uid" | "name">;

/**
 * One connection's part in the chat: it ties a transport peer to the
 * connection's admission and identity, its rate limit, its queue of requests
 * and the handlers they go to, and leaves its rooms when the peer closes.
 */
export class Session implements Caller, PeerListener {
  readonly id: string;
  name = drawGuestName();
  nameDrawn = true;
  greeted = false;
  uid = "";
  proto: 1 | 2 = 1;
  persistent = false;
  kept = false;
  readonly rooms = new Set<string>();
  // Made on first use, as the shared empty set below: most connections never open a conversation
  // or block anyone, and an empty Map or Set is some 150 bytes held for the connection's lifetime.
  private openConversations: Map<string, string> | undefined;
  /** The users this user blocked: their direct messages, conversation hints and mentions do not reach it. */
  blocked: ReadonlySet<string> = NOBODY;
  lease: TokenLease | undefined;
  signIn: string | undefined;
  admin = false;
  roomRoles: ReadonlyMap<string, Role> | undefined;
  /** Set while a `?auth=first` connection's first frame, which says who it is, has not come. */
  private firstFrame: ((raw: string | undefined) => void) | undefined;
  private readonly queue: RequestQueue;
  private readonly guard: FloodGuard;
  private closed = false;
  /**
   * Requests still queued are dropped: the server closed the connection (a
   * flood's, an expired token's), or never admitted it. Those of a client
   * that closed it are handled: what it sent before closing is not lost.
   */
  private dropping = false;
  // Made on first use: most connections never log, and each costs memory held for its lifetime.
  private logger: Logger | undefined;

  constructor(
    private readonly peer: Peer,
    readonly ctx: ChatContext,
    /** Told once, when the connection has ended. */
    private readonly ended: (session: Session) => void,
  ) {
    this.id = newConnectionId(ctx.hub.nodeId);
    this.guard = new FloodGuard(ctx.policy);
    this.queue = new RequestQueue(this);
  }

  /** The conversations the connection has open: the other user → the conversation's room. */
  get conversations(): Map<string, string> {
    this.openConversations ??= new Map();
    return this.openConversations;
  }

  get nameKey(): string {
    return foldName(this.name);
  }

  get transport(): string {
    return this.peer.transport;
  }

  get clientAddress(): string {
    return this.peer.clientAddress;
  }

  private get log(): Logger {
    this.logger ??= this.ctx.log.child({ conn: this.id });
    return this.logger;
  }

  /**
   * Admits the connection (once its token checks out, where one is needed),
   * says who it is and, unless it asked not to be, puts it in the lobby.
   * Listeners are attached at once so no frame is lost; requests wait in the
   * queue behind the greeting.
   */
  open(options: ConnectOptions): Promise<void> {
    this.proto = options.proto;
    const first = options.firstFrame ? this.awaitFirstFrame(options) : undefined;
    this.peer.listen(this);
    this.queue.push(async () => {
      const said = first ? await first : options;
      const greeting = said === undefined ? undefined : await this.admit(said);
      if (!greeting) {
        this.dropping = true;
        return;
      }
      if (!options.lobby) {
        this.greet(greeting);
        return;
      }
      // The original page's lobby: announced, but answered with nothing that page does not know.
      // Entered before the greeting, so that the name it tells is one the lobby let in (a drawn
      // name someone there has is drawn again first); held so that no room frame comes before it.
      let refused: unknown;
      await enterRoom(this, DEFAULT_ROOM, true).catch((err: unknown) => {
        refused = err;
      });
      this.greet(greeting);
      this.ctx.hub.release(DEFAULT_ROOM, this, 0);
      if (refused !== undefined) throw refused;
    });
    return this.queue.settled;
  }

  /**
   * What a `?auth=first` connection says of itself in its first frame, an
   * `auth`; a RequestError when that frame is something else or does not
   * come within firstFrameMs. Undefined when the connection closed first.
   */
  private awaitFirstFrame(options: ConnectOptions): Promise<ConnectOptions | RequestError | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.firstFrame = undefined;
        resolve(new RequestError("unauthorized", "the first frame must be an 'auth', and it did not come"));
      }, this.ctx.firstFrameMs);
      timer.unref();
      this.firstFrame = (raw) => {
        clearTimeout(timer);
        this.firstFrame = undefined;
        if (raw === undefined) return resolve(undefined);
        let request: Request;
        try {
          request = parseRequest(raw);
        } catch (err) {
          return resolve(err as RequestError);
        }
        if (request.action !== "auth") {
          return resolve(new RequestError("unauthorized", "the first frame must be an 'auth'"));
        }
        resolve({ ...options, token: request.token, guest: request.guest, ticket: request.ticket });
      };
    });
  }

  /** Resolves once the connection has left all its rooms (after it closed). */
  get settled(): Promise<void> {
    return this.queue.settled;
  }

  /**
   * What `user_info` adds for the connection, or undefined when it was
   * refused: then it is never seen by anyone, in no room and on no list.
   */
  private async admit(options: ConnectOptions | RequestError): Promise<Greeting | undefined> {
    let who: Identified;
    try {
      if (options instanceof RequestError) throw options;
      who = await identify(this.ctx, options, this.clientAddress);
    } catch (err) {
      const refusal: ConnectionRefusal =
        err instanceof RequestError && err.code === "too_many_guests"
          ? {
              code: err.code,
              message: err.message,
              closeCode: CloseCode.tooManyConnections,
              closeReason: "Too many new guests",
              wait: err.wait,
            }
          : {
              code: "unauthorized",
              message: err instanceof RequestError ? err.message : "authentication failed",
              closeCode: CloseCode.unauthorized,
              closeReason: "Unauthorized",
            };
      refuseConnection(this, refusal, this.log, this.ctx.meter);
      return undefined;
    }
    this.uid = who.uid;
    this.signIn = who.signIn;
    this.admin = who.admin;
    this.roomRoles = who.roomRoles;
    this.persistent = who.persistent;
    if (who.name !== undefined) {
      this.name = who.name;
      this.nameDrawn = false;
    }
    if (who.expiresAt !== undefined) {
      this.lease = new TokenLease(() => {
        this.log.info({ code: "token_expired" }, "closing a connection whose token expired");
        this.close(CloseCode.tokenExpired, "Token expired");
      });
      this.lease.renew(who.expiresAt);
    }
    if (this.closed) return undefined;
    let record: UserRecord | undefined;
    if (this.persistent) {
      // Without the store (Redis away) the user is admitted all the same, with nothing restored.
      record = await this.ctx.users.load(this.uid).catch((err: unknown) => {
        this.log.warn({ err }, "could not load the user's state");
        return undefined;
      });
      // A guest keeps the name it chose; a token's name is the token's, and others must find it to write to it.
      // A guest with no name kept is not kept (yet): it lives as long as its connection until it does
      // something worth keeping (keepUser). One whose record could not be read may be kept: taken as
      // kept, so that keeping it now does not write its fresh "User #" over its kept name.
      if (this.lease === undefined) {
        // A name an account took since the guest last came is the account's now.
        if (record?.name !== undefined && !(await this.isAccountName(record.name))) {
          this.name = record.name;
          this.nameDrawn = false;
        }
        this.kept = record === undefined || record.name !== undefined;
      } else {
        this.kept = true;
        await bestEffort(this, this.ctx.users.setName(this.uid, this.name), "keep the user's name");
      }
    }
    const blocked = this.persistent ? await this.loadBlocks() : [];
    await this.ctx.hub.register(this);
    // A sign-out that ended the session while this connection was being admitted could not find it
    // to close it: once it can be found, the session is looked up again.
    if (this.signIn !== undefined && options.ticket !== undefined && !(await this.ctx.redeemTicket?.(options.ticket))) {
      this.close(CloseCode.signedOut, "Signed out");
      return undefined;
    }
    const { maxMessageLength, maxMessageBytes, maxNameLength, maxRoomLength } = this.ctx.limits;
    const limits = { maxMessageLength, maxMessageBytes, maxNameLength, maxRoomLength, lobby: DEFAULT_ROOM };
    return this.proto === 2
      ? {
          guest: who.guestToken,
          rooms: record?.rooms,
          // A conversation with someone blocked is not offered: its messages would not come.
          conversations: record?.conversations.filter((c) => !this.blocked.has(c.uid)),
          blocked,
          limits,
        }
      : {};
  }

  /** Whom the user blocked; without the store, nobody for now: the connection is not refused for it. */
  private async loadBlocks(): Promise<{ uid: string; name: string }[]> {
    const users = await this.ctx.moderation.store.blocksOf(this.uid).catch((err: unknown) => {
      this.log.warn({ err }, "could not load whom the user blocked");
      return [];
    });
    this.blocked = blockedSet(users);
    return users;
  }

  /** Tells the connection who it is, under the name it holds now. */
  private greet(greeting: Greeting): void {
    this.send(frames.userInfo({ id: this.id, uid: this.uid, name: this.name, ...greeting }));
    this.greeted = true;
  }

  private async isAccountName(name: string): Promise<boolean> {
    return (await this.ctx.accountName?.(name)) === true;
  }

  send(json: string): void {
    this.write(new OutFrame(json));
  }

  write(frame: OutFrame): void {
    if (this.closed) return;
    this.peer.send(frame);
    this.ctx.meter.stats.framesOut++;
  }

  sendHistory(frame: OutFrame): void {
    this.write(frame);
    this.guard.chargeReply(Buffer.byteLength(frame.text));
  }

  chargeWork(ms: number): void {
    this.guard.chargeWork(ms);
  }

  pipeline(op: Promise<void>, ref: Ref): Promise<void> | undefined {
    return this.queue.detach(op, ref);
  }

  left(room: string, reason?: LeftReason): void {
    this.rooms.delete(room);
    this.send(frames.left(room, undefined, reason));
  }

  blocksChanged(users: { uid: string; name: string }[]): void {
    this.blocked = blockedSet(users);
    if (this.proto === 2) this.send(frames.blocked(users));
  }

  peerIn(conversation: string): string | undefined {
    for (const [other, room] of this.openConversations ?? []) if (room === conversation) return other;
    return undefined;
  }

  renamed(name: string): void {
    const previous = this.name;
    this.name = name;
    this.nameDrawn = false;
    // In a room, the room's `user_renamed` tells it; in none, it is told alone.
    if (this.rooms.size === 0) this.send(frames.userRenamed(undefined, this, previous));
  }

  /** Closes the connection; its departure is announced once the transport reports it closed. */
  close(code: number, reason: string): void {
    this.dropping = true;
    if (this.closed) return;
    this.closed = true;
    this.peer.close(code, reason);
  }

  onSlowConsumer(): void {
    if (this.closed) return;
    this.ctx.meter.refused("slow_consumer");
    this.log.warn({ code: "slow_consumer" }, "closing a slow consumer");
    this.close(CloseCode.slowConsumer, "Slow consumer: too much unsent data");
  }

  onClose(): void {
    this.closed = true;
    this.firstFrame?.(undefined);
    this.lease?.end();
    this.queue.push(() => this.leaveAll());
    this.ended(this);
  }

  /** Rate-limited before queueing, so a flood never grows the queue. */
  onMessage(raw: string): void {
    this.ctx.meter.stats.framesIn++;
    if (this.closed) return;
    if (this.firstFrame) {
      this.firstFrame(raw);
      return;
    }
    const verdict = this.guard.check();
    if (verdict === "pass") {
      this.queue.push(
        () => (this.dropping ? undefined : dispatch(this, parseRequest(raw))),
        () => salvageRef(raw),
      );
      return;
    }
    this.ctx.meter.refused("rate_limited");
    if (verdict === "close") {
      this.log.warn({ code: "rate_limited" }, "closing a flooding connection");
      this.send(frames.error("rate_limited", "too many requests: closing the connection", salvageRef(raw)));
      this.close(CloseCode.flooding, "Flooding");
      return;
    }
    // One log line per flood, not one per refused frame.
    if (verdict === "first_refusal") this.log.info({ code: "rate_limited" }, "request refused");
    const wait = this.guard.waitSeconds();
    this.send(frames.error("rate_limited", `too many requests: wait ${wait} s`, salvageRef(raw), wait));
  }

  /** A request of this connection failed: it is refused with one `error` (the RequestQueue's owner). */
  refuse(err: unknown, ref: Ref): void {
    const refusal = refusalOf(err);
    this.ctx.meter.refused(refusal.code);
    if (refusal.fault !== undefined) this.log.error({ err: refusal.fault }, "request failed");
    else this.log.info({ code: refusal.code }, "request refused");
    this.send(frames.error(refusal.code, refusal.message, ref, refusal.wait));
  }

  /**
   * The connection closed: it leaves its rooms, where its user stays for the
   * grace period in case it returns. A user who cannot return (a proto 1
   * guest is a new user on each connection) leaves at once.
   */
  private async leaveAll(): Promise<void> {
    const { hub } = this.ctx;
    const graceMs = this.persistent ? this.ctx.graceMs : 0;
    await hub.unregister(this).catch((err: unknown) => this.log.warn({ err }, "could not unregister"));
    for (const room of [...this.rooms]) {
      try {
        await exitRoom(this, room, graceMs);
      } catch (err) {
        this.log.warn({ err, room }, "could not announce a departure");
      }
    }
    for (const conversation of this.openConversations?.values() ?? []) await hub.closeConversation(conversation, this);
  }
}
