import { describe, expect, it } from "vitest";
import { type Input, newSession, type Session, step } from "../../web/src/session";

const title = (key: string) => (key.startsWith("@") ? `person ${key.slice(1)}` : key);

/** Runs `inputs` from `session`, returning the last step and everything put on the wire on the way. */
function run(session: Session, ...inputs: Input[]) {
  let s = session;
  const wire: string[] = [];
  let last = step(s, { type: "show", key: s.current }, title);
  for (const input of inputs) {
    last = step(s, input, title);
    s = last.session;
    wire.push(...last.transmit.map((m) => `${m.ref} ${m.key} ${m.text}`));
  }
  return { s, wire, last };
}

const start = newSession("p:");

describe("the session: drafts stay where they were typed (issue 19, item 1)", () => {
  it("keeps a draft with its place across a switch, and gives it back only there", () => {
    const { s } = run(
      start,
      { type: "show", key: "@grace" },
      { type: "type", text: "only for Grace" },
      { type: "show", key: "lobby" },
    );
    expect(s.composer).toBe("");
    expect(s.drafts).toEqual({ "@grace": { text: "only for Grace", title: "person grace" } });
    expect(run(s, { type: "show", key: "@grace" }).s.composer).toBe("only for Grace");
  });

  it("never sends a draft to the lobby when the person of its conversation is forgotten", () => {
    const { s, wire, last } = run(
      start,
      { type: "show", key: "@grace" },
      { type: "type", text: "private" },
      { type: "link-down" },
      { type: "link-up" },
      { type: "unknown-person", key: "@grace" },
      { type: "send", text: "private" },
    );
    expect(last.refusal).toBe("gone");
    expect(wire).toEqual([]);
    expect(s.current).toBe("@grace");
    expect(s.composer).toBe("private");
    // Had the page dropped the conversation instead, the draft stays its own: the lobby's box starts empty.
    const dropped = run(s, { type: "show", key: null }, { type: "show", key: "lobby" });
    expect(dropped.s.composer).toBe("");
    expect(dropped.s.drafts["@grace"]?.text).toBe("private");
    expect(run(dropped.s, { type: "type", text: "hello" }, { type: "send", text: "hello" }).wire).toEqual([
      "p:1 lobby hello",
    ]);
  });

  it("lets a conversation be written to again once its person is known again", () => {
    const { wire } = run(
      start,
      { type: "link-up" },
      { type: "show", key: "@grace" },
      { type: "unknown-person", key: "@grace" },
      { type: "joined", key: "@grace" },
      { type: "send", text: "hello again" },
    );
    expect(wire).toEqual(["p:1 @grace hello again"]);
  });

  it("takes drafts kept by an earlier page, and forgets a draft once sent", () => {
    const s = newSession("p:", { lobby: { text: "kept", title: "lobby" }, dev: { text: "", title: "dev" } });
    expect(Object.keys(s.drafts)).toEqual(["lobby"]);
    const after = run(s, { type: "link-up" }, { type: "show", key: "lobby" }, { type: "send", text: "kept" });
    expect(after.s.drafts).toEqual({});
    expect(after.s.composer).toBe("");
  });

  it("refuses to send with no place on screen", () => {
    expect(run(start, { type: "send", text: "hi" }).last.refusal).toBe("no-place");
  });
});

describe("the session: each message sent once, in order, whatever the link does (items 3 and 8)", () => {
  it("queues what is written offline and sends it in order, with its refs, once the link is up", () => {
    const { s, wire } = run(
      start,
      { type: "show", key: "lobby" },
      { type: "send", text: "one" },
      { type: "send", text: "two" },
    );
    expect(wire).toEqual([]);
    expect(s.outbox.map((m) => m.state)).toEqual(["waiting", "waiting"]);
    expect(run(s, { type: "link-up" }).wire).toEqual(["p:1 lobby one", "p:2 lobby two"]);
  });

  it("sends what was on its way when the link dropped again, under the same ref", () => {
    const { wire, s } = run(
      start,
      { type: "link-up" },
      { type: "show", key: "lobby" },
      { type: "send", text: "maybe stored" },
      { type: "link-down" },
      { type: "link-up" },
    );
    expect(wire).toEqual(["p:1 lobby maybe stored", "p:1 lobby maybe stored"]);
    expect(run(s, { type: "ack", ref: "p:1" }).s.outbox).toEqual([]);
  });

  it("gives a refused message's text back to its place, and retries it under its first ref", () => {
    const sent = run(start, { type: "link-up" }, { type: "show", key: "lobby" }, { type: "send", text: "too fast" });
    const refused = run(sent.s, { type: "refused", ref: "p:1" });
    expect(refused.last.settled?.text).toBe("too fast");
    expect(refused.s.composer).toBe("too fast");
    const settled = refused.last.settled;
    if (!settled) throw new Error("nothing settled");
    const again = run(refused.s, { type: "retry", message: settled });
    expect(again.wire).toEqual(["p:1 lobby too fast"]);
    expect(again.s.composer).toBe("");
    expect(again.s.drafts).toEqual({});
  });

  it("puts a refused message's text in its place's draft when another place is on screen", () => {
    const { s } = run(
      start,
      { type: "link-up" },
      { type: "show", key: "@grace" },
      { type: "send", text: "for Grace" },
      { type: "show", key: "lobby" },
      { type: "type", text: "for the lobby" },
      { type: "refused", ref: "p:1" },
    );
    expect(s.composer).toBe("for the lobby");
    expect(s.drafts["@grace"]?.text).toBe("for Grace");
  });

  it("ignores an ack or a refusal of a ref it does not hold", () => {
    const { s } = run(start, { type: "ack", ref: "other" }, { type: "refused", ref: "other" });
    expect(s).toEqual(start);
  });
});

describe("the session: what an earlier page left unsent", () => {
  it("sends it once the link is up, under the refs it had, before anything new", () => {
    const s = newSession("p2:", {}, [{ ref: "p1:4", key: "lobby", text: "from before the reload" }]);
    const { wire } = run(s, { type: "show", key: "lobby" }, { type: "send", text: "new" }, { type: "link-up" });
    expect(wire).toEqual(["p1:4 lobby from before the reload", "p2:1 lobby new"]);
  });
});
