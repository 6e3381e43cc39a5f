import { capYoungGeneration } from "./young-generation.js";

// The server's modules are loaded only once V8's young generation is capped (see capYoungGeneration).
capYoungGeneration();
const [{ startChatServer }, { ConfigError, configHelp, loadConfig }, { createLogger }] = await Promise.all([
  import("./app.js"),
  import("./config.js"),
  import("./log.js"),
]);

if (process.argv.includes("--help") || process.argv.includes("-h")) {
  process.stdout.write(configHelp());
  process.exit(0);
}

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`configuration error: ${err.message}\n`);
  process.exit(1);
}

const log = createLogger(config.LOG_LEVEL);
// Every asynchronous path has its own handler; should one be missed, it is a
// fault to log, not a reason to drop every user on this node.
process.on("unhandledRejection", (err) => {
  log.error({ err }, "unhandled rejection");
});
try {
  const server = await startChatServer(config, log);
  const stop = (signal: string) => {
    // The deadline comes first, so that nothing below (a log line to a closed pipe) can stop it.
    const deadline = setTimeout(() => {
      log.error("shutdown timed out; exiting anyway");
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT);
    deadline.unref();
    log.info({ signal, timeoutMs: config.SHUTDOWN_TIMEOUT }, "shutting down");
    server.close().then(
      () => {
        log.info("shut down cleanly");
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
} catch (err) {
  log.fatal({ err }, "could not start");
  process.stderr.write(`could not start: ${(err as Error).message}\n`);
  process.exit(1);
}
