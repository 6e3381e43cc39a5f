import http from "node:http";
import { type Frame, SockClient } from "./sockjs-client.js";

export interface Answer {
  status: number;
  body: Record<string, unknown> & { error?: { code: string; message: string; wait?: number } };
  setCookie: string[];
}

/**
 * One browser's side of the account routes: it keeps the cookies it is
 * given and sends the CSRF token with each POST, as the web client does,
 * from a chosen local address when a test needs several clients.
 */
export class AccountClient {
  readonly cookies = new Map<string, string>();

  constructor(
    readonly base: string,
    private readonly localAddress?: string,
  ) {}

  request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("; ");
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        `${this.base}${path}`,
        {
          method,
          localAddress: this.localAddress,
          headers: {
            ...(cookie ? { Cookie: cookie } : {}),
            ...(payload ? { "Content-Type": "application/json" } : {}),
            ...headers,
          },
        },
        (res) => {
          let text = "";
          res.on("data", (c: Buffer) => {
            text += c.toString();
          });
          res.on("end", () => {
            const setCookie = res.headers["set-cookie"] ?? [];
            for (const line of setCookie) {
              const [pair = ""] = line.split(";");
              const i = pair.indexOf("=");
              const value = decodeURIComponent(pair.slice(i + 1));
              if (/Max-Age=0/.test(line)) this.cookies.delete(pair.slice(0, i));
              else this.cookies.set(pair.slice(0, i), value);
            }
            let parsed: Answer["body"] = {};
            try {
              parsed = JSON.parse(text) as Answer["body"];
            } catch {
              parsed = { text };
            }
            resolve({ status: res.statusCode ?? 0, body: parsed, setCookie });
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** Loads the state, which hands out the CSRF cookie, as the page does first. */
  async state(): Promise<Answer> {
    return this.request("GET", "/auth/state");
  }

  async post(path: string, body: unknown = {}): Promise<Answer> {
    if (!this.cookies.has("chat_csrf")) await this.state();
    return this.request("POST", path, body, { "X-CSRF-Token": this.cookies.get("chat_csrf") ?? "" });
  }

  async ticket(): Promise<string> {
    const answer = await this.post("/auth/ticket");
    if (typeof answer.body.ticket !== "string") throw new Error(`no ticket: ${JSON.stringify(answer.body)}`);
    return answer.body.ticket;
  }

  /** A proto=2 connection that says who it is in its first frame, and its `user_info` (or its refusal). */
  async connect(base = this.base, ticket?: string): Promise<{ client: SockClient; first: Frame }> {
    const client = await SockClient.connect(base, { query: "proto=2&lobby=0&auth=first" });
    await client.send({ action: "auth", ticket: ticket ?? (await this.ticket()) });
    const first = await client.next((f) => f.action === "user_info" || f.action === "error");
    return { client, first };
  }
}
