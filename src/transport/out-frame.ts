import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
/** sockjs's own quoting: JSON plus escapes for the characters some browsers mangle in transit. */
const { quote } = require("sockjs/lib/utils.js") as { quote(text: string): string };

/**
 * One outgoing chat frame, encoded at most once however many connections it
 * goes to: its SockJS-quoted form, and the complete websocket frame that
 * carries it alone (server frames are unmasked, so the bytes are the same
 * for every recipient).
 */
export class OutFrame {
  private quotedText: string | undefined;
  private websocketFrame: Buffer | undefined;

  constructor(readonly text: string) {}

  get quoted(): string {
    this.quotedText ??= quote(this.text);
    return this.quotedText;
  }

  /** `a["..."]` in a websocket text frame. */
  get websocketBytes(): Buffer {
    this.websocketFrame ??= websocketTextFrame(`a[${this.quoted}]`);
    return this.websocketFrame;
  }
}

/** Several frames as one SockJS array frame, for a connection that has more than one waiting. */
export function websocketBatch(frames: OutFrame[]): Buffer {
  return websocketTextFrame(`a[${frames.map((f) => f.quoted).join(",")}]`);
}

function websocketTextFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  // FIN and the text opcode.
  frame[0] = 0x81;
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  frame.write(text, headerLength, "utf8");
  return frame;
}
