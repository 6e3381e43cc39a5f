import { expect, onTestFailed } from "vitest";
import { connectUser, joinRoom, type User } from "./chat.js";
import type { NodeProcess } from "./processes.js";
import type { Scope } from "./scope.js";
import { seededRandom, testSeed } from "./seed.js";
import { type Frame, SockClient } from "./sockjs-client.js";

/** What a fault test's numbers travel through: a room, or direct messages from one user. */
export type Feed = { room: string } | { dmFrom: () => string };

/**
 * A subscriber that behaves as a resuming client must: it remembers the last
 * mid and epoch of its room (or of its conversation with the publisher), and
 * after every reconnect joins again with `since`. It records exactly what the
 * server sent it, without deduplicating, so a test sees any gap or duplicate
 * the server let through.
 */
export class ResumingSubscriber {
  readonly numbers: number[] = [];
  readonly problems: string[] = [];
  reconnects = 0;
  /** Why its last attempt to connect and resume failed, for a test that fails. */
  lastFailure = "";
  /** The user, once connected; a direct-message subscriber comes back as the same one. */
  uid = "";
  private guest: string | undefined;
  private lastMid = 0;
  private epoch: string | undefined;
  private client: SockClient | undefined;
  /** The connection whose join's history came: only from then on are its live messages counted. */
  private joinedOn: SockClient | undefined;
  private stopped = false;

  constructor(
    readonly name: string,
    private readonly feed: Feed,
    private readonly pickNode: () => string,
  ) {}

  get connected(): boolean {
    return this.client !== undefined && this.client.closed === undefined;
  }

  private get query(): string {
    if ("room" in this.feed) return "lobby=0";
    return `proto=2&lobby=0${this.guest ? `&guest=${encodeURIComponent(this.guest)}` : ""}`;
  }

  async connect(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      let client: SockClient | undefined;
      try {
        client = await SockClient.connect(this.pickNode(), { query: this.query });
        const joining = client;
        this.client = joining;
        const info = await joining.action("user_info");
        this.uid = String(info.uid);
        this.guest ??= typeof info.guest === "string" ? info.guest : undefined;
        joining.onFrame((f) => this.onFrame(joining, f));
        for (const f of joining.frames) this.onFrame(joining, f);
        const ref = `resume-${this.reconnects}-${Math.random()}`;
        const where = "room" in this.feed ? { room: this.feed.room } : { with: this.feed.dmFrom() };
        await joining.send({ action: "join", ...where, since: this.lastMid, epoch: this.epoch, ref });
        const reply = await joining.next(
          (f) => f.ref === ref && (f.action === "history" || f.action === "error"),
          10000,
        );
        if (reply.action === "history") return;
        // Without its history (Redis away) the join cannot resume: drop it and try again. Any other refusal
        // is a fault of the server's, not of the network.
        if (reply.code !== "unavailable") {
          this.problems.push(`resume refused: ${JSON.stringify(reply)}`);
          this.stopped = true;
        }
      } catch (err) {
        // The node may be down or restarting: try again, possibly elsewhere.
        this.lastFailure = String((err as Error).message);
      }
      // A connection given up on is no longer listened to.
      if (client !== undefined && this.client === client) this.client = undefined;
      client?.close();
      if (this.stopped) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  private onFrame(client: SockClient, f: Frame): void {
    if (client !== this.client) return;
    const feed = this.feed;
    const ours =
      "room" in feed
        ? f.room === feed.room
        : f.action === "history"
          ? f.with === feed.dmFrom()
          : f.uid === feed.dmFrom() && f.to === this.uid;
    if (!ours) return;
    if (f.action === "history") {
      this.joinedOn = client;
      if (f.recovered !== true && this.lastMid > 0) this.problems.push(`not recovered after mid ${this.lastMid}`);
      const via = `in a history of epoch ${String(f.epoch)} (the client had ${this.epoch}), top ${String(f.top)}, recovered ${String(f.recovered)}`;
      this.epoch = String(f.epoch);
      for (const m of f.messages as Frame[]) this.take(m, via);
    } else if (f.action === ("room" in feed ? "message" : "dm") && f.mid !== undefined) {
      // Before its join's history, a connection hears the room from wherever its node stands (a join refused
      // for now still leaves it a member, and what the node held meanwhile comes before the refusal): a
      // resuming client counts from its history on, and anything that history lacks shows as lost.
      if (this.joinedOn !== client) return;
      this.take(f, `live, epoch ${this.epoch}`);
    }
  }

  /** `via` says where a mid out of turn came from, so that a failure points at the path that let it through. */
  private take(m: Frame, via: string): void {
    const mid = Number(m.mid);
    if (mid !== this.lastMid + 1)
      this.problems.push(`mid ${mid} (number ${String(m.message)}) after ${this.lastMid} (${via})`);
    this.lastMid = Math.max(this.lastMid, mid);
    this.numbers.push(Number(m.message));
  }

  /** Drops the connection as a flaky network would, and resumes after a pause. */
  async cut(pauseMs: number): Promise<void> {
    this.client?.close();
    this.client = undefined;
    await new Promise((r) => setTimeout(r, pauseMs));
    this.reconnects++;
    await this.connect();
  }

  /** Reconnects if the node it was on went away. */
  async ensureConnected(): Promise<void> {
    if (this.connected || this.stopped) return;
    this.client = undefined;
    this.reconnects++;
    await this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.client?.close();
  }
}

/**
 * Sends 1, 2, 3… at a steady rate, to a room or as direct messages to each
 * of `to`, as a lasting user (a `proto=2` guest). A number that got no `ack`
 * is sent again under the same ref: after a pause when the server refused it
 * (Redis away), and from a new connection, on whatever node is up, when its
 * connection dropped (its node was killed) before the `ack` came. One that was
 * acknowledged is never resent.
 */
export class SequencePublisher {
  sent = 0;
  refusals = 0;
  /** Connections it opened again, the one before lost (its node killed). */
  moves = 0;
  private user: User | undefined;
  private dropped: Promise<undefined> | undefined;

