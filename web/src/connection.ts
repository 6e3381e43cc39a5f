import SockJS from "sockjs-client";
import { type ClientRequest, parseFrame, type ServerFrame } from "./protocol";

export type LinkState = "connecting" | "online" | "offline";

export interface LinkEvents {
  /** `transport` is the SockJS transport in use, given while online. */
  state(state: LinkState, transport?: string): void;
  frame(frame: ServerFrame): void;
}

// The typings leave out the name of the transport SockJS settled on.
type Socket = WebSocket & { transport?: string | null };

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;

/** One SockJS link that keeps coming back: reconnects with jittered exponential backoff. */
export class Connection {
  private sock: Socket | null = null;
  private failures = 0;
  private retry: number | undefined;

  constructor(
    /** Asked on every (re)connect: the query carries what the client knows by then (its guest token). */
    private readonly url: () => string,
    private readonly transports: string[] | undefined,
    private readonly events: LinkEvents,
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
    this.events.state("connecting");
    const sock: Socket = new SockJS(this.url(), null, { transports: this.transports });
    this.sock = sock;
    sock.onopen = () => {
      this.failures = 0;
      this.events.state("online", sock.transport ?? undefined);
    };
    sock.onmessage = (event: MessageEvent<string>) => {
      const frame = parseFrame(event.data);
      if (frame) this.events.frame(frame);
    };
    sock.onclose = () => {
      if (this.sock !== sock) return;
      this.sock = null;
      this.events.state("offline");
      this.scheduleRetry();
    };
  }

  private scheduleRetry(): void {
    const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.failures);
    this.failures += 1;
    // Jitter keeps a crowd of clients dropped together from returning together.
    const delay = ceiling / 2 + (Math.random() * ceiling) / 2;
    this.retry = window.setTimeout(() => this.connect(), delay);
  }
}
