import { createHmac } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";
import type * as OpenId from "openid-client";
import { AccountError, type Identity } from "./accounts.js";

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUrl: string;
  /** What people call the provider (OIDC_PROVIDER_NAME); its issuer's host when unset. */
  name: string | undefined;
}

/** How long a person may take at the provider before the chat forgets the sign-in it started. */
export const OIDC_PENDING_SECONDS = 600;
/** How long a newcomer whose claimed name is taken may take to choose another. */
export const OIDC_NAMING_SECONDS = 600;

/**
 * Sign-in through an OpenID Connect provider: the authorization code flow
 * with PKCE, state and nonce, all checked by openid-client. What the
 * callback must match (the verifier, state and nonce) travels in a cookie
 * signed with the nodes' shared secret, so any node may take the callback.
 * openid-client is loaded on the first sign-in, so a chat without OIDC_*
 * never holds it in memory.
 */
export class OidcSignIn {
  private readonly pendingKey: Uint8Array;
  /** Its own key: a pending sign-in's cookie can never pass for a vouched identity, nor the other way round. */
  private readonly namingKey: Uint8Array;
  private configuration: Promise<{ lib: typeof OpenId; config: OpenId.Configuration }> | undefined;

  constructor(
    private readonly settings: OidcSettings,
    nodeSecret: string,
  ) {
    this.pendingKey = createHmac("sha256", nodeSecret).update("oidc pending sign-ins").digest();
    this.namingKey = createHmac("sha256", nodeSecret).update("oidc identities awaiting a name").digest();
  }

  /** What "Continue with …" says: the name people know the provider by, else its host. */
  get providerName(): string {
    return this.settings.name ?? new URL(this.settings.issuer).hostname;
  }

  /**
   * What the provider vouched for, signed for a cookie, while a newcomer
   * chooses a name: any node may take the chosen name, and nobody can make
   * an identity up, since only the nodes hold the key.
   */
  hold(identity: Identity): Promise<string> {
    return new SignJWT({ i: identity.issuer, s: identity.subject, n: identity.name ?? "" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime(`${OIDC_NAMING_SECONDS}s`)
      .sign(this.namingKey);
  }

  /** The identity a cookie holds, while it is good; undefined otherwise. */
  async held(cookie: string | undefined): Promise<Identity | undefined> {
    if (!cookie) return undefined;
    try {
      const { payload } = await jwtVerify(cookie, this.namingKey, { algorithms: ["HS256"], requiredClaims: ["exp"] });
      const { i, s, n } = payload;
      if (typeof i !== "string" || typeof s !== "string" || typeof n !== "string") return undefined;
      return { issuer: i, subject: s, name: n === "" ? undefined : n };
    } catch {
      return undefined;
    }
  }

  private discover() {
    if (!this.configuration) {
      const { issuer, clientId, clientSecret } = this.settings;
      this.configuration = import("openid-client").then(async (lib) => {
        const url = new URL(issuer);
        // Plain HTTP only for a provider on this machine (config.ts refuses any other).
        const options = url.protocol === "http:" ? { execute: [lib.allowInsecureRequests] } : undefined;
        return { lib, config: await lib.discovery(url, clientId, clientSecret, undefined, options) };
      });
      // A provider down at the first sign-in is asked again at the next.
      this.configuration.catch(() => {
        this.configuration = undefined;
      });
    }
    return this.configuration;
  }

  /** Where to send the browser, and the signed cookie value its callback must bring back. */
  async start(): Promise<{ url: string; pending: string }> {
    const { lib, config } = await this.discover();
    const verifier = lib.randomPKCECodeVerifier();
    const state = lib.randomState();
    const nonce = lib.randomNonce();
    const url = lib.buildAuthorizationUrl(config, {
      redirect_uri: this.settings.redirectUrl,
      scope: "openid profile",
      code_challenge: await lib.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
      nonce,
    });
    const pending = await new SignJWT({ v: verifier, s: state, n: nonce })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime(`${OIDC_PENDING_SECONDS}s`)
      .sign(this.pendingKey);
    return { url: url.href, pending };
  }

  /** Who the provider says signed in, from the callback's query and the pending sign-in's cookie. */
  async finish(query: string, pending: string | undefined): Promise<Identity> {
    let expected: { v: string; s: string; n: string };
    try {
      if (!pending) throw new Error("no pending sign-in");
      const { payload } = await jwtVerify(pending, this.pendingKey, { algorithms: ["HS256"], requiredClaims: ["exp"] });
      if (typeof payload.v !== "string" || typeof payload.s !== "string" || typeof payload.n !== "string") {
        throw new Error("a pending sign-in without its checks");
      }
      expected = { v: payload.v, s: payload.s, n: payload.n };
    } catch {
      throw new AccountError("unauthorized", "this sign-in was not started here, or took too long: start again");
    }
    const { lib, config } = await this.discover();
    // The address is rebuilt from the configured one, not from the request's Host, which a proxy may change.
    const current = new URL(this.settings.redirectUrl);
    current.search = query;
    let tokens: Awaited<ReturnType<typeof lib.authorizationCodeGrant>>;
    try {
      tokens = await lib.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: expected.v,
        expectedState: expected.s,
        expectedNonce: expected.n,
        idTokenExpected: true,
      });
    } catch (err) {
      throw new AccountError("unauthorized", `the provider's answer was refused: ${reason(err)}`);
    }
    const claims = tokens.claims();
    if (!claims) throw new AccountError("unauthorized", "the provider sent no ID token");
    let name = nameIn(claims);
    if (name === undefined) {
      // Many providers keep the profile out of the ID token, for the userinfo endpoint.
      const info = await lib.fetchUserInfo(config, tokens.access_token, claims.sub).catch(() => undefined);
      if (info) name = nameIn(info);
    }
    return { issuer: config.serverMetadata().issuer, subject: claims.sub, name };
  }
}

/** openid-client's message is the kind of failure; the check that failed (a claim, the provider's error) is in its causes. */
function reason(err: unknown): string {
  const parts: string[] = [];
  let at: unknown = err;
  for (let depth = 0; at instanceof Error && depth < 4; depth++) {
    const { error } = at as { error?: unknown };
    parts.push(typeof error === "string" ? `${at.message} (${error})` : at.message);
    at = at.cause;
  }
  return parts.join(": ");
}

function nameIn(claims: Record<string, unknown>): string | undefined {
  for (const key of ["preferred_username", "name", "given_name", "nickname"]) {
    const v = claims[key];
    if (typeof v === "string" && v.trim() !== "") return v;
  }
  return undefined;
}