  constructor(
    private readonly target: { room: string } | { to: () => string[] },
    /** Where it connects first. */
    private readonly first: string,
    /** Where it connects again: a node that is up. */
    private readonly pick: () => string,
  ) {}

  get uid(): string {
    return this.user?.uid ?? "";
  }

  async start(): Promise<void> {
    await this.connect(this.first);
  }

  /** Connects as the same user as before (its guest token), and joins the room again. */
  private async connect(url: string): Promise<void> {
    const guest = this.user?.guest ? `&guest=${encodeURIComponent(this.user.guest)}` : "";
    const user = await connectUser(url, { query: `proto=2&lobby=0${guest}` });
    if (this.user !== undefined && user.uid !== this.user.uid)
      throw new Error("the publisher came back as another user");
    this.user = user;
    this.dropped = new Promise((resolve) => user.client.onClose(() => resolve(undefined)));
    if ("room" in this.target) await joinRoom(user, this.target.room);
  }

  /** Sends one request and resolves with its `ack` or `error`, or undefined when the connection dropped first. */
  private async attempt(send: Record<string, unknown>, ref: string): Promise<Frame | undefined> {
    if (this.user === undefined || this.user.client.closed !== undefined) {
      try {
        await this.connect(this.pick());
        this.moves++;
      } catch {
        return undefined;
      }
    }
    const client = this.user!.client;
    // Only a reply to this attempt: an earlier attempt's error carries the same ref.
    const replied = client.waitNew((f) => f.ref === ref && (f.action === "ack" || f.action === "error"), 10000);
    // A connection that dropped leaves its waiter to time out, unheard.
    replied.catch(() => undefined);
    await client.send({ ...send, ref });
    return Promise.race([replied, this.dropped!]);
  }

  /** Sends numbers until `durationMs` has passed, about `perSecond` a second. */
  async run(durationMs: number, perSecond: number): Promise<number> {
    const end = Date.now() + durationMs;
    const gap = 1000 / perSecond;
    while (Date.now() < end) {
      const n = this.sent + 1;
      const sends =
        "room" in this.target
          ? [{ action: "message", room: this.target.room }]
          : this.target.to().map((to) => ({ action: "dm", to }));
      let unsent = false;
      for (const [i, send] of sends.entries()) {
        // The same ref on every attempt, on every connection: a number the server stored but could
        // not acknowledge is not stored twice.
        const ref = `n-${n}-${i}`;
        let reply = await this.attempt({ ...send, message: String(n) }, ref);
        while (reply === undefined && Date.now() < end + 10_000) {
          await new Promise((r) => setTimeout(r, 100));
          reply = await this.attempt({ ...send, message: String(n) }, ref);
        }
        if (reply?.action === "ack") continue;
        if (reply?.code !== "unavailable") throw new Error(`the server refused message ${n}: ${JSON.stringify(reply)}`);
        unsent = true;
        this.refusals++;
        break;
      }
      if (!unsent) this.sent = n;
      await new Promise((r) => setTimeout(r, unsent ? 250 : gap));
    }
    return this.sent;
  }

