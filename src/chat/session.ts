import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { type Broker, BrokerUnavailable, type Envelope, type HistoryQuery } from "../bus/broker.js";
import type { Metrics } from "../metrics.js";
import type { Presence } from "../storage/presence.js";
import { OutFrame } from "../transport/out-frame.js";
import type { Peer, PeerListener } from "../transport/peer.js";
import type { Identity } from "./auth.js";
import { CloseCode } from "./close-codes.js";
import * as frames from "./frames.js";
import type { HistoryPages } from "./history-pages.js";
import type { Hub, Recipient } from "./hub.js";
import type { Request } from "./protocol.js";
import {
  checkName,
  checkRoom,
  checkText,
  foldName,
  HISTORY_PAGE_MAX,
  type Limits,
  parseRequest,
  RequestError,
  salvageRef,
} from "./protocol.js";
import { TokenBucket, WindowCounter } from "./rate-limit.js";

export const DEFAULT_ROOM = "lobby";

export interface ChatContext {
  hub: Hub;
  broker: Broker;
  presence: Presence;
  log: Logger;
  limits: Limits;
  /** How many messages a plain `join` replays. */
  historySize: number;
  policy: Policy;
  metrics: Metrics;
  /** Set when connections must prove who they are (AUTH_SECRET). */
  authenticate: ((query: string) => Promise<Identity>) | undefined;
  /** Told once when a session's connection has ended. */
  ended(session: Session): void;
  /** Encoded history pages, shared by the node's sessions. */
  pages: HistoryPages;
}

export interface Policy {
  rateLimit: number;
  rateBurst: number;
  floodCloseAfter: number;
  maxRooms: number;
}

const FLOOD_WINDOW_MS = 10_000;
/** History bytes that cost one request's worth of the rate budget. */
const HISTORY_BYTES_PER_TOKEN = 8192;
/** Messages of one connection that may wait for the broker at once. */
const MAX_IN_FLIGHT = 64;

type Req<A extends Request["action"]> = Extract<Request, { action: A }>;

function guestName(): string {
  return `User #${100 + Math.floor(Math.random() * 900)}`;
}

/**
 * One connection's part in the chat: it turns requests into broker and
 * presence operations, one request at a time so a client's messages keep
 * their order, and answers each refused request with one `error`.
 */
export class Session implements Recipient, PeerListener {
  readonly id: string;
  name = guestName();
  /** The user id a token vouched for; undefined for a guest. */
  private uid: string | undefined;
  /**
   * The rooms this connection is in, each with the newest mid it was sent:
   * whatever path a message takes (its join's history, live, a node's replay
   * after a gap), the connection gets it once.
   */
  private readonly rooms = new Map<string, number>();
  /** Rooms whose history is being loaded: their live publications wait here. */
  private held: Map<string, Envelope[]> | undefined;
  private queue: Promise<void> = Promise.resolve();
  private inFlight = 0;
  /** Set while a token admitted the connection: when it ends. */
  private expiry: NodeJS.Timeout | undefined;
  private closed = false;
  // Made on first use: most connections never log, and each costs memory held for its lifetime.
  private logger: Logger | undefined;
  private floods: WindowCounter | undefined;
  private readonly bucket: TokenBucket;

