/**
 * The operator's commands, run beside the server against the same store:
 *
 *     npm run admin -- create-admin NAME
 *
 * makes NAME an admin (creating the account when there is none) and prints
 * a one-time link that sets its password: the first admin of a chat whose
 * sign-up is closed comes from here or from ADMIN_USERS.
 */
import { accountSettings } from "./account-settings.js";
import { AccountError, Accounts } from "./accounts/accounts.js";
import { createBackends } from "./backends.js";
import { ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./log.js";

const USAGE = "usage: npm run admin -- create-admin NAME\n";

async function main(args: string[]): Promise<number> {
  const [command, name] = args;
  if (command !== "create-admin" || !name) {
    process.stderr.write(USAGE);
    return 2;
  }
  const config = loadConfig();
  const log = createLogger("warn");
  const backends = await createBackends(config, log);
  try {
    await backends.redis?.link.start();
    const accounts = new Accounts(
      backends.accounts,
      accountSettings(config),
      config.GUEST_SECRET ?? (await backends.users.guestSecret()),
    );
    const { account, link } = await accounts.createAdmin(name);
    process.stdout.write(
      `${account.name} is an admin. Open this on the chat's address, once, within 24 hours, to set the password:\n/#reset=${link}\n`,
    );
    return 0;
  } finally {
    await backends.users.close();
    await backends.accounts.close();
    await backends.archive?.close();
    await backends.redis?.link.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const known = err instanceof AccountError || err instanceof ConfigError;
    process.stderr.write(`admin: ${known ? (err as Error).message : String(err)}\n`);
    process.exit(1);
  },
);