  close(): void {
    this.user?.client.close();
  }
}

/** The chat nodes of a fault test; `alive` is false while a test has one down. */
export interface Nodes {
  nodes: { proc: NodeProcess; alive: boolean }[];
  pick(): string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const chaos = seededRandom(testSeed("connection cuts"));
const between = (lo: number, hi: number) => lo + chaos() * (hi - lo);

export interface Survived {
  sent: number;
  refusals: number;
  reconnects: number;
  /** How often the publishers moved to a new connection, their own lost. */
  moves: number;
  /** The direct messages' publisher: numbers sent to each recipient, and refusals. */
  dms: { sent: number; refusals: number };
}

/**
 * Runs a room's publisher and a direct-message publisher while `chaos` does
 * its worst, then checks every subscriber got 1..N once, in order. Resolves
 * with what the publishers saw, so that a test can check its fault really hit
 * the traffic.
 */
export async function sequenceSurvives(
  label: string,
  cluster: Nodes,
  durationMs: number,
  scope: Scope,
  chaos: (subscribers: ResumingSubscriber[], until: number) => Promise<void>,
): Promise<Survived> {
  const room = `fault-${label.replace(/\W/g, "").toLowerCase()}`;
  // The publishers start on node A, the one a kill test kills: they move to a node that is up and send
  // again what was not acknowledged, under the same refs.
  const onA = cluster.nodes[0]!.proc.url;
  const dmPublisher: SequencePublisher = new SequencePublisher(
    { to: (): string[] => dmSubscribers.map((s) => s.uid) },
    onA,
    cluster.pick,
  );
  scope.defer(() => dmPublisher.close());
  await dmPublisher.start();
  const roomSubscribers = Array.from(
    { length: 5 },
    (_, i) => new ResumingSubscriber(`sub${i}`, { room }, cluster.pick),
  );
  const dmSubscribers: ResumingSubscriber[] = Array.from(
    { length: 3 },
    (_, i) => new ResumingSubscriber(`dm${i}`, { dmFrom: (): string => dmPublisher.uid }, cluster.pick),
  );
  const subscribers = [...roomSubscribers, ...dmSubscribers];
  // A test that times out says where the sequence stood: it printed nothing between its start and its end.
  let phase = "connecting the subscribers";
  let publisher: SequencePublisher | undefined;
  onTestFailed(() => {
    console.log(
      `${label}: stopped while ${phase}; sent ${publisher?.sent ?? 0} to the room, ${dmPublisher.sent} each by dm`,
    );
    for (const s of subscribers) {
      console.log(
        `  ${s.name}: connected ${s.connected}, received ${s.numbers.length}, reconnects ${s.reconnects}, ` +
          `last failure ${s.lastFailure || "none"}`,
      );
    }
  });
  scope.defer(() => {
    for (const s of subscribers) s.stop();
  });
  await Promise.all(subscribers.map((s) => s.connect()));
  phase = "starting the room's publisher";
  publisher = new SequencePublisher({ room }, onA, cluster.pick);
  scope.defer(() => publisher?.close());
  await publisher.start();
  phase = "publishing under the fault";

  const until = Date.now() + durationMs;
  const watchdog = setInterval(() => {
    for (const s of subscribers) void s.ensureConnected();
  }, 100);
  const [sent, dmsSent] = await Promise.all([
    publisher.run(durationMs, 50),
    dmPublisher.run(durationMs, 20),
    chaos(subscribers, until),
  ]);
  phase = "waiting for the subscribers to catch up";
  const deadline = Date.now() + 20000;
  const behind = () =>
    roomSubscribers.some((s) => s.numbers.length < sent) || dmSubscribers.some((s) => s.numbers.length < dmsSent);
  while (Date.now() < deadline && behind()) await sleep(100);
  clearInterval(watchdog);

  console.log(`${label}: published ${sent} (refused and resent: ${publisher.refusals}, moved: ${publisher.moves})`);
  console.log(
    `${label}: sent ${dmsSent} direct messages to each of 3 (refused and resent: ${dmPublisher.refusals}, ` +
      `moved: ${dmPublisher.moves})`,
  );
  for (const [group, count] of [
    [roomSubscribers, sent],
    [dmSubscribers, dmsSent],
  ] as const) {
    for (const s of group) {
      const unique = new Set(s.numbers).size;
      console.log(
        `  ${s.name}: received ${s.numbers.length}, distinct ${unique}, lost ${count - unique}, ` +
          `duplicated ${s.numbers.length - unique}, reconnects ${s.reconnects}`,
      );
    }
    for (const s of group) {
      expect(s.problems, s.name).toEqual([]);
      expect(s.numbers, s.name).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    }
  }
  // Enough traffic that the faults above fell in the middle of it.
  expect(sent).toBeGreaterThan(100);
  expect(dmsSent).toBeGreaterThan(40);
  return {
    sent,
    refusals: publisher.refusals,
    moves: publisher.moves + dmPublisher.moves,
    reconnects: subscribers.reduce((n, s) => n + s.reconnects, 0),
    dms: { sent: dmsSent, refusals: dmPublisher.refusals },
  };
}

/** Cuts random subscribers' connections at random moments until `until`. */
export async function cutRandomly(subscribers: ResumingSubscriber[], until: number): Promise<void> {
  const cuts: Promise<void>[] = [];
  while (Date.now() < until - 1500) {
    await sleep(between(200, 900));
    const s = subscribers[Math.floor(chaos() * subscribers.length)]!;
    if (s.connected) cuts.push(s.cut(between(0, 1500)));
  }
  await Promise.all(cuts);
}
