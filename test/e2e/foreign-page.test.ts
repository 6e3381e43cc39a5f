import { createRequire } from "node:module";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AS_IF_PUBLIC, BROWSER_TEST_MS, closePage, launchBrowser, newPage } from "../support/browser.js";
import { allocatePort } from "../support/ports.js";
import { type NodeProcess, startNode } from "../support/processes.js";

const SOCKJS_VERSION = (createRequire(import.meta.url)("sockjs-client/package.json") as { version: string }).version;

let browser: Browser;
let chat: NodeProcess;

beforeAll(async () => {
  const port = await allocatePort();
  [browser, chat] = await Promise.all([
    launchBrowser(AS_IF_PUBLIC),
    startNode({ ALLOWED_ORIGINS: `http://127.0.0.1:${port},http://allowed.test` }, port),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await chat?.stop();
});

/**
 * A page of another site that drives the chat's iframe page by hand, as an
 * attacker would: it frames /sock/iframe.html (hiding its referrer, if
 * asked) and speaks sockjs-client's postMessage protocol to it, so that the
 * iframe opens a session from the chat's own origin and sends a message.
 */
function embedder(chatUrl: string, hideReferrer: boolean): string {
  return `<!doctype html><html><body><script>
const id = "w" + Math.random().toString(36).slice(2);
window.events = [];
const frame = document.createElement("iframe");
const post = (type, data) => frame.contentWindow.postMessage(JSON.stringify({ windowId: id, type, data }), "*");
addEventListener("message", (e) => {
  let m;
  try { m = JSON.parse(e.data); } catch { return; }
  if (m.windowId !== id) return;
  if (m.type === "s") {
    post("s", JSON.stringify(["${SOCKJS_VERSION}", "xhr-polling", "${chatUrl}/sock/000/" + id, "${chatUrl}/sock"]));
  } else if (m.type === "t") {
    events.push(m.data);
    if (m.data === "o") post("m", JSON.stringify(JSON.stringify({ action: "message", message: "from a foreign page", ref: "x" })));
  }
});
${hideReferrer ? 'frame.referrerPolicy = "no-referrer";' : ""}
frame.src = "${chatUrl}/sock/iframe.html#" + id;
document.body.append(frame);
</script></body></html>`;
}

/** What the embedding page heard back within `ms`: SockJS frames (o, a[...]). */
async function drive(origin: string, hideReferrer: boolean, ms: number): Promise<string[]> {
  const page = await newPage(browser);
  try {
    await page.route(`${origin}/**`, (route) =>
      route.fulfill({ contentType: "text/html", body: embedder(chat.url, hideReferrer) }),
    );
    await page.goto(`${origin}/page.html`);
    await page
      .waitForFunction(
        () => (window as unknown as { events: string[] }).events.some((f) => f.includes("ack")),
        undefined,
        {
          timeout: ms,
        },
      )
      .catch(() => undefined);
    return await page.evaluate(() => (window as unknown as { events: string[] }).events);
  } finally {
    await closePage(page);
  }
}

describe("ALLOWED_ORIGINS and the iframe page, in Chromium", { timeout: BROWSER_TEST_MS }, () => {
  it("lets an allowed site drive the iframe page", async () => {
    const frames = await drive("http://allowed.test", false, 15_000);
    expect(frames[0]).toBe("o");
    expect(frames.some((f) => f.includes('\\"action\\":\\"ack\\"'))).toBe(true);
  });

  it("keeps a page of another site out, even one that hides its referrer", async () => {
    for (const hide of [true, false]) {
      // The allowed site above had its ack within a second or two; this one gets nothing at all.
      expect(await drive("http://evil.test", hide, 5_000), `referrer hidden: ${hide}`).toEqual([]);
    }
    // The refusal's log line comes through a pipe, after the page saw the answer.
    await chat.waitForOutput(/"url":"\/sock\/iframe.html".*"why":"origin"/);
  });
});