  constructor(
    private readonly peer: Peer,
    private readonly ctx: ChatContext,
  ) {
    // Made here, never the SockJS session id: ids are shown to everyone, and
    // whoever knows an HTTP session's id could send and read on it.
    this.id = `${ctx.hub.nodeId}.${randomBytes(9).toString("base64url")}`;
    this.bucket = new TokenBucket(ctx.policy.rateLimit, ctx.policy.rateBurst);
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
   * Greets the connection (once its token checks out, where one is needed)
   * and, unless it asked not to be, puts it in the default room. Listeners are
   * attached at once so no frame is lost; requests wait in the queue behind
   * the greeting.
   */
  open(autoJoin: boolean): Promise<void> {
    this.peer.listen(this);
    this.enqueue(async () => {
      // A connection that is refused is never seen by anyone: no room, no presence.
      if (!(await this.greet())) return;
      // The original page's lobby: announced, but answered with nothing that page does not know.
      if (autoJoin) await this.enter(DEFAULT_ROOM);
    });
    return this.queue;
  }

  /** Resolves once the connection has left all its rooms (after it closed). */
  get settled(): Promise<void> {
    return this.queue;
  }

  /** Admits the connection (once its token checks out, where one is needed) and says who it is; false if refused. */
  private async greet(): Promise<boolean> {
    if (this.ctx.authenticate) {
      try {
        const token = new URLSearchParams(this.peer.query).get("token");
        if (!token) throw new RequestError("unauthorized", "this chat needs a token: connect with ?token=<JWT>");
        const identity = await this.ctx.authenticate(token);
        this.uid = identity.uid;
        this.name = identity.name;
        this.expireAt(identity.expiresAt);
      } catch (err) {
        const why = err instanceof RequestError ? err.message : "authentication failed";
        this.ctx.metrics.refused("unauthorized");
        this.log.info({ code: "unauthorized" }, "connection refused");
        this.send(frames.error("unauthorized", why, undefined));
        this.close(CloseCode.unauthorized, "Unauthorized");
        return false;
      }
    }
    if (this.closed) return false;
    this.ctx.hub.register(this);
    this.send(frames.userInfo(this, this.uid));
    return true;
  }

  /** The connection ends when its token does, unless `auth` brings a fresh one first. */
  private expireAt(expiresAt: number): void {
    clearTimeout(this.expiry);
    this.expiry = setTimeout(
      () => {
        this.log.info({ code: "token_expired" }, "closing a connection whose token expired");
        this.close(CloseCode.tokenExpired, "Token expired");
      },
      Math.max(0, Math.min(expiresAt - Date.now(), 2 ** 31 - 1)),
    );
    this.expiry.unref();
  }

  /** A fresh token for the same user, handed over the open connection. */
  private async auth(req: Req<"auth">): Promise<void> {
    if (!this.ctx.authenticate) throw new RequestError("forbidden", "this chat does not use tokens");
    const identity = await this.ctx.authenticate(req.token);
    if (identity.uid !== this.uid) throw new RequestError("forbidden", "the token is for another user");
    this.expireAt(identity.expiresAt);
    if (identity.name !== this.name) await this.rename(identity.name);
    if (req.ref !== undefined) this.send(frames.ack("auth", req.ref));
  }

  send(frame: string): void {
    this.write(new OutFrame(frame));
  }

  private write(frame: OutFrame): void {
    if (this.closed) return;
    this.peer.send(frame);
    this.ctx.metrics.stats.framesOut++;
  }

  receive(room: string, envelope: Envelope, frame: OutFrame): void {
    const waiting = this.held?.get(room);
    if (waiting) waiting.push(envelope);
    else if (this.isNew(room, envelope)) this.write(frame);
  }

  /** A room's history started over: its mids count from 1 again. */
  restart(room: string, frame: OutFrame): void {
    if (!this.rooms.has(room)) return;
    this.rooms.set(room, 0);
    this.write(frame);
  }

  private isNew(room: string, envelope: Envelope): boolean {
    if (envelope.mid !== undefined) {
      if (envelope.mid <= (this.rooms.get(room) ?? 0)) return false;
      this.rooms.set(room, envelope.mid);
    }
    this.ctx.metrics.stats.deliveries++;
    return true;
  }

  /** Closes the connection; its departure is announced once SockJS reports it closed. */
  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.peer.close(code, reason);
  }

  onSlowConsumer(): void {
    if (this.closed) return;
    this.ctx.metrics.refused("slow_consumer");
    this.log.warn({ code: "slow_consumer" }, "closing a slow consumer");
    this.close(CloseCode.slowConsumer, "Slow consumer: too much unsent data");
  }

  onClose(): void {
    this.closed = true;
    clearTimeout(this.expiry);
    this.enqueue(() => this.leaveAll());
    this.ctx.ended(this);
  }

  /** Rate-limited before queueing, so a flood never grows the queue. */
  onMessage(raw: string): void {
    this.ctx.metrics.stats.framesIn++;
    if (this.closed) return;
    if (this.bucket.take()) {
      this.enqueue(() => this.handle(raw), raw);
      return;
    }
    this.ctx.metrics.refused("rate_limited");
    this.floods ??= new WindowCounter(FLOOD_WINDOW_MS);
    const floods = this.floods.hit();
    // One log line per flood, not one per refused frame.
    if (floods === 1) this.log.info({ code: "rate_limited" }, "request refused");
    if (floods >= this.ctx.policy.floodCloseAfter) {
      this.log.warn({ code: "rate_limited", refused: floods }, "closing a flooding connection");
      this.send(frames.error("rate_limited", "too many requests: closing the connection", salvageRef(raw)));
      this.close(CloseCode.flooding, "Flooding");
      return;
    }
    this.send(frames.error("rate_limited", "too many requests: slow down", salvageRef(raw)));
  }

