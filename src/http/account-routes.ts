import { randomBytes, timingSafeEqual } from "node:crypto";
import express, { type Express, type Request, type Response } from "express";
import type { Logger } from "pino";
import type { Account } from "../accounts/account-store.js";
import { AccountError, type Accounts, type SignedIn } from "../accounts/accounts.js";
import { OIDC_NAMING_SECONDS, OIDC_PENDING_SECONDS, type OidcSignIn } from "../accounts/oidc.js";
import { LogSampler } from "../transport/log-sampler.js";

export const SESSION_COOKIE = "chat_session";
export const CSRF_COOKIE = "chat_csrf";
export const CSRF_HEADER = "x-csrf-token";
/** A sign-in started at the OpenID provider: what its callback must match. */
export const OIDC_COOKIE = "chat_oidc";
/** A provider's newcomer whose claimed name is taken: who the provider vouched for, until they choose a name. */
export const OIDC_NAMING_COOKIE = "chat_oidc_name";

/** What the routes need of the node besides the accounts. */
export interface AccountRouteOptions {
  accounts: Accounts;
  log: Logger;
  /** Whether guests may connect without an account (GUESTS). */
  guests: boolean;
  /** AUTH_TOKEN_URL: where the page gets an embedding app's token for this browser. */
  tokenUrl: string | undefined;
  /** Sign-in through an OpenID Connect provider, when OIDC_* is set. */
  oidc: OidcSignIn | undefined;
  /** The client's address, as TRUST_PROXY reads it. */
  address(req: Request): string;
  /** Whether the browser reached us over TLS (itself or through a trusted proxy): then cookies are Secure. */
  secure(req: Request): boolean;
  /**
   * Ends connections, on every node: those of one sign-in session when it
   * is given, else every one of the account's.
   */
  endConnections(uid: string, session: string | undefined, why: "signed_out" | "disabled"): void;
  /** Tells every node and open client of the account's new profile. */
  profileChanged(profile: Profile): void;
}

/** What anyone in the chat may see of an account (src/protocol/profile.ts). */
export interface Profile {
  uid: string;
  name: string;
  display: string;
  colour: number | null;
}

/** At most this many profiles per `GET /auth/profiles`: a page's worth of people. */
const PROFILES_PER_REQUEST = 100;

function profileOf(account: Account): Profile {
  return {
    uid: account.uid,
    name: account.name,
    display: account.display ?? account.name,
    colour: account.colour ?? null,
  };
}

const STATUS: Record<AccountError["code"], number> = {
  bad_request: 400,
  bad_name: 400,
  bad_password: 400,
  unauthorized: 401,
  forbidden: 403,
  disabled: 403,
  signup_closed: 403,
  name_taken: 409,
  bad_link: 410,
  rate_limited: 429,
};

/** The routes can be called as fast as a client likes: one log line per code per interval. */
const refusals = new LogSampler(10_000);

function cookies(req: Request): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i <= 0) continue;
    try {
      out.set(part.slice(0, i).trim(), decodeURIComponent(part.slice(i + 1).trim()));
    } catch {
      // Broken escapes (`%E0%A4%A`) are no cookie of ours: as if it had not been sent, not a server error.
    }
  }
  return out;
}

/** The host of an Origin header; "null" and anything unreadable have none. */
function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const str = (v: unknown, max = 1024): string => {
  if (typeof v !== "string" || v.length > max) throw new AccountError("bad_request", "a field is missing or too long");
  return v;
};

function shown(account: Account) {
  return { ...profileOf(account), admin: account.admin, disabled: account.disabled };
}

/**
 * Sign-up, sign-in, sign-out and what an admin does, as JSON over HTTP
 * (docs/protocol.md#accounts). The session is an HttpOnly cookie the page's
 * script never sees; the page gets short-lived tickets for its connections.
 * Every POST must carry the CSRF cookie's value in a header, which a page of
 * another site cannot read, and an Origin, if any, that is ours.
 */
