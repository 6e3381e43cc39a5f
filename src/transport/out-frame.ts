import { quote } from "./sockjs-json.js";
import { PreparedFrame } from "./ws-frames.js";

/**
 * One outgoing message, encoded at most once however many connections it
 * goes to: its SockJS-quoted text, and the websocket frames that carry it.
 */
export class OutFrame {
  private quotedText: string | undefined;
  private sockjsFrame: PreparedFrame | undefined;
  private rawFrame: PreparedFrame | undefined;
  /**
   * The last batch this frame began. The members of a room get the room's
   * publications of one tick in the same order, so the first connection to
   * flush encodes the batch and the others reuse it.
   */
  private batch: { frames: readonly OutFrame[]; prepared: PreparedFrame } | undefined;

  constructor(
    readonly text: string,
    quoted?: string,
  ) {
    this.quotedText = quoted;
  }

  /**
   * Text made of parts, some of them frames whose quoted form exists already
   * (a page of history many requesters get): quoting is per character, so the
   * parts' quoted forms make the whole's, and the large parts are quoted once.
   */
  static join(parts: readonly (string | OutFrame)[]): OutFrame {
    let text = "";
    let inner = "";
    for (const part of parts) {
      const frame = typeof part === "string" ? new OutFrame(part) : part;
      text += frame.text;
      inner += frame.quoted.slice(1, -1);
    }
    return new OutFrame(text, `"${inner}"`);
  }

  get quoted(): string {
    this.quotedText ??= quote(this.text);
    return this.quotedText;
  }

  /** `a["..."]` in a websocket frame. */
  get websocket(): PreparedFrame {
    this.sockjsFrame ??= new PreparedFrame(`a[${this.quoted}]`);
    return this.sockjsFrame;
  }

  /** The text alone in a websocket frame, for the raw websocket endpoint. */
  get raw(): PreparedFrame {
    this.rawFrame ??= new PreparedFrame(this.text);
    return this.rawFrame;
  }

  /** `frames` (which begin with this one) as one SockJS frame in one websocket frame. */
  batchWith(frames: readonly OutFrame[]): PreparedFrame {
    const cached = this.batch;
    if (cached && sameFrames(cached.frames, frames)) return cached.prepared;
    const prepared = new PreparedFrame(arrayFrame(frames));
    this.batch = { frames, prepared };
    return prepared;
  }
}

function sameFrames(a: readonly OutFrame[], b: readonly OutFrame[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `a[...]`: several messages as one SockJS frame. */
export function arrayFrame(frames: readonly OutFrame[]): string {
  if (frames.length === 1) return `a[${(frames[0] as OutFrame).quoted}]`;
  let text = "a[";
  for (let i = 0; i < frames.length; i++) text += (i === 0 ? "" : ",") + (frames[i] as OutFrame).quoted;
  return `${text}]`;
}

/** What goes to a SockJS websocket for one tick's frames. */
export function websocketFrameFor(frames: readonly OutFrame[]): PreparedFrame {
  const first = frames[0] as OutFrame;
  return frames.length === 1 ? first.websocket : first.batchWith(frames);
}