  private enqueue(task: () => Promise<void> | undefined, raw?: string): void {
    this.queue = this.queue
      .then(task)
      .catch((err: unknown) => this.refuse(err, raw === undefined ? undefined : salvageRef(raw)));
  }

  private refuse(err: unknown, ref: string | number | undefined): void {
    if (err instanceof BrokerUnavailable) {
      this.ctx.metrics.refused("unavailable");
      this.log.info({ code: "unavailable" }, "request refused");
      this.send(frames.error("unavailable", "the chat cannot reach its other nodes right now; try again", ref));
      return;
    }
    if (err instanceof RequestError) {
      this.ctx.metrics.refused(err.code);
      this.log.info({ code: err.code }, "request refused");
      this.send(frames.error(err.code, err.message, ref));
      return;
    }
    this.ctx.metrics.refused("internal");
    this.log.error({ err }, "request failed");
    this.send(frames.error("internal", "the server could not complete this request", ref));
  }

  private async handle(raw: string): Promise<void> {
    if (this.closed) return;
    const req = parseRequest(raw);
    switch (req.action) {
      case "message":
        return this.message(req);
      case "pm":
        return this.pm(req);
      case "join":
        return this.join(req);
      case "leave":
        return this.leave(req);
      case "nick":
        return this.nick(req);
      case "typing":
        return this.typing(req);
      case "users":
        return this.users(req);
      case "history":
        return this.history(req);
      case "auth":
        return this.auth(req);
    }
  }

  private memberRoom(raw: string | undefined): string {
    const room = checkRoom(raw ?? DEFAULT_ROOM, this.ctx.limits);
    if (!this.rooms.has(room)) throw new RequestError("not_in_room", `you are not in room '${room}'`);
    return room;
  }

  /**
   * Issues the publication and lets the next request start at once: the
   * broker keeps the order publications were issued in (one connection,
   * commands in order), so waiting a round trip between two messages of one
   * client would only cap how fast that client can talk. The ack or the
   * error follows when it settles; a client that outruns the broker waits
   * once it has MAX_IN_FLIGHT messages out.
   */
  private message(req: Req<"message">): Promise<void> | undefined {
    const room = this.memberRoom(req.room);
    const text = checkText(req.message, this.ctx.limits);
    const ts = Date.now();
    const done = this.ctx.metrics.publishTimer();
    this.inFlight++;
    // With a ref, a message sent again after an `unavailable` is stored at most once.
    const key = req.ref === undefined ? undefined : `${this.id}\n${req.ref}`;
    const settled = this.ctx.broker.publishStored(room, frames.chatMessage(room, text, this, ts), key).then(
      (mid) => {
        this.inFlight--;
        done();
        if (req.ref !== undefined) this.send(frames.ack("message", req.ref, { room, mid }));
      },
      (err: unknown) => {
        this.inFlight--;
        if (err instanceof BrokerUnavailable) {
          this.ctx.hub.deliverLocally(room, frames.localMessage(room, text, this, ts));
          err = new RequestError(
            "unavailable",
            "the other nodes are out of reach: only users on this server got your message, and it may not have " +
              "been stored; send it again with the same ref to store it at most once",
          );
        }
        this.refuse(err, req.ref);
      },
    );
    return this.inFlight >= MAX_IN_FLIGHT ? settled : undefined;
  }

  private async pm(req: Req<"pm">): Promise<void> {
    const text = checkText(req.message, this.ctx.limits);
    const delivered = await this.ctx.hub.sendPm({
      t: "pm",
      to: req.target.id,
      from: { id: this.id, name: this.name },
      message: text,
      ts: Date.now(),
      ref: req.ref,
    });
    if (!delivered) throw new RequestError("offline", "that user is not connected");
  }

