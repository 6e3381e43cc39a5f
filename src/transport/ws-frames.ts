import type { WebSocket } from "ws";

/** FIN and the text opcode: every frame a server sends here is one whole text message. */
const FIN_TEXT = 0x81;

/**
 * A complete unmasked websocket text frame (RFC 6455, 5.2): server frames
 * are never masked, so the same bytes serve every recipient. Framed here in
 * one buffer, header and payload, rather than by ws's Sender, which encodes
 * the payload into one buffer and copies it with the header into another.
 */
export class PreparedFrame {
  readonly bytes: Buffer;
  private readonly payloadLength: number;

  constructor(payload: string) {
    const length = Buffer.byteLength(payload);
    const head = length < 126 ? 2 : length < 65_536 ? 4 : 10;
    const bytes = Buffer.allocUnsafe(head + length);
    bytes[0] = FIN_TEXT;
    if (head === 2) {
      bytes[1] = length;
    } else if (head === 4) {
      bytes[1] = 126;
      bytes.writeUInt16BE(length, 2);
    } else {
      bytes[1] = 127;
      bytes.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
      bytes.writeUInt32BE(length >>> 0, 6);
    }
    bytes.write(payload, head);
    this.bytes = bytes;
    this.payloadLength = length;
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
