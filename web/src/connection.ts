import SockJS from "sockjs-client";
import { retryDelay } from "./backoff";
import { type ClientRequest, parseFrame, type ServerFrame } from "./protocol";

export type LinkState = "connecting" | "online" | "offline";

export interface LinkEvents {
  /** `transport` is the SockJS transport in use, given while online. */
  state(state: LinkState, transport?: string): void;
  frame(frame: ServerFrame): void;
  /**
   * The server will not take this browser as it is (its sign-in ended, its
   * account was disabled, it needs to sign in): the link stops trying, and
   * the page asks the person, rather than knocking again and again.
   */
  refused(why: "needed" | "ended" | "disabled"): void;
}

/** Close codes after which trying again as the same person cannot help (docs/protocol.md#close-codes). */
const REFUSED: Record<number, "needed" | "ended" | "disabled"> = {
  4001: "needed",
  4005: "ended",
  4006: "ended",
  4007: "disabled",
};

/** The page could not say who it is: its sign-in is over. */
export class SignedOut extends Error {}

// The typings leave out the name of the transport SockJS settled on.
type Socket = WebSocket & { transport?: string | null };

/** Heard nothing for this long: a `ping` asks the server to say something. */
const QUIET_MS = 4000;
/** A `ping` not answered within this long means the link is dead, however open it looks. */
const ANSWER_DUE_MS = 5000;
const CHECK_EVERY_MS = 1000;
/**
 * A link that lasted this long after the server took it was a good one: the
 * next try comes quickly. One dropped sooner counts as a failure, so that a
 * server or proxy that takes each connection and drops it at once is not
 * knocked on twice a second.
 */
const STABLE_MS = 10_000;

/**
 * One SockJS link that keeps coming back: reconnects with jittered
 * exponential backoff, and notices a link that silently stopped carrying
 * frames (a dropped Wi-Fi, a NAT that forgot it) within about ten seconds.
 */
export class Connection {
  private sock: Socket | null = null;
  private failures = 0;
  private retry: number | undefined;
  private watch: number | undefined;
  private lastHeard = 0;
  /** When the unanswered `ping` went out; undefined while none is out. */
  private pingSent: number | undefined;
  /** When the server took the open link (its `user_info`); undefined before. */
  private takenAt: number | undefined;

  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly transports: string[] | undefined,
    private readonly events: LinkEvents,
    /**
     * Asked on every (re)connect, before the link opens: the first frame,
     * which says who the browser is (a ticket, or its guest token), so that
     * nothing of the kind goes in the URL. Throws SignedOut when it cannot.
     */
    private readonly hello: () => Promise<ClientRequest>,
  ) {}

  start(): void {
    // The browser knows when the network is back before any backoff timer does.
    window.addEventListener("online", () => {
      if (this.retry !== undefined) this.connect();
    });
    this.connect();
  }

  /** False when there is no open link: the frame is not queued. */
  send(frame: ClientRequest): boolean {
    if (this.sock?.readyState !== SockJS.OPEN) return false;
    this.sock.send(JSON.stringify(frame));
    return true;
  }

  private connect(): void {
    window.clearTimeout(this.retry);
    this.retry = undefined;
    if (this.stopped) return;
    this.events.state("connecting");
    this.hello().then(
      (first) => this.open(first),
      (err: unknown) => {
        if (err instanceof SignedOut) return this.refuse("ended");
        // The server is out of reach for the ticket as for the link: the same back-off.
        this.events.state("offline");
        this.scheduleRetry();
      },
    );
  }

  private refuse(why: "needed" | "ended" | "disabled"): void {
    this.stopped = true;
    this.events.state("offline");
    this.events.refused(why);
  }

  private open(first: ClientRequest): void {
    const sock: Socket = new SockJS(this.url, null, { transports: this.transports });
    this.sock = sock;
    this.takenAt = undefined;
    sock.onopen = () => {
      sock.send(JSON.stringify(first));
      this.heard();
      this.watch = window.setInterval(() => this.check(sock), CHECK_EVERY_MS);
      this.events.state("online", sock.transport ?? undefined);
    };
    sock.onmessage = (event: MessageEvent<string>) => {
      this.heard();
      const frame = parseFrame(event.data);
      if (!frame || frame.action === "pong") return;
      // Only a server that took the connection says who the user is: one that opens and refuses is no reason to hurry back.
      if (frame.action === "user_info") this.takenAt ??= Date.now();
      this.events.frame(frame);
    };
    sock.onclose = (event: CloseEvent) => {
      const refused = REFUSED[event.code];
      if (refused !== undefined && this.sock === sock) {
        this.sock = null;
        window.clearInterval(this.watch);
        this.refuse(refused);
        return;
      }
      this.lost(sock);
    };
  }

  private heard(): void {
    this.lastHeard = Date.now();
    this.pingSent = undefined;
  }

  private check(sock: Socket): void {
    const now = Date.now();
    if (this.pingSent !== undefined) {
      if (now - this.pingSent >= ANSWER_DUE_MS) {
        sock.close();
        this.lost(sock);
      }
    } else if (now - this.lastHeard >= QUIET_MS && this.send({ action: "ping" })) {
      this.pingSent = now;
    }
  }

  private lost(sock: Socket): void {
    if (this.sock !== sock) return;
    this.sock = null;
    window.clearInterval(this.watch);
    this.watch = undefined;
    this.pingSent = undefined;
    if (this.takenAt !== undefined && Date.now() - this.takenAt >= STABLE_MS) this.failures = 0;
    this.events.state("offline");
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    const delay = retryDelay(this.failures, Math.random());
    this.failures += 1;
    this.retry = window.setTimeout(() => this.connect(), delay);
  }
}
