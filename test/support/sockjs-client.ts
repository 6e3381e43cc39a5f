import { randomBytes } from "node:crypto";
import http from "node:http";
import WebSocket from "ws";
import { checkServerFrame } from "./protocol-check.js";

/**
 * A SockJS client for tests and the benchmark, speaking the protocol's framed
 * transports directly (as sockjs-client does) so a test can pick the
 * transport and see every frame: `websocket`, `xhr-streaming`, `xhr-polling`.
 */
export type Transport = "websocket" | "xhr-streaming" | "xhr-polling";

export type Frame = Record<string, unknown> & { action: string };

export interface ClientOptions {
  transport?: Transport;
  /** Query string for the session URL, e.g. `lobby=0`. */
  query?: string;
  headers?: Record<string, string>;
  /** The address to connect from (127.x.y.z): a load balancer that hashes the client's address then sees another client. */
  localAddress?: string;
}

interface Reply {
  ok: boolean;
  status: number;
  body: AsyncIterable<Uint8Array>;
  text(): Promise<string>;
}

/** fetch() for this client's few requests, from a chosen local address (fetch cannot pick one). */
function request(
  url: string,
  init: { method: string; headers?: Record<string, string>; body?: string; open?: Set<http.ClientRequest> },
  localAddress?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: init.method, headers: init.headers, localAddress }, (res) => {
      // A request this client cuts short (it closed) ends its response early; its reader sees that.
      res.on("error", () => undefined);
      res.once("close", () => init.open?.delete(req));
      const status = res.statusCode ?? 0;
      resolve({
        ok: status >= 200 && status < 300,
        status,
        body: res,
        text: async () => {
          let text = "";
          for await (const chunk of res) text += String(chunk);
          return text;
        },
      });
    });
    init.open?.add(req);
    req.on("error", reject);
    req.end(init.body);
  });
}

type Waiter = { match: (f: Frame) => boolean; resolve: (f: Frame) => void };

export class SockClient {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: Waiter[] = [];
  private listeners: ((f: Frame) => void)[] = [];
  private closeListeners: ((closed: { code: number; reason: string }) => void)[] = [];
  private closeWaiters: (() => void)[] = [];
  private sendChain: Promise<void> = Promise.resolve();
  private ws: WebSocket | undefined;
  /** This client's long-lived HTTP requests, cut short when it stops. */
  private readonly open = new Set<http.ClientRequest>();
  private stopped = false;
  private opened!: () => void;
  private failed!: (err: Error) => void;
  readonly ready: Promise<void>;
  readonly sessionUrl: string;

  private constructor(
    base: string,
    readonly transport: Transport,
    private readonly options: ClientOptions,
  ) {
    const server = String(Math.floor(Math.random() * 1000)).padStart(3, "0");
    const session = randomBytes(6).toString("hex");
    this.sessionUrl = `${base}/sock/${server}/${session}`;
    this.ready = new Promise((resolve, reject) => {
      this.opened = resolve;
      this.failed = reject;
    });
  }

  static async connect(base: string, options: ClientOptions = {}): Promise<SockClient> {
    const client = new SockClient(base, options.transport ?? "websocket", options);
    client.start();
    await client.ready;
    return client;
  }

  private url(suffix: string): string {
    return `${this.sessionUrl}/${suffix}${this.options.query ? `?${this.options.query}` : ""}`;
  }

  private start(): void {
    if (this.transport === "websocket") this.startWebsocket();
    else if (this.transport === "xhr-streaming") void this.startStreaming().catch((e) => this.fail(e));
    else void this.startPolling().catch((e) => this.fail(e));
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.failed(err);
    this.markClosed(1006, String(err.message));
  }

  private startWebsocket(): void {
    const ws = new WebSocket(this.url("websocket").replace(/^http/, "ws"), {
      headers: this.options.headers,
      localAddress: this.options.localAddress,
    });
    this.ws = ws;
    ws.on("message", (data) => this.onWire(String(data)));
    ws.on("error", (err) => this.fail(err));
    ws.on("close", (code, reason) => this.markClosed(code, String(reason) || "socket closed"));
  }

