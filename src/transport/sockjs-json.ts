/**
 * JSON as SockJS writes and reads it: the escapes its clients need, and the
 * arrays of message strings they send.
 */

// Characters some browsers and proxies mangle in transit; SockJS clients
// expect them as \u escapes with lower-case hex. JSON.stringify already
// escapes the control characters and lone surrogates.
const MANGLED = /[\u200c-\u200f\u2028-\u202f\u2060-\u206f\ufff0-\uffff]/g;

const escapeChar = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/** A string as a SockJS JSON string literal. */
export function quote(text: string): string {
  const json = JSON.stringify(text);
  MANGLED.lastIndex = 0;
  return MANGLED.test(json) ? json.replace(MANGLED, escapeChar) : json;
}

/** The close frame: `c[code,"reason"]`. */
export function closeFrame(code: number, reason: string): string {
  return `c[${code},${quote(reason)}]`;
}

// Inside <script>, `</script>` and `<!--` end or change the script whatever
// the JavaScript says; U+2028/U+2029 end a line in older engines.
const UNSAFE_IN_SCRIPT = /[<>&\u2028\u2029]/g;

/**
 * A frame as a JavaScript string literal that is safe inside an HTML
 * `<script>` element and inside a JSONP callback's argument.
 */
export function scriptString(frame: string): string {
  return JSON.stringify(frame).replace(UNSAFE_IN_SCRIPT, escapeChar);
}

export class BrokenFraming extends Error {}

/**
 * Reads what a client sent: a JSON array of message strings (or, over a
 * websocket, one JSON string). Anything else is broken framing, refused
 * whole, so that no part of a malformed frame is acted on.
 */
export function parseMessages(payload: string, single: "allow-single" | "array-only"): string[] {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    throw new BrokenFraming("Broken JSON encoding.");
  }
  if (typeof value === "string" && single === "allow-single") return [value];
  if (!Array.isArray(value)) throw new BrokenFraming("Payload expected.");
  for (const item of value) {
    if (typeof item !== "string") throw new BrokenFraming("Payload expected.");
  }
  return value as string[];
}
