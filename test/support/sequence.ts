import { expect } from "vitest";
import { joinedUser, type User } from "./chat.js";
import type { NodeProcess } from "./processes.js";
import type { Scope } from "./scope.js";
import { seededRandom, testSeed } from "./seed.js";
import { type Frame, SockClient } from "./sockjs-client.js";

/**
 * A subscriber that behaves as a resuming client must: it remembers the last
 * mid and epoch of its room, and after every reconnect joins again with
 * `since`. It records exactly what the server sent it, without deduplicating,
 * so a test sees any gap or duplicate the server let through.
 */
export class ResumingSubscriber {
  readonly numbers: number[] = [];
  readonly problems: string[] = [];
  reconnects = 0;
  private lastMid = 0;
  private epoch: string | undefined;
  private client: SockClient | undefined;
  private stopped = false;

  constructor(
    readonly name: string,
    private readonly room: string,
    private readonly pickNode: () => string,
  ) {}

  get connected(): boolean {
    return this.client !== undefined && this.client.closed === undefined;
  }

  async connect(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      try {
        const client = await SockClient.connect(this.pickNode(), { query: "lobby=0" });
        this.client = client;
        client.onFrame((f) => this.onFrame(client, f));
        const ref = `resume-${this.reconnects}-${Math.random()}`;
        await client.send({ action: "join", room: this.room, since: this.lastMid, epoch: this.epoch, ref });
        const reply = await client.next(
          (f) => f.ref === ref && (f.action === "history" || f.action === "error"),
          10000,
        );
        if (reply.action === "history") return;
        client.close();
        // Without its history (Redis away) the join cannot resume: drop it and try again. Any other refusal
        // is a fault of the server's, not of the network.
        if (reply.code !== "unavailable") {
          this.problems.push(`resume refused: ${JSON.stringify(reply)}`);
          this.stopped = true;
          return;
        }
      } catch {
        // The node may be down or restarting: try again, possibly elsewhere.
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  private onFrame(client: SockClient, f: Frame): void {
    if (client !== this.client) return;
    if (f.action === "history" && f.room === this.room) {
      if (f.recovered !== true && this.lastMid > 0) this.problems.push(`not recovered after mid ${this.lastMid}`);
      this.epoch = String(f.epoch);
      for (const m of f.messages as Frame[]) this.take(m);
    } else if (f.action === "message" && f.room === this.room && f.mid !== undefined) {
      this.take(f);
    }
  }

  private take(m: Frame): void {
    const mid = Number(m.mid);
    if (mid !== this.lastMid + 1) this.problems.push(`mid ${mid} after ${this.lastMid}`);
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
 * Sends 1, 2, 3… at a steady rate. A number the server refused (Redis away)
 * is sent again after a pause; one that was acknowledged is never resent.
 */
export class SequencePublisher {
  sent = 0;
  refusals = 0;
  private user: User | undefined;

  constructor(
    private readonly room: string,
    private readonly url: () => string,
  ) {}

  async start(): Promise<void> {
    this.user = await joinedUser(this.url());
    const ref = "pub-join";
    await this.user.client.send({ action: "join", room: this.room, ref });
    await this.user.client.action("users", (f) => f.ref === ref);
  }

  /** Sends numbers until `durationMs` has passed, about `perSecond` a second. */
  async run(durationMs: number, perSecond: number): Promise<number> {
    const end = Date.now() + durationMs;
    const gap = 1000 / perSecond;
    while (Date.now() < end) {
      const n = this.sent + 1;
      // The same ref on every attempt: a number the server stored but could not acknowledge is not stored twice.
      const ref = `n-${n}`;
      const client = this.user!.client;
      // Only a reply to this attempt: an earlier attempt's error carries the same ref.
      const replied = client.waitNew((f) => f.ref === ref && (f.action === "ack" || f.action === "error"), 10000);
      await client.send({ action: "message", room: this.room, message: String(n), ref });
      const reply = await replied;
      if (reply.action === "ack") this.sent = n;
      else if (reply.code === "unavailable") this.refusals++;
      else throw new Error(`the server refused message ${n}: ${JSON.stringify(reply)}`);
      await new Promise((r) => setTimeout(r, reply.action === "ack" ? gap : 250));
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

/**
 * Runs the publisher while `chaos` does its worst, then checks every subscriber got 1..N once, in order.
 * Resolves with what the publisher saw, so that a test can check its fault really hit the traffic.
 */
export async function sequenceSurvives(
  label: string,
  cluster: Nodes,
  durationMs: number,
  scope: Scope,
  chaos: (subscribers: ResumingSubscriber[], until: number) => Promise<void>,
): Promise<{ sent: number; refusals: number; reconnects: number }> {
  const room = `fault-${label.replace(/\W/g, "").toLowerCase()}`;
  const subscribers = Array.from({ length: 5 }, (_, i) => new ResumingSubscriber(`sub${i}`, room, cluster.pick));
  scope.defer(() => {
    for (const s of subscribers) s.stop();
  });
  await Promise.all(subscribers.map((s) => s.connect()));
  // The publisher stays on node B, which is never killed: it must not lose its own unacknowledged sends.
  const publisher = new SequencePublisher(room, () => cluster.nodes[1]!.proc.url);
  scope.defer(() => publisher.close());
  await publisher.start();

  const until = Date.now() + durationMs;
  const watchdog = setInterval(() => {
    for (const s of subscribers) void s.ensureConnected();
  }, 100);
  const [sent] = await Promise.all([publisher.run(durationMs, 50), chaos(subscribers, until)]);
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline && subscribers.some((s) => s.numbers.length < sent)) await sleep(100);
  clearInterval(watchdog);

  const expected = Array.from({ length: sent }, (_, i) => i + 1);
  console.log(`${label}: published ${sent} (refused and resent: ${publisher.refusals})`);
  for (const s of subscribers) {
    const unique = new Set(s.numbers).size;
    console.log(
      `  ${s.name}: received ${s.numbers.length}, distinct ${unique}, lost ${sent - unique}, ` +
        `duplicated ${s.numbers.length - unique}, reconnects ${s.reconnects}`,
    );
  }
  for (const s of subscribers) {
    expect(s.problems, s.name).toEqual([]);
    expect(s.numbers, s.name).toEqual(expected);
  }
  // Enough traffic that the faults above fell in the middle of it.
  expect(sent).toBeGreaterThan(100);
  return { sent, refusals: publisher.refusals, reconnects: subscribers.reduce((n, s) => n + s.reconnects, 0) };
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