  private async startStreaming(): Promise<void> {
    const res = await request(
      this.url("xhr_streaming"),
      { method: "POST", headers: this.options.headers, open: this.open },
      this.options.localAddress,
    );
    if (!res.ok || !res.body) throw new Error(`xhr_streaming answered ${res.status}`);
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let nl = buffer.indexOf("\n");
        while (nl !== -1) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          // The 2 KiB prelude of `h`s primes browsers' streaming; it is not a frame.
          if (line.length > 0 && !/^h{2,}$/.test(line)) this.onWire(line);
          nl = buffer.indexOf("\n");
        }
      }
    } catch (err) {
      if (!this.stopped) throw err;
    }
    // sockjs ends a streaming response after response_limit bytes; the client reopens it.
    if (!this.closed && !this.stopped) await this.startStreaming();
  }

  private async startPolling(): Promise<void> {
    while (!this.closed && !this.stopped) {
      const res = await request(
        this.url("xhr"),
        { method: "POST", headers: this.options.headers, open: this.open },
        this.options.localAddress,
      );
      if (!res.ok) throw new Error(`xhr answered ${res.status}`);
      this.onWire((await res.text()).trimEnd());
    }
  }

  private onWire(frame: string): void {
    const kind = frame[0];
    if (kind === "o") this.opened();
    else if (kind === "a") for (const text of JSON.parse(frame.slice(1)) as string[]) this.onMessage(text);
    else if (kind === "c") {
      const [code, reason] = JSON.parse(frame.slice(1)) as [number, string];
      this.markClosed(code, reason);
      this.stop();
    }
  }

  private onMessage(text: string): void {
    checkServerFrame(text);
    const frame = JSON.parse(text) as Frame;
    this.frames.push(frame);
    for (const listener of this.listeners) listener(frame);
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(frame)) return true;
      w.resolve(frame);
      return false;
    });
  }

  private markClosed(code: number, reason: string, byServer = true): void {
    if (!this.closed) {
      this.closed = { code, reason };
      if (byServer) for (const l of this.closeListeners) l(this.closed);
    }
    for (const w of this.closeWaiters) w();
    this.closeWaiters = [];
  }

  private stop(): void {
    this.stopped = true;
    for (const req of this.open) req.destroy();
    this.open.clear();
    this.ws?.close();
  }

  /** Calls `listener` if the server ends the connection (not when this client closes it). */
  onClose(listener: (closed: { code: number; reason: string }) => void): void {
    this.closeListeners.push(listener);
  }

  /** Calls `listener` with every frame from now on, in arrival order. */
  onFrame(listener: (f: Frame) => void): void {
    this.listeners.push(listener);
  }

  /** Sends an object as JSON, or a string as the raw message text. */
  send(message: unknown): Promise<void> {
    return this.sendFrame([typeof message === "string" ? message : JSON.stringify(message)]);
  }

  /** Sends several message texts as one SockJS frame: one websocket message, or one xhr_send body. */
  sendFrame(texts: string[]): Promise<void> {
    if (this.ws) {
      this.ws.send(JSON.stringify(texts));
      return Promise.resolve();
    }
    this.sendChain = this.sendChain.then(async () => {
      const res = await request(
        this.url("xhr_send"),
        {
          method: "POST",
          headers: { "Content-Type": "text/plain", ...this.options.headers },
          body: JSON.stringify(texts),
        },
        this.options.localAddress,
      );
      await res.text();
      if (res.status !== 204 && res.status !== 200) throw new Error(`xhr_send answered ${res.status}`);
    });
    return this.sendChain;
  }

  /** The first frame, already received or still to come, that matches; frames before it stay available. */
  next(match: (f: Frame) => boolean, timeoutMs = 5000, what = "a matching frame"): Promise<Frame> {
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return this.waitNew(match, timeoutMs, what);
  }

  /** Like `next`, but only a frame that arrives from now on. */
  waitNew(match: (f: Frame) => boolean, timeoutMs = 5000, what = "a matching frame"): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(this.frames.slice(-5))}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  action(action: string, extra: (f: Frame) => boolean = () => true, timeoutMs?: number): Promise<Frame> {
    return this.next((f) => f.action === action && extra(f), timeoutMs, `'${action}'`);
  }

  /** Frames of one action received so far. */
  all(action: string): Frame[] {
    return this.frames.filter((f) => f.action === action);
  }

  waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("connection did not close")), timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(timer);
        resolve(this.closed as { code: number; reason: string });
      });
    });
  }

  /** Ends the session the way a closing browser does: drop the transport. */
  close(): void {
    this.markClosed(1000, "client closed", false);
    this.stop();
  }
}
