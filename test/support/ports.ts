import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

/**
 * Ports for the servers a test starts (redis-server, sentinels, nginx) that
 * cannot be told to pick their own. Each vitest worker draws from a block of
 * its own, below Linux's range for outgoing sockets (32768 and up), and never
 * hands a port out twice: two files running at once cannot collide, and no
 * client socket can take a port between the check and the server's bind. A
 * Cluster node's bus port (port + 10000) is reserved with it.
 *
 * Two runs at once (two checkouts on one machine) have workers of the same
 * number, so the same blocks: each port is also claimed with a file named for
 * it, which the other run skips for as long as the process that wrote it lives.
 */
const FIRST = 10_000;
const BLOCK = 2_000;
const BUS_OFFSET = 10_000;
const CLAIMS = path.join(os.tmpdir(), "redis-sockjs-chat-test-ports");

const worker = Math.max(1, Number(process.env.VITEST_POOL_ID ?? 1));
let next = FIRST + (worker - 1) * BLOCK;
const last = next + BLOCK;

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it lives, as another user's process.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Claims the port for this process unless a live process of another run holds it. */
function claim(port: number): boolean {
  mkdirSync(CLAIMS, { recursive: true });
  const file = path.join(CLAIMS, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: "wx" });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    let holder: number;
    try {
      holder = Number(readFileSync(file, "utf8"));
    } catch {
      continue;
    }
    if (holder === process.pid) return true;
    // Empty: its writer has created it and not yet written its pid.
    if (!(holder > 0) || alive(holder)) return false;
    // Left by a run that ended: taken over, by whichever of two takers writes first.
    try {
      unlinkSync(file);
    } catch {
      // the other taker was quicker
    }
  }
  return false;
}

/** A port no other test of this run (or of another at once) has or will get; `withBus` also keeps port + 10000 free. */
export async function allocatePort(withBus = false): Promise<number> {
  while (next < last) {
    const port = next++;
    if (!claim(port) || !(await canBind(port))) continue;
    if (withBus && (!claim(port + BUS_OFFSET) || !(await canBind(port + BUS_OFFSET)))) continue;
    return port;
  }
  throw new Error(`worker ${worker} used up its ${BLOCK} test ports`);
}