  private async join(req: Req<"join">): Promise<void> {
    const room = checkRoom(req.room, this.ctx.limits);
    const { presence, broker } = this.ctx;
    const fresh = !this.rooms.has(room);
    if (fresh && this.rooms.size >= this.ctx.policy.maxRooms) {
      throw new RequestError("too_many_rooms", `a connection may be in at most ${this.ctx.policy.maxRooms} rooms`);
    }
    this.held ??= new Map();
    this.held.set(room, this.held.get(room) ?? []);
    try {
      if (fresh) await this.enter(room);
      const limit = req.since === undefined ? Math.min(this.ctx.historySize, HISTORY_PAGE_MAX) : this.ctx.historySize;
      const query: HistoryQuery = { since: req.since, epoch: req.epoch, limit };
      const page = await broker.history(room, query).catch((err: unknown) => {
        if (err instanceof BrokerUnavailable) return undefined;
        throw err;
      });
      const list = await presence.list(room);
      if (!page) {
        this.send(frames.users(room, list, req.ref));
        this.flushHeld(room);
        throw new RequestError("unavailable", "history is out of reach right now; live messages still arrive");
      }
      const info = { room, epoch: page.epoch, ref: req.ref, more: req.since === undefined && !page.complete };
      const recovered = req.since === undefined ? undefined : page.complete;
      this.sendHistory(frames.history({ ...info, recovered }, this.ctx.pages.messagesOf(room, query, page)));
      this.send(frames.users(room, list, req.ref));
      this.rooms.set(room, Math.max(page.top, this.rooms.get(room) ?? 0));
      this.flushHeld(room);
    } finally {
      this.held?.delete(room);
      if (this.held?.size === 0) this.held = undefined;
    }
  }

  /** Makes the connection a member of a room and tells the others there. */
  private async enter(room: string): Promise<void> {
    this.rooms.set(room, 0);
    try {
      await this.ctx.hub.enter(room, this);
    } catch (err) {
      this.rooms.delete(room);
      throw err;
    }
    await this.ctx.presence.add(room, this);
    await this.ctx.hub.publish(room, frames.userJoin(room, this), this.id);
  }

  /** Sends what arrived while history loaded, less what the history already held. */
  private flushHeld(room: string): void {
    const waiting = this.held?.get(room) ?? [];
    this.held?.delete(room);
    for (const envelope of waiting) {
      if (this.isNew(room, envelope)) this.send(envelope.frame);
    }
  }

  private async leave(req: Req<"leave">): Promise<void> {
    const room = this.memberRoom(req.room);
    await this.exit(room);
    this.send(frames.left(room, req.ref));
  }

  private async exit(room: string): Promise<void> {
    this.rooms.delete(room);
    await this.ctx.hub.exit(room, this);
    await this.ctx.presence.remove(room, this.id);
    await this.ctx.hub.publish(room, frames.userLeft(room, this));
  }

  private async leaveAll(): Promise<void> {
    this.ctx.hub.unregister(this);
    for (const room of [...this.rooms.keys()]) {
      try {
        await this.exit(room);
      } catch (err) {
        this.log.warn({ err, room }, "could not announce a departure");
      }
    }
  }

  private async nick(req: Req<"nick">): Promise<void> {
    if (this.uid !== undefined) throw new RequestError("forbidden", "your name comes from your token");
    const name = checkName(req.name, this.ctx.limits);
    const folded = foldName(name);
    for (const room of this.rooms.keys()) {
      const members = await this.ctx.presence.list(room);
      if (members.some((m) => m.id !== this.id && foldName(m.name) === folded)) {
        throw new RequestError("name_taken", `someone in '${room}' is already called that`);
      }
    }
    await this.rename(name);
    if (req.ref !== undefined) this.send(frames.ack("nick", req.ref));
  }

  private async rename(name: string): Promise<void> {
    const previous = this.name;
    this.name = name;
    for (const room of this.rooms.keys()) {
      await this.ctx.presence.add(room, this);
      await this.ctx.hub.publish(room, frames.userRenamed(room, this, previous));
    }
    if (this.rooms.size === 0) this.send(frames.userRenamed(undefined, this, previous));
  }

  private async typing(req: Req<"typing">): Promise<void> {
    const room = this.memberRoom(req.room);
    await this.ctx.hub.publish(room, frames.typing(room, this), this.id);
  }

  private async users(req: Req<"users">): Promise<void> {
    const room = this.memberRoom(req.room);
    this.send(frames.users(room, await this.ctx.presence.list(room), req.ref));
  }

  private async history(req: Req<"history">): Promise<void> {
    const room = this.memberRoom(req.room);
    const query = { before: req.before, limit: req.limit ?? Math.min(this.ctx.historySize, HISTORY_PAGE_MAX) };
    const page = await this.ctx.broker.history(room, query);
    const info = { room, epoch: page.epoch, ref: req.ref, more: !page.complete };
    this.sendHistory(frames.history(info, this.ctx.pages.messagesOf(room, query, page)));
  }

  /**
   * A page of history costs its size against the connection's rate budget:
   * a small request that returns a large page must not be cheap to repeat.
   */
  private sendHistory(frame: OutFrame): void {
    this.write(frame);
    this.bucket.charge(Math.floor(frame.text.length / HISTORY_BYTES_PER_TOKEN));
  }
}
