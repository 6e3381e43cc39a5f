import { createRequire } from "node:module";
import type { WebSocket } from "ws";

const require = createRequire(import.meta.url);

interface FrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
}

// ws's own framing: a public static that @types/ws does not declare.
const { Sender } = require("ws") as { Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] } };

const TEXT: FrameOptions = { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false };

/**
 * A complete unmasked websocket text frame, framed once by ws: server frames
 * are never masked, so the same bytes serve every recipient.
 */
export class PreparedFrame {
  readonly bytes: Buffer;
  private readonly payloadLength: number;

  constructor(payload: string) {
    const data = Buffer.from(payload);
    this.payloadLength = data.length;
    const parts = Sender.frame(data, TEXT);
    this.bytes = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  }

  /** The payload alone, a view of the same memory. */
  get payload(): Buffer {
    return this.bytes.subarray(this.bytes.length - this.payloadLength);
  }
}

interface SenderInternals {
  _sender?: { sendFrame?(list: Buffer[], cb?: (err?: Error) => void): void };
}

/**
 * Writes a prepared frame, as engine.io writes its broadcasts: straight to
 * ws's Sender, which puts it on the socket as is. Without compression (we
 * never negotiate it) the Sender has no queue that this could overtake.
 * Should a later ws drop that method, ws.send frames the shared payload
 * itself.
 */
export function writePrepared(ws: WebSocket, frame: PreparedFrame): void {
  const sender = (ws as unknown as SenderInternals)._sender;
  if (typeof sender?.sendFrame === "function") sender.sendFrame([frame.bytes]);
  else ws.send(frame.payload, { binary: false });
}
