import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { vi } from "vitest";
import { stopChild } from "./child-process.js";
import { allocatePort } from "./ports.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** The production example; the tests run it, not a look-alike. */
const DEPLOY_CONF = path.join(root, "deploy/nginx.conf");
const NGINX = "/usr/sbin/nginx";
const TEMP_DIRS = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"];

export interface NginxOptions {
  /** Ports of the chat nodes on 127.0.0.1. */
  upstreams: number[];
  /** False drops the sticky-session line, leaving nginx's default: round-robin. */
  sticky: boolean;
}

export interface Nginx {
  readonly url: string;
  /** What nginx has written to its access log so far. */
  accessLog(): string;
  stop(): Promise<void>;
}

/** Replaces what `pattern` matches, insisting it matches: a deploy config that drifted must fail loudly. */
function swap(conf: string, pattern: RegExp, replacement: string): string {
  if (!pattern.test(conf)) throw new Error(`deploy/nginx.conf no longer has ${pattern}`);
  return conf.replace(pattern, replacement);
}

/**
 * deploy/nginx.conf with test addresses, and every file nginx writes under
 * `dir` so that it runs unprivileged. One worker keeps a single round-robin
 * sequence, which makes the non-sticky case deterministic.
 */
function renderConf(options: NginxOptions & { port: number; dir: string }): string {
  const { dir } = options;
  let conf = readFileSync(DEPLOY_CONF, "utf8");
  conf = swap(conf, /^user .*;\n/m, "");
  conf = swap(conf, /^worker_processes .*;$/m, "worker_processes 1;");
  conf = swap(conf, /^pid .*;$/m, `pid ${dir}/nginx.pid;`);
  conf = swap(conf, /^error_log \S+/m, `error_log ${dir}/error.log`);
  conf = swap(conf, /^(\s*)access_log \S+( \w+)?;$/m, `$1access_log ${dir}/access.log$2;`);
  const temps = TEMP_DIRS.map((name) => `    ${name}_temp_path ${dir}/${name};`).join("\n");
  conf = swap(conf, /^http \{$/m, `http {\n${temps}`);
  const servers = options.upstreams.map((port) => `        server 127.0.0.1:${port} max_fails=3 fail_timeout=10s;`);
  conf = swap(conf, /^(\s*server \d+\.\d+\.\d+\.\d+:\d+[^;]*;\n)+/m, `${servers.join("\n")}\n`);
  conf = swap(conf, /^(\s*)listen \d+;$/m, `$1listen 127.0.0.1:${options.port};`);
  if (!options.sticky) conf = swap(conf, /^\s*ip_hash;\n/m, "");
  return conf;
}

/** Resolves once nginx answers through to a node, rejects if it never does. */
async function untilServing(child: ChildProcess, url: string, logs: () => string): Promise<void> {
  await vi.waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}):\n${logs()}`);
      const res = await fetch(`${url}/healthz`).catch(() => undefined);
      if (!res?.ok) throw new Error(`nginx not serving ${url} after 10 s:\n${logs()}`);
    },
    { timeout: 10_000, interval: 50 },
  );
}

/** Runs /usr/sbin/nginx in the foreground with a test copy of deploy/nginx.conf. */
export async function startNginx(options: NginxOptions): Promise<Nginx> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchNginx(options, await allocatePort());
    } catch (err) {
      // A port this run handed out can still be taken before nginx binds it, by a process of another run.
      if (attempt >= 3 || !String(err).includes("Address already in use")) throw err;
    }
  }
}

async function launchNginx(options: NginxOptions, port: number): Promise<Nginx> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "chat-nginx-"));
  for (const name of TEMP_DIRS) mkdirSync(path.join(dir, name));
  const confFile = path.join(dir, "nginx.conf");
  writeFileSync(confFile, renderConf({ ...options, port, dir }));
  // -e: the error log nginx opens before it has read the config, by default under /var/log.
  const child = spawn(NGINX, ["-p", dir, "-c", confFile, "-e", `${dir}/error.log`, "-g", "daemon off;"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let out = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const logs = () => {
    let errors = "";
    try {
      errors = readFileSync(path.join(dir, "error.log"), "utf8");
    } catch {
      // nginx failed before it opened its log
    }
    return `${out}${errors}`.slice(-2000);
  };
  const stop = async () => {
    // SIGTERM is nginx's fast shutdown; SIGQUIT would wait for every open chat to end.
    await stopChild(child, "SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await untilServing(child, url, logs);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, stop, accessLog: () => readFileSync(path.join(dir, "access.log"), "utf8") };
}
