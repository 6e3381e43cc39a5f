import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { isSafeHeaderValue } from "./http-headers.js";
import { StallWatch } from "./response-receiver.js";
import type { Receiver } from "./sockjs-session.js";

/**
 * The draft-76 ("hixie-76") websocket handshake and framing, which SockJS
 * still lists and `ws` does not speak. No browser has used it since 2012;
 * HAProxy-era deployments did, and the SockJS protocol suite checks it.
 * Frames are `0x00 <UTF-8 text> 0xFF`; `0xFF 0x00` closes.
 */

const KEY3_TIMEOUT_MS = 5000;

export function isHixie76(req: IncomingMessage): boolean {
  return (
    req.headers["sec-websocket-key"] === undefined &&
    typeof req.headers["sec-websocket-key1"] === "string" &&
    typeof req.headers["sec-websocket-key2"] === "string"
  );
}

/** A draft-76 key: its digits as a number, divided by its count of spaces; undefined if malformed. */
function keyNumber(key: string): number | undefined {
  const digits = key.replace(/[^0-9]/g, "");
  const spaces = key.split(" ").length - 1;
  if (digits.length === 0 || digits.length > 10 || spaces === 0) return undefined;
  const n = Number(digits);
  if (n % spaces !== 0 || n / spaces > 0xffffffff) return undefined;
  return n / spaces;
}

export interface Hixie76Events {
  /** The handshake is complete: frames may be sent. */
  onOpen(connection: Hixie76Connection): void;
  onText(text: string): void;
  /** The socket is gone, whoever closed it. */
  onGone(): void;
}

/**
 * One draft-76 websocket, as a session's receiver. The 101 response goes
 * out before the client's eight-byte key arrives, as HAProxy requires.
 */
export class Hixie76Connection implements Receiver {
  private buffer: Buffer = Buffer.alloc(0);
  private open = false;
  private gone = false;
  private readonly watch = new StallWatch();

  private constructor(
    private readonly socket: Duplex,
    private readonly maxMessageBytes: number,
    private readonly events: Hixie76Events,
  ) {}

  /** Answers the handshake, or refuses it with 400 and returns false. */
  static accept(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    maxMessageBytes: number,
    events: Hixie76Events,
  ): boolean {
    const n1 = keyNumber(String(req.headers["sec-websocket-key1"]));
    const n2 = keyNumber(String(req.headers["sec-websocket-key2"]));
    const origin = String(req.headers.origin ?? "null");
    const location = `ws://${req.headers.host ?? "localhost"}${req.url ?? "/"}`;
    if (n1 === undefined || n2 === undefined || !isSafeHeaderValue(origin) || !isSafeHeaderValue(location)) {
      socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return false;
    }
    const connection = new Hixie76Connection(socket, maxMessageBytes, events);
    socket.write(
      "HTTP/1.1 101 WebSocket Protocol Handshake\r\n" +
        "Upgrade: WebSocket\r\n" +
        "Connection: Upgrade\r\n" +
        `Sec-WebSocket-Origin: ${origin}\r\n` +
        `Sec-WebSocket-Location: ${location}\r\n\r\n`,
    );
    const keys = Buffer.alloc(8);
    keys.writeUInt32BE(n1, 0);
    keys.writeUInt32BE(n2, 4);
    const timer = setTimeout(() => socket.destroy(), KEY3_TIMEOUT_MS);
    timer.unref();
    socket.on("error", () => undefined);
    socket.once("close", () => {
      clearTimeout(timer);
      connection.gone = true;
      events.onGone();
    });
    socket.on("data", (chunk: Buffer) => connection.onData(chunk, keys, timer));
    if (head.length > 0) connection.onData(head, keys, timer);
    return true;
  }

  get backlog(): number {
    return this.gone ? 0 : this.socket.writableLength;
  }

  sendFrame(frame: string): void {
    if (!this.open || this.gone) return;
    const length = Buffer.byteLength(frame);
    const bytes = Buffer.allocUnsafe(length + 2);
    bytes[0] = 0x00;
    bytes.write(frame, 1, "utf8");
    bytes[length + 1] = 0xff;
    this.socket.write(bytes);
  }

  end(): void {
    if (this.gone) return;
    this.gone = true;
    this.socket.end(Buffer.from([0xff, 0x00]));
    // A client that never closes its side must not hold the socket.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  stalled(): boolean {
    return this.watch.check(this.backlog);
  }

  private onData(chunk: Buffer, keys: Buffer, timer: NodeJS.Timeout): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    if (!this.open) {
      if (this.buffer.length < 8) return;
      clearTimeout(timer);
      const key3 = this.buffer.subarray(0, 8);
      this.buffer = this.buffer.subarray(8);
      this.socket.write(createHash("md5").update(keys).update(key3).digest());
      this.open = true;
      this.events.onOpen(this);
    }
    this.readFrames();
  }

  private readFrames(): void {
    while (this.buffer.length > 0 && !this.gone) {
      const type = this.buffer[0];
      if (type === 0x00) {
        const endAt = this.buffer.indexOf(0xff, 1);
        if (endAt === -1) {
          if (this.buffer.length > this.maxMessageBytes + 1) this.socket.destroy();
          return;
        }
        if (endAt - 1 > this.maxMessageBytes) {
          this.socket.destroy();
          return;
        }
        const text = this.buffer.toString("utf8", 1, endAt);
        this.buffer = this.buffer.subarray(endAt + 1);
        this.events.onText(text);
      } else if (type === 0xff && this.buffer.length >= 2 && this.buffer[1] === 0x00) {
        // The client's closing handshake: answer it; the socket's close ends the session.
        this.end();
        return;
      } else if (type === 0xff && this.buffer.length < 2) {
        return;
      } else {
        // Length-prefixed binary frames: never sent by a SockJS client.
        this.socket.destroy();
        return;
      }
    }
  }
}
