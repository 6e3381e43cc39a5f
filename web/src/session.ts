/**
 * What the user writes and sends, as a pure reducer: user intents and what
 * the link and the server say go in, the next state and the messages to put
 * on the wire come out. Nothing here touches the page or the network, so the
 * rules that keep a draft where it was typed and send each message once
 * (issue 19, items 1, 3 and 8) are checked by unit tests as well as in Chromium.
 */

/** What was typed in one place and not sent, and the title to list that place under if the page has forgotten it. */
export interface Draft {
  readonly text: string;
  readonly title: string;
}

/** One of the user's messages the server has not acknowledged. */
export interface Outgoing {
  /**
   * Its idempotency key for as long as it is not acknowledged: every resend
   * carries the same one, so the server stores it once however often the
   * link drops before the `ack` comes.
   */
  readonly ref: string;
  /** The place it was written in. */
  readonly key: string;
  readonly text: string;
  /** On its way, or held until the link is back. */
  readonly state: "sending" | "waiting";
}

export interface Session {
  /** Part of every ref, unique to this page, so that no other tab or reload of the same user makes the same refs. */
  readonly prefix: string;
  /** The link is up and this connection's places were asked for: requests about them may go. */
  readonly online: boolean;
  /** The place on screen, by key. */
  readonly current: string | null;
  /** What the composer holds (outside an edit): the draft of the place on screen. */
  readonly composer: string;
  /**
   * Each place's draft, by key: given back only to the place it was typed
   * in, and kept apart from the places, so it outlives one the page drops.
   */
  readonly drafts: Readonly<Record<string, Draft>>;
  /** Conversations whose other person the server no longer knows: nothing can be sent there. */
  readonly gone: ReadonlySet<string>;
  /** Unacknowledged messages, in the order they were written. */
  readonly outbox: readonly Outgoing[];
  /** Messages written on this page: numbers the refs. */
  readonly written: number;
}

export type Input =
  /** The user changed the composer's text. */
  | { type: "type"; text: string }
  /** The view moves to another place, or to none. */
  | { type: "show"; key: string | null }
  /** The user sends the composer's text. */
  | { type: "send"; text: string }
  /** The user sends a refused message again. */
  | { type: "retry"; message: Outgoing }
  /** The link is up and the places were asked for again. */
  | { type: "link-up" }
  | { type: "link-down" }
  | { type: "ack"; ref: string }
  | { type: "refused"; ref: string }
  /** The server does not know the other person of conversation `key` (it forgot its guests on a restart). */
  | { type: "unknown-person"; key: string }
  /** The place `key` was joined: whoever is there is known. */
  | { type: "joined"; key: string };

export interface Step {
  readonly session: Session;
  /** Messages to put on the wire now, in order. */
  readonly transmit: readonly Outgoing[];
  /** The message that left the outbox: stored (`ack`) or refused. */
  readonly settled?: Outgoing;
  /** Why a `send` was not taken. */
  readonly refusal?: "no-place" | "gone";
}

/**
 * A page's session. `drafts` and `unsent` are what an earlier page left: its
 * unacknowledged messages wait for the link and go out under their own refs,
 * so a reload loses none and the server stores none twice.
 */
export function newSession(
  prefix: string,
  drafts: Record<string, Draft> = {},
  unsent: readonly Pick<Outgoing, "ref" | "key" | "text">[] = [],
): Session {
  return {
    prefix,
    online: false,
    current: null,
    composer: "",
    drafts: Object.fromEntries(Object.entries(drafts).filter(([, d]) => d.text !== "")),
    gone: new Set(),
    outbox: unsent.map(({ ref, key, text }) => ({ ref, key, text, state: "waiting" as const })),
    written: 0,
  };
}

/** `drafts` with the draft of `key` set to `text`; an empty text takes it out. */
function withDraft(drafts: Session["drafts"], key: string, text: string, title: string): Session["drafts"] {
  if ((drafts[key]?.text ?? "") === text) return drafts;
  const { [key]: _, ...rest } = drafts;
  return text === "" ? rest : { ...rest, [key]: { text, title } };
}

