import { describe, expect, it } from "vitest";
import { Outbox } from "../../web/src/outbox";

describe("Outbox", () => {
  it("gives each message a ref of its own, made unique by the page's prefix", () => {
    const box = new Outbox("send:abc:");
    const a = box.add("lobby", "one", true);
    const b = box.add("lobby", "two", true);
    expect(a.ref).toBe("send:abc:1");
    expect(b.ref).toBe("send:abc:2");
    expect([a.state, b.state]).toEqual(["sending", "sending"]);
  });

  it("holds what is written offline, and sends it in order once the link is back", () => {
    const box = new Outbox("p:");
    box.add("lobby", "one", false);
    box.add("@u", "two", false);
    expect(box.all().map((i) => i.state)).toEqual(["waiting", "waiting"]);
    expect(box.resend().map((i) => i.text)).toEqual(["one", "two"]);
    expect(box.resend()).toEqual([]);
  });

  it("sends what was on its way when the link dropped again, with the same ref", () => {
    const box = new Outbox("p:");
    const sent = box.add("lobby", "maybe stored", true);
    const queued = box.add("lobby", "written later", false);
    expect(box.linkLost()).toEqual([sent]);
    expect(box.resend().map((i) => i.ref)).toEqual([sent.ref, queued.ref]);
  });

  it("forgets a message once settled; a ref it does not know changes nothing", () => {
    const box = new Outbox("p:");
    const a = box.add("lobby", "one", true);
    expect(box.settled("other")).toBeUndefined();
    expect(box.settled(a.ref)?.text).toBe("one");
    expect(box.all()).toEqual([]);
  });

  it("sends a refused message again under its first ref, after anything written before the retry", () => {
    const box = new Outbox("p:");
    const a = box.add("lobby", "one", true);
    const refused = box.settled(a.ref);
    if (!refused) throw new Error("not in the outbox");
    box.add("lobby", "two", false);
    const retried = box.again(refused, false);
    expect(retried.ref).toBe(a.ref);
    expect(box.resend().map((i) => i.text)).toEqual(["two", "one"]);
  });
});
