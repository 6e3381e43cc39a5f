/**
 * Single sign-on in Chromium: the sign-in page's "Continue with <provider>"
 * through a real OpenID provider (oidc-provider, in this process) into the
 * chat, and a refused callback that leads back to the sign-in page.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { AccountClient } from "../support/accounts.js";
import { BROWSER_TEST_MS, browserPerFile, currentRoom } from "../support/browser.js";
import { TestProvider } from "../support/oidc-provider.js";
import { allocatePort } from "../support/ports.js";
import { perTest } from "../support/scope.js";

const scope = perTest();
const chromium = browserPerFile();
/** Each step is a navigation through two servers, which a busy machine makes slow: waited for, not timed. */
const POLL = { timeout: 15_000 };

async function chatWithProvider(env: Record<string, string> = {}) {
  const port = await allocatePort();
  const redirect = `http://127.0.0.1:${port}/auth/oidc/callback`;
  const provider = await TestProvider.start([
    { id: "chat", secret: "chat-client-secret-0123456789", redirect: [redirect] },
  ]);
  scope.defer(() => provider.close());
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "chat-oidc-e2e-"));
  scope.defer(() => rmSync(dataDir, { recursive: true, force: true }));
  const node = await scope.node(
    {
      DATA_DIR: dataDir,
      OIDC_ISSUER: provider.issuer,
      OIDC_CLIENT_ID: "chat",
      OIDC_CLIENT_SECRET: "chat-client-secret-0123456789",
      OIDC_REDIRECT_URL: redirect,
      ...env,
    },
    port,
  );
  return { node, provider, redirect };
}

function page(url: string): Promise<Page> {
  return chromium.open(url);
}

describe("single sign-on in the web client", { timeout: BROWSER_TEST_MS }, () => {
  it("'Continue with' the provider, by OIDC_PROVIDER_NAME, signs a person in and into the chat, under the name the provider gave", async () => {
    // The provider's name is the operator's text, shown as text.
    const { node, provider } = await chatWithProvider({ OIDC_PROVIDER_NAME: "Acme <i>SSO</i>" });
    provider.signInAs = { sub: "grace-sub", preferred_username: "Grace <b>Hopper</b>" };
    const p = await page(`${node.url}/`);
    const button = p.getByRole("link", { name: "Continue with Acme <i>SSO</i>" });
    await button.waitFor();
    // No guests on a chat with single sign-on, unless GUESTS=1 says so.
    expect(await p.locator("#as-guest").isHidden()).toBe(true);
    await button.click();
    await p.locator('body[data-state="online"]').waitFor(POLL);
    await currentRoom(p, "lobby").waitFor();
    // The name is shown as text, markup and all: a provider's claim is not HTML.
    await expect.poll(() => p.locator("#account-name").textContent(), POLL).toBe("Grace <b>Hopper</b>");
    expect(await p.locator("#account-name b").count()).toBe(0);
    expect(await p.locator("#auth").isHidden()).toBe(true);
  });

  it("a newcomer whose claimed name is taken chooses another on a page of the chat, and goes on as that name", async () => {
    const { node, provider } = await chatWithProvider({ SIGNUP: "open" });
    const owner = new AccountClient(node.url);
    expect((await owner.post("/auth/signup", { name: "Grace", password: "correct horse battery staple" })).status).toBe(
      200,
    );
    provider.signInAs = { sub: "other-grace", preferred_username: "grace" };
    const p = await page(`${node.url}/`);
    await p.getByRole("link", { name: "Continue with 127.0.0.1" }).click();
    await expect.poll(() => p.locator("#auth-title").textContent(), POLL).toBe("Choose your name");
    expect(await p.locator("#auth-message").textContent()).toContain("“grace”, is taken here");
    const name = p.locator("#choose-name");
    expect(await name.inputValue()).toBe("grace");
    await p.getByRole("button", { name: "Continue" }).click();
    await expect.poll(() => p.locator("#auth-message").textContent(), POLL).toContain("is taken");
    await name.fill("Grace Hopper");
    await p.getByRole("button", { name: "Continue" }).click();
    await p.locator('body[data-state="online"]').waitFor(POLL);
    await currentRoom(p, "lobby").waitFor();
    await expect.poll(() => p.locator("#account-name").textContent(), POLL).toBe("Grace Hopper");
  });

  it("a refused callback says why, and leads back to the sign-in page, whose button names the issuer's host", async () => {
    const { node, redirect } = await chatWithProvider();
    const p = await page(`${redirect}?code=stolen&state=forged`);
    await expect.poll(() => p.locator("h1").textContent(), POLL).toBe("Sign-in refused");
    expect(await p.locator("#refusal").textContent()).toContain("start again");
    await p.getByRole("link", { name: "Back to the chat" }).click();
    await p.getByRole("link", { name: "Continue with 127.0.0.1" }).waitFor(POLL);
    expect(new URL(p.url()).origin).toBe(node.url);
  });
});