/**
 * The next state. `titleOf` names a place, for a draft made there (a
 * conversation with a draft is listed again after a reload under that name).
 */
export function step(s: Session, input: Input, titleOf: (key: string) => string): Step {
  const none: readonly Outgoing[] = [];
  switch (input.type) {
    case "type": {
      const drafts = s.current === null ? s.drafts : withDraft(s.drafts, s.current, input.text, titleOf(s.current));
      return { session: { ...s, composer: input.text, drafts }, transmit: none };
    }
    case "show": {
      if (input.key === s.current) return { session: s, transmit: none };
      // Text typed while no place was open belongs to none: it stays, unless the place has its own draft.
      const stray = s.current === null ? s.composer : "";
      const composer = input.key === null ? "" : s.drafts[input.key]?.text || stray;
      return { session: { ...s, current: input.key, composer }, transmit: none };
    }
    case "send": {
      if (s.current === null) return { session: s, transmit: none, refusal: "no-place" };
      if (s.gone.has(s.current)) return { session: s, transmit: none, refusal: "gone" };
      const message: Outgoing = {
        ref: `${s.prefix}${s.written + 1}`,
        key: s.current,
        text: input.text,
        state: s.online ? "sending" : "waiting",
      };
      const session = {
        ...s,
        written: s.written + 1,
        outbox: [...s.outbox, message],
        composer: "",
        drafts: withDraft(s.drafts, s.current, "", ""),
      };
      return { session, transmit: s.online ? [message] : none };
    }
    case "retry": {
      const message: Outgoing = { ...input.message, state: s.online ? "sending" : "waiting" };
      const { key, text } = message;
      // The box and the draft let go of the text they were given back, if they still hold it.
      const composer = s.current === key && s.composer === text ? "" : s.composer;
      const drafts = s.drafts[key]?.text === text ? withDraft(s.drafts, key, "", "") : s.drafts;
      const session = { ...s, composer, drafts, outbox: [...s.outbox, message] };
      return { session, transmit: s.online ? [message] : none };
    }
    case "link-up": {
      // What waits goes out, oldest first, with the refs it has had since it was written.
      const transmit = s.outbox.filter((m) => m.state === "waiting").map((m) => ({ ...m, state: "sending" as const }));
      const outbox = s.outbox.map((m) => (m.state === "waiting" ? { ...m, state: "sending" as const } : m));
      return { session: { ...s, online: true, outbox }, transmit };
    }
    case "link-down": {
      // Whether what was on its way was stored is unknown: it goes again, safely, under the same ref.
      const outbox = s.outbox.map((m) => (m.state === "sending" ? { ...m, state: "waiting" as const } : m));
      return { session: { ...s, online: false, outbox }, transmit: none };
    }
    case "ack": {
      const settled = s.outbox.find((m) => m.ref === input.ref);
      if (!settled) return { session: s, transmit: none };
      return { session: { ...s, outbox: s.outbox.filter((m) => m !== settled) }, transmit: none, settled };
    }
    case "refused": {
      const settled = s.outbox.find((m) => m.ref === input.ref);
      if (!settled) return { session: s, transmit: none };
      const outbox = s.outbox.filter((m) => m !== settled);
      const { key, text } = settled;
      // The text goes back where it was written: the box, if that place is on screen and the box is empty; else its draft.
      if (s.current === key && s.composer === "") {
        const drafts = withDraft(s.drafts, key, text, titleOf(key));
        return { session: { ...s, outbox, composer: text, drafts }, transmit: none, settled };
      }
      const drafts = s.drafts[key] === undefined ? withDraft(s.drafts, key, text, titleOf(key)) : s.drafts;
      return { session: { ...s, outbox, drafts }, transmit: none, settled };
    }
    case "unknown-person":
      return { session: { ...s, gone: new Set([...s.gone, input.key]) }, transmit: none };
    case "joined": {
      if (!s.gone.has(input.key)) return { session: s, transmit: none };
      const gone = new Set(s.gone);
      gone.delete(input.key);
      return { session: { ...s, gone }, transmit: none };
    }
  }
}
