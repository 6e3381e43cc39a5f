/**
 * Accounts with REDIS_URL and DATABASE_URL (issue 22): the database is the
 * system of record, so accounts are its rows, while failed sign-ins are
 * counted in Redis so that every node counts the same guesses. Two node
 * processes, a real Redis and a real PostgreSQL.
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { AccountClient } from "./support/accounts.js";
import { startPostgres } from "./support/postgres.js";
import { SERVER_ENTRY } from "./support/processes.js";
import { perTest } from "./support/scope.js";

const scope = perTest();
const ADMIN_CLI = path.join(path.dirname(SERVER_ENTRY), "admin.js");
const GOOD = "correct horse battery staple";

describe("two nodes on Redis with PostgreSQL", () => {
  it("keep accounts in the database: sign up on A, sign in on B, guesses counted across both, disable on A closes on B", async () => {
    const postgres = await startPostgres();
    scope.defer(() => postgres.remove());
    const redis = await scope.redis();
    const env = {
      REDIS_URL: redis.url,
      DATABASE_URL: await postgres.createDatabase("accounts"),
      SIGNUP: "open",
      SIGNIN_ATTEMPTS_PER_ACCOUNT: "4",
      SIGNIN_WINDOW: "3600",
    };
    // The CLI makes the first admin where the nodes keep accounts.
    const out = execFileSync(process.execPath, [ADMIN_CLI, "create-admin", "Boss"], {
      env: { ...process.env, ...env },
      encoding: "utf8",
    });
    const resetToken = /#reset=([\w-]+)/.exec(out)?.[1] ?? "";
    const [a, b] = await Promise.all([scope.node(env), scope.node(env)]);

    const boss = new AccountClient(b.url);
    expect((await boss.post("/auth/reset", { token: resetToken, password: GOOD })).body.account).toMatchObject({
      name: "Boss",
      admin: true,
    });

    const ada = new AccountClient(a.url);
    const up = await ada.post("/auth/signup", { name: "Ada", password: GOOD });
    expect(up.status).toBe(200);
    const uid = (up.body.account as { uid: string }).uid;
    const onB = new AccountClient(b.url);
    expect((await onB.post("/auth/signin", { name: "ada", password: GOOD })).body.account).toMatchObject({ uid });

    // The accounts are the database's rows.
    const db = await postgres.client("accounts");
    scope.defer(() => db.end());
    const rows = await db.query("SELECT name, admin FROM accounts ORDER BY created");
    expect(rows.rows).toEqual([
      { name: "Boss", admin: true },
      { name: "Ada", admin: false },
    ]);

    // One name claimed on both nodes at once is one account.
    const claims = await Promise.all(
      [a, b].map((n) => new AccountClient(n.url).post("/auth/signup", { name: "Grace", password: GOOD })),
    );
    expect(claims.map((c) => c.status).sort()).toEqual([200, 409]);

    // Guesses spread over both nodes are counted together: four are checked, then the account is locked on both.
    const guesser = [new AccountClient(a.url), new AccountClient(b.url)];
    const codes: (string | undefined)[] = [];
    for (let i = 0; i < 6; i++) {
      const answer = await guesser[i % 2]?.post("/auth/signin", { name: "Ada", password: `wrong guess ${i}` });
      codes.push(answer?.body.error?.code);
    }
    expect(codes).toEqual([
      "unauthorized",
      "unauthorized",
      "unauthorized",
      "unauthorized",
      "rate_limited",
      "rate_limited",
    ]);
    expect(
      (await new AccountClient(a.url).post("/auth/signin", { name: "Ada", password: GOOD })).body.error?.code,
    ).toBe("rate_limited");

    // Ada's connection on B closes when the admin disables her on A.
    const connected = await onB.connect();
    scope.defer(() => connected.client.close());
    expect(connected.first).toMatchObject({ action: "user_info", uid, name: "Ada" });
    const bossOnA = new AccountClient(a.url);
    bossOnA.cookies.set("chat_session", boss.cookies.get("chat_session") ?? "");
    expect((await bossOnA.post(`/auth/admin/accounts/${uid}`, { disabled: true })).status).toBe(200);
    expect((await connected.client.waitClosed(1000)).code).toBe(4007);
    expect((await onB.post("/auth/ticket")).status).toBe(401);
    const disabled = await db.query("SELECT disabled FROM accounts WHERE uid = $1", [uid]);
    expect(disabled.rows).toEqual([{ disabled: true }]);
  });

  it("take the last use of an invitation once, whichever node each sign-up reaches", async () => {
    const postgres = await startPostgres();
    scope.defer(() => postgres.remove());
    const redis = await scope.redis();
    const env = {
      REDIS_URL: redis.url,
      DATABASE_URL: await postgres.createDatabase("invites"),
      SIGNUP: "invite",
    };
    const [a, b] = await Promise.all([scope.node(env), scope.node(env)]);
    const boss = new AccountClient(a.url);
    const out = execFileSync(process.execPath, [ADMIN_CLI, "create-admin", "Boss"], {
      env: { ...process.env, ...env },
      encoding: "utf8",
    });
    const resetToken = /#reset=([\w-]+)/.exec(out)?.[1] ?? "";
    expect((await boss.post("/auth/reset", { token: resetToken, password: GOOD })).status).toBe(200);
    const invite = await boss.post("/auth/admin/invitations", { uses: 1, hours: 1 });
    const names = ["Ada", "Grace", "Linus", "Barbara"];
    const answers = await Promise.all(
      names.map((name, i) =>
        new AccountClient([a, b][i % 2]?.url ?? "").post("/auth/signup", {
          name,
          password: GOOD,
          invite: invite.body.token,
        }),
      ),
    );
    expect(answers.filter((x) => x.status === 200)).toHaveLength(1);
    expect(answers.filter((x) => x.body.error?.code === "bad_link")).toHaveLength(3);
  });
});
