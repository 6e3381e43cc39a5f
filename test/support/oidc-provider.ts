import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";
import Provider from "oidc-provider";
import { allocatePort } from "./ports.js";

export interface Person {
  sub: string;
  preferred_username: string;
}

/**
 * A real OpenID provider (oidc-provider, a certified implementation) on a
 * free loopback port, in this process. Its login and consent pages are
 * replaced by a person who always says yes as `signInAs`: what the test
 * drives is the relying party, not a login form.
 */
export class TestProvider {
  signInAs: Person = { sub: "alice-sub", preferred_username: "Alice" };
  /** Set to swap the next token response's ID token for this one (a token minted for someone else). */
  swapIdToken: string | undefined;
  /** Why the token endpoint refused each code it refused (its own detail, which it does not send), oldest first. */
  readonly grantRefusals: string[] = [];
  private readonly people = new Map<string, Person>();

  private constructor(
    readonly issuer: string,
    private readonly server: http.Server,
  ) {}

  static async start(clients: { id: string; secret: string; redirect: string[] }[]): Promise<TestProvider> {
    const port = await allocatePort();
    const issuer = `http://127.0.0.1:${port}`;
    // Keys and lifetimes of its own, as a deployed provider has, rather than the quick-start ones it warns about.
    const { privateKey } = await generateKeyPair("RS256", { extractable: true });
    const key = { ...(await exportJWK(privateKey)), kid: "test", alg: "RS256", use: "sig" };
    const provider = new Provider(issuer, {
      jwks: { keys: [key] },
      ttl: { AccessToken: 600, AuthorizationCode: 60, Grant: 600, IdToken: 600, Interaction: 600, Session: 600 },
      clients: clients.map((c) => ({
        client_id: c.id,
        client_secret: c.secret,
        redirect_uris: c.redirect,
        grant_types: ["authorization_code"],
        response_types: ["code"],
      })),
      pkce: { methods: ["S256"], required: () => true },
      claims: { openid: ["sub"], profile: ["preferred_username"] },
      cookies: { keys: ["test-provider-cookie-key-0123456789"] },
      features: { devInteractions: { enabled: false } },
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      findAccount: (_ctx, id) => ({
        accountId: id,
        claims: () => ({ sub: id, ...(self.people.get(id) ?? {}) }),
      }),
    });
    provider.on("grant.error", (_ctx, err: { error_detail?: string; error_description?: string }) => {
      self.grantRefusals.push(err.error_detail ?? err.error_description ?? "");
    });
    const callback = provider.callback();
    const server = http.createServer((req, res) => {
      if (req.url?.startsWith("/interaction/")) {
        self.interact(provider, req, res).catch((err: unknown) => {
          res.statusCode = 500;
          res.end(String(err));
        });
        return;
      }
      if (req.url?.startsWith("/token") && self.swapIdToken) self.swap(res);
      callback(req, res);
    });
    const self = new TestProvider(issuer, server);
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    return self;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  private async interact(provider: Provider, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    const person = this.signInAs;
    this.people.set(person.sub, person);
    if (details.prompt.name === "login") {
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: person.sub } },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    const grant = new provider.Grant({ accountId: person.sub, clientId: String(details.params.client_id) });
    grant.addOIDCScope("openid profile");
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  /** Rewrites the token response on its way out: the provider's own token, but another's ID token. */
  private swap(res: http.ServerResponse): void {
    const idToken = this.swapIdToken;
    this.swapIdToken = undefined;
    const end = res.end.bind(res);
    const write = res.write.bind(res);
    const chunks: Buffer[] = [];
    res.write = ((chunk: Buffer | string) => {
      chunks.push(Buffer.from(chunk));
      return true;
    }) as typeof res.write;
    res.end = ((chunk?: Buffer | string) => {
      if (chunk) chunks.push(Buffer.from(chunk));
      const body = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
      if (body.id_token) body.id_token = idToken;
      const text = JSON.stringify(body);
      res.setHeader("Content-Length", Buffer.byteLength(text));
      write(text);
      return end();
    }) as typeof res.end;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export interface Visit {
  status: number;
  location: string | undefined;
  body: string;
}

/**
 * An HTTP client that keeps cookies per host and port and follows
 * redirects, as a browser would across the chat and the provider.
 */
export class RedirectingClient {
  private readonly jar = new Map<string, Map<string, string>>();

  /**
   * `oneSite`: chat nodes the browser reaches as one site, as it would
   * behind a load balancer: they share their cookies.
   */
  constructor(private readonly oneSite: string[] = []) {}

  private site(url: string): string {
    const { host } = new URL(url);
    const shared = this.oneSite.map((o) => new URL(o).host);
    return shared.includes(host) ? (shared[0] ?? host) : host;
  }

  cookie(origin: string, name: string): string | undefined {
    return this.jar.get(this.site(origin))?.get(name);
  }

  get(url: string, extraCookies: Record<string, string> = {}): Promise<Visit> {
    const site = this.site(url);
    const cookies = new Map([...(this.jar.get(site) ?? []), ...Object.entries(extraCookies)]);
    const cookie = [...cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("; ");
    return new Promise((resolve, reject) => {
      const req = http.get(url, { headers: cookie ? { Cookie: cookie } : {}, agent: false }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => {
          body += c.toString();
        });
        res.on("end", () => {
          const jar = this.jar.get(site) ?? new Map<string, string>();
          this.jar.set(site, jar);
          for (const line of res.headers["set-cookie"] ?? []) {
            const [pair = ""] = line.split(";");
            const i = pair.indexOf("=");
            const name = pair.slice(0, i);
            const value = decodeURIComponent(pair.slice(i + 1));
            if (/max-age=0\b|expires=thu, 01 jan 1970/i.test(line) || value === "") jar.delete(name);
            else jar.set(name, value);
          }
          const location = res.headers.location && new URL(res.headers.location, url).href;
          resolve({ status: res.statusCode ?? 0, location, body });
        });
      });
      req.on("error", reject);
    });
  }

  /** Follows redirects from `url` until a page, or until the next hop would be one `stopAt` matches. */
  async follow(url: string, stopAt?: (next: string) => boolean): Promise<{ last: Visit; url: string }> {
    let at = url;
    for (let hop = 0; hop < 20; hop++) {
      const visit = await this.get(at);
      if (!visit.location || visit.status < 300 || visit.status >= 400) return { last: visit, url: at };
      if (stopAt?.(visit.location)) return { last: visit, url: visit.location };
      at = visit.location;
    }
    throw new Error(`more than 20 redirects from ${url}`);
  }
}
