import { RequestError } from "./errors.js";
import type { RoomTextLimits } from "./rooms.js";

/** The lengths a deployment sets (MAX_MESSAGE_LENGTH, MAX_MESSAGE_BYTES, MAX_NAME_LENGTH, MAX_ROOM_LENGTH). */
export interface Limits {
  maxMessageLength: number;
  maxMessageBytes: number;
  maxNameLength: number;
  maxRoomLength: number;
}

/** The room a connection is put in, and that requests without a `room` mean. */
export const DEFAULT_ROOM = "lobby";

// Characters that draw nothing or change how the rest is drawn: controls,
// format characters (bidi overrides, zero-width joiners, the soft hyphen),
// default-ignorable ones (the combining grapheme joiner, Hangul fillers),
// private use, unassigned code points, line or paragraph separators, and lone surrogates (which
// draw as a replacement mark, and whose JSON escape Redis's scripts cannot read).
const HIDDEN = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/u;
// Spaces, marks and the blank braille pattern: a name of only these looks empty.
const BLANK = /^[\p{White_Space}\p{M}\u2800]*$/u;
/** Labels the web client gives things; a name must not pass for them. */
const RESERVED = new Set(["you"]);

/**
 * A name as it will be shown: NFKC-normalised (so that full-width and other
 * compatibility forms become what they look like), runs of spaces made one,
 * trimmed. Refused if empty, too long, blank when drawn, holding a character
 * that draws nothing or rearranges the rest, or one of the client's labels.
 */
export function checkName(raw: string, limits: Limits): string {
  // Variation selectors only pick a glyph style (❤ or ❤️): dropped, not refused.
  const name = raw
    .normalize("NFKC")
    .replace(/[\ufe00-\ufe0f]/gu, "")
    .replace(/\s+/gu, " ")
    .trim();
  if (name.length === 0) throw new RequestError("bad_name", "name must not be empty");
  if (name.length > limits.maxNameLength) {
    throw new RequestError("bad_name", `name is longer than ${limits.maxNameLength} characters`);
  }
  if (HIDDEN.test(name)) throw new RequestError("bad_name", "name contains invisible or control characters");
  if (BLANK.test(name)) throw new RequestError("bad_name", "name would show as blank");
  if (RESERVED.has(foldName(name))) throw new RequestError("bad_name", `'${name}' is reserved`);
  return name;
}

/** What two names are compared by: 'ALICE', 'alice' and 'Ａｌｉｃｅ' are one name. */
export function foldName(name: string): string {
  return name.normalize("NFKC").toLowerCase();
}

// A private room's id ends in `~` and twelve random letters and digits (see rooms.ts), past MAX_ROOM_LENGTH.
const roomPattern = /^([a-z0-9][a-z0-9_-]*)(~[a-z0-9]{12})?$/;

/** A room id folded to lower case and trimmed, or a `bad_room` refusal. */
export function checkRoom(raw: string, limits: Limits): string {
  const room = raw.trim().toLowerCase();
  const base = roomPattern.exec(room)?.[1];
  if (base === undefined || base.length > limits.maxRoomLength) {
    throw new RequestError(
      "bad_room",
      `room must be 1-${limits.maxRoomLength} of a-z 0-9 _ - and start with a letter or digit`,
    );
  }
  return room;
}

// Controls and format characters, but for newline and tab (text) and the zero-width joiner and
// non-joiner, without which an emoji sequence (👩‍💻) or a Persian word cannot be written; and lone
// surrogates. Stored as JSON a control takes six bytes (\u0001) for one character, and format
// characters (bidi overrides, zero-width spaces) rearrange or hide what others read.
const UNWRITABLE = /(?![\n\t\u200c\u200d])[\p{Cc}\p{Cf}\p{Cs}]/u;

/** The bytes a text takes stored: UTF-8 of its JSON string, quotes left out. */
export function storedBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text)) - 2;
}

/** Message text as sent, or an `empty`, `bad_text` or `too_long` refusal. */
export function checkText(raw: string, limits: Limits): string {
  if (raw.trim().length === 0) throw new RequestError("empty", "message is empty");
  if (raw.length > limits.maxMessageLength) {
    throw new RequestError("too_long", `message is longer than ${limits.maxMessageLength} characters`);
  }
  const unwritable = UNWRITABLE.exec(raw)?.[0];
  if (unwritable !== undefined) {
    const code = (unwritable.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0");
    throw new RequestError("bad_text", `message contains a control or format character (U+${code})`);
  }
  if (storedBytes(raw) > limits.maxMessageBytes) {
    throw new RequestError("too_long", `message takes more than ${limits.maxMessageBytes} bytes`);
  }
  return raw;
}

/** A room's display name, normalised as people's names are, or a `bad_room_name` refusal. */
export function checkRoomName(raw: string, limits: RoomTextLimits): string {
  try {
    return checkName(raw, {
      maxNameLength: limits.maxRoomNameLength,
      maxMessageLength: 0,
      maxMessageBytes: 0,
      maxRoomLength: 0,
    });
  } catch (err) {
    if (err instanceof RequestError) throw new RequestError("bad_room_name", err.message.replace(/^name/, "room name"));
    throw err;
  }
}

// As a message's text, a topic may hold no control or format character; unlike it, no line break either: it is one line in a header.
const UNWRITABLE_TOPIC = /(?![\u200c\u200d])[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

/** A room's topic, trimmed (empty for none), or a `bad_topic` refusal. */
export function checkTopic(raw: string, limits: RoomTextLimits): string {
  const topic = raw.normalize("NFC").trim();
  if (topic.length > limits.maxTopicLength) {
    throw new RequestError("bad_topic", `topic is longer than ${limits.maxTopicLength} characters`);
  }
  if (UNWRITABLE_TOPIC.test(topic)) throw new RequestError("bad_topic", "topic contains a control or line break");
  return topic;
}