export function addAccountRoutes(app: Express, o: AccountRouteOptions): void {
  const { accounts } = o;
  const json = express.json({ limit: "4kb" });

  const setCookie = (req: Request, res: Response, name: string, value: string, maxAgeMs: number, httpOnly: boolean) => {
    const flags = [
      `${name}=${encodeURIComponent(value)}`,
      "Path=/",
      `Max-Age=${Math.max(0, Math.floor(maxAgeMs / 1000))}`,
      httpOnly ? "HttpOnly" : "",
      // Lax for those that must come back with the provider's redirect (a top-level GET from another site).
      name === CSRF_COOKIE ? "SameSite=Strict" : "SameSite=Lax",
      o.secure(req) ? "Secure" : "",
    ].filter(Boolean);
    res.append("Set-Cookie", flags.join("; "));
  };
  const startSession = (req: Request, res: Response, signedIn: SignedIn) => {
    setCookie(req, res, SESSION_COOKIE, signedIn.token, signedIn.expires - Date.now(), true);
    res.json({ account: shown(signedIn.account) });
  };

  const refuse = (res: Response, err: unknown, route: string) => {
    if (!(err instanceof AccountError)) {
      o.log.error({ err, route }, "account request failed");
      res.status(500).json({ error: { code: "internal", message: "something went wrong on the server" } });
      return;
    }
    const unlogged = refusals.take(err.code);
    if (unlogged !== undefined) o.log.info({ code: err.code, route, unlogged }, "account request refused");
    if (err.wait !== undefined) res.setHeader("Retry-After", String(err.wait));
    res.status(STATUS[err.code]).json({ error: { code: err.code, message: err.message, wait: err.wait } });
  };

  type Handler = (req: Request, res: Response) => Promise<void>;
  /** Reads the form's JSON body, or refuses it as a client's mistake: not JSON, or over the 4 kB a form needs. */
  const readBody = (req: Request, res: Response) =>
    new Promise<void>((resolve, reject) =>
      json(req, res, (err?: unknown) => {
        if (err === undefined) return resolve();
        const large = (err as { type?: unknown }).type === "entity.too.large";
        reject(new AccountError("bad_request", large ? "the form is over 4 kB" : "the form is not JSON"));
      }),
    );
  const post = (route: string, handler: Handler) => {
    app.post(route, async (req, res) => {
      try {
        const token = cookies(req).get(CSRF_COOKIE);
        const sent = req.headers[CSRF_HEADER];
        const origin = req.headers.origin;
        const host = req.headers.host;
        const foreign = origin !== undefined && (host === undefined || hostOf(origin) !== host);
        if (!token || typeof sent !== "string" || !sameText(token, sent) || foreign) {
          throw new AccountError(
            "forbidden",
            "the form came without this page's CSRF token: reload the page and try again",
          );
        }
        await readBody(req, res);
        if (typeof req.body !== "object" || req.body === null) req.body = {};
        await handler(req, res);
      } catch (err) {
        refuse(res, err, route);
      }
    });
  };
  const signedIn = async (req: Request) => {
    const who = await accounts.whoIs(cookies(req).get(SESSION_COOKIE));
    if (!who) throw new AccountError("unauthorized", "sign in first");
    return who;
  };
  const admin = async (req: Request) => {
    const who = await signedIn(req);
    if (!who.account.admin) throw new AccountError("forbidden", "only an admin may do that");
    return who;
  };

  app.get("/auth/state", async (req, res) => {
    try {
      let csrf = cookies(req).get(CSRF_COOKIE);
      if (csrf?.length !== 43) {
        csrf = randomBytes(32).toString("base64url");
        setCookie(req, res, CSRF_COOKIE, csrf, 365 * 24 * 3600 * 1000, false);
      }
      const who = await accounts.whoIs(cookies(req).get(SESSION_COOKIE));
      const naming = who ? undefined : await o.oidc?.held(cookies(req).get(OIDC_NAMING_COOKIE));
      res.setHeader("Cache-Control", "no-store");
      res.json({
        account: who ? shown(who.account) : null,
        signup: accounts.signup,
        guests: o.guests,
        tokenUrl: o.tokenUrl ?? null,
        oidc: o.oidc ? { name: o.oidc.providerName } : null,
        chooseName: naming ? { suggested: naming.name ?? "" } : null,
        csrf,
      });
    } catch (err) {
      refuse(res, err, "/auth/state");
    }
  });

  post("/auth/signup", async (req, res) => {
    const b = req.body as Record<string, unknown>;
    const invite = b.invite === undefined ? undefined : str(b.invite, 128);
    startSession(req, res, await accounts.signUp(str(b.name), str(b.password), invite));
  });
  post("/auth/signin", async (req, res) => {
    const b = req.body as Record<string, unknown>;
    const previous = cookies(req).get(SESSION_COOKIE);
    startSession(req, res, await accounts.signIn(str(b.name), str(b.password), o.address(req), previous));
  });
  post("/auth/signout", async (req, res) => {
    const token = cookies(req).get(SESSION_COOKIE);
    const who = await accounts.whoIs(token);
    if (token) await accounts.signOut(token);
    if (who) o.endConnections(who.account.uid, who.session, "signed_out");
    setCookie(req, res, SESSION_COOKIE, "", 0, true);
    res.json({ account: null });
  });
  post("/auth/signout-everywhere", async (req, res) => {
    const who = await signedIn(req);
    await accounts.endSessions(who.account.uid);
    o.endConnections(who.account.uid, undefined, "signed_out");
    setCookie(req, res, SESSION_COOKIE, "", 0, true);
    res.json({ account: null });
  });
  post("/auth/password", async (req, res) => {
    const b = req.body as Record<string, unknown>;
    const token = cookies(req).get(SESSION_COOKIE) ?? "";
    const next = await accounts.changePassword(token, str(b.current), str(b.next));
    // Whoever knew the old password is out; this browser goes on with a new session.
    o.endConnections(next.account.uid, undefined, "signed_out");
    startSession(req, res, next);
  });
  post("/auth/ticket", async (req, res) => {
    res.setHeader("Cache-Control", "no-store");
    res.json({ ticket: await accounts.ticket(await signedIn(req)) });
  });
  post("/auth/reset", async (req, res) => {
    const b = req.body as Record<string, unknown>;
    const next = await accounts.useReset(str(b.token, 128), str(b.password));
    o.endConnections(next.account.uid, undefined, "signed_out");
    startSession(req, res, next);
  });

  const { oidc } = o;
  if (oidc) {
    app.get("/auth/oidc/start", async (req, res) => {
      try {
        const { url, pending } = await oidc.start();
        setCookie(req, res, OIDC_COOKIE, pending, OIDC_PENDING_SECONDS * 1000, true);
        res.setHeader("Cache-Control", "no-store");
        res.redirect(303, url);
      } catch (err) {
        refusePage(res, err, "/auth/oidc/start");
      }
    });
    app.get("/auth/oidc/callback", async (req, res) => {
      res.setHeader("Cache-Control", "no-store");
      // The pending sign-in is for one callback, whatever comes of it.
      setCookie(req, res, OIDC_COOKIE, "", 0, true);
      try {
        const at = req.originalUrl.indexOf("?");
        const query = at < 0 ? "" : req.originalUrl.slice(at);
        const identity = await oidc.finish(query, cookies(req).get(OIDC_COOKIE));
        const outcome = await accounts.signInWith(identity, cookies(req).get(SESSION_COOKIE));
        if ("chooseName" in outcome) {
          // The page asks for a name (GET /auth/state says so), then posts it to /auth/oidc/name.
          setCookie(req, res, OIDC_NAMING_COOKIE, await oidc.hold(identity), OIDC_NAMING_SECONDS * 1000, true);
        } else {
          setCookie(req, res, SESSION_COOKIE, outcome.token, outcome.expires - Date.now(), true);
        }
        res.redirect(303, "/");
      } catch (err) {
        refusePage(res, err, "/auth/oidc/callback");
      }
    });
    post("/auth/oidc/name", async (req, res) => {
      const identity = await oidc.held(cookies(req).get(OIDC_NAMING_COOKIE));
      if (!identity) {
        throw new AccountError("unauthorized", "this sign-in took too long or was not started here: start again");
      }
      const b = req.body as Record<string, unknown>;
      const signedIn = await accounts.signUpWith(identity, str(b.name), cookies(req).get(SESSION_COOKIE));
      setCookie(req, res, OIDC_NAMING_COOKIE, "", 0, true);
      startSession(req, res, signedIn);
    });
  }
  /** The OIDC routes are browser navigations: a refusal is a page to read, with the way back. */
  const refusePage = (res: Response, err: unknown, route: string) => {
    const known = err instanceof AccountError;
    if (known) {
      const unlogged = refusals.take(`${route}:${err.code}`);
      if (unlogged !== undefined) o.log.info({ code: err.code, route, unlogged, why: err.message }, "sign-in refused");
    } else {
      o.log.error({ err, route }, "sign-in through the provider failed");
    }
    const message = known ? err.message : "the provider could not be reached: try again later";
    res
      .status(known ? STATUS[err.code] : 502)
      .type("html")
      .send(
        `<!doctype html><meta charset="utf-8"><title>Sign-in refused</title><h1>Sign-in refused</h1><p id="refusal" data-code="${
          known ? err.code : "provider_unreachable"
        }">${escapeHtml(message)}</p><p><a href="/">Back to the chat</a></p>`,
      );
  };

  post("/auth/profile", async (req, res) => {
    const who = await signedIn(req);
    const b = req.body as Record<string, unknown>;
    const colour = b.colour === undefined || b.colour === null ? null : b.colour;
    if (colour !== null && typeof colour !== "number") throw new AccountError("bad_request", "colour must be a number");
    const account = await accounts.setProfile(who.account.uid, str(b.display ?? "", 256), colour);
    o.profileChanged(profileOf(account));
    res.json({ account: shown(account) });
  });
  app.get("/auth/profiles", async (req, res) => {
    try {
      const asked = req.query.uid;
      const uids = (Array.isArray(asked) ? asked : [asked]).filter((u): u is string => typeof u === "string");
      if (uids.length > PROFILES_PER_REQUEST || uids.some((u) => u.length > 64)) {
        throw new AccountError("bad_request", `ask for at most ${PROFILES_PER_REQUEST} uids at a time`);
      }
      // Guests have no profile: only accounts' uids are looked up.
      const found = await accounts.profiles([...new Set(uids.filter((u) => u.startsWith("a-")))]);
      res.setHeader("Cache-Control", "no-store");
      res.json({ profiles: found.map(profileOf) });
    } catch (err) {
      refuse(res, err, "/auth/profiles");
    }
  });

  app.get("/auth/admin/accounts", async (req, res) => {
    try {
      await admin(req);
      res.setHeader("Cache-Control", "no-store");
      res.json({ accounts: (await accounts.list()).map(shown) });
    } catch (err) {
      refuse(res, err, "/auth/admin/accounts");
    }
  });
  post("/auth/admin/invitations", async (req, res) => {
    await admin(req);
    const b = req.body as Record<string, unknown>;
    const uses = typeof b.uses === "number" && Number.isInteger(b.uses) ? b.uses : 1;
    const hours = typeof b.hours === "number" && b.hours > 0 && b.hours <= 24 * 90 ? b.hours : 72;
    res.json(await accounts.invite(uses, hours));
  });
  post("/auth/admin/accounts/:uid", async (req, res) => {
    const who = await admin(req);
    const b = req.body as Record<string, unknown>;
    const uid = str(req.params.uid, 128);
    const change: { admin?: boolean; disabled?: boolean } = {};
    if (typeof b.admin === "boolean") change.admin = b.admin;
    if (typeof b.disabled === "boolean") change.disabled = b.disabled;
    if (uid === who.account.uid && (change.disabled === true || change.admin === false)) {
      throw new AccountError("forbidden", "an admin cannot disable or demote themselves");
    }
    const account = await accounts.set(uid, change);
    if (change.disabled) o.endConnections(uid, undefined, "disabled");
    res.json({ account: shown(account) });
  });
  post("/auth/admin/accounts/:uid/reset", async (req, res) => {
    await admin(req);
    res.json({ token: await accounts.resetLink(str(req.params.uid, 128)) });
  });
}
