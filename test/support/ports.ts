import net from "node:net";

/**
 * Ports for the servers a test starts (redis-server, sentinels, nginx) that
 * cannot be told to pick their own. Each vitest worker draws from a block of
 * its own, below Linux's range for outgoing sockets (32768 and up), and never
 * hands a port out twice: two files running at once cannot collide, and no
 * client socket can take a port between the check and the server's bind. A
 * Cluster node's bus port (port + 10000) is reserved with it.
 */
const FIRST = 10_000;
const BLOCK = 2_000;
const BUS_OFFSET = 10_000;

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

/** A port no other test of this run has or will get; `withBus` also keeps port + 10000 free. */
export async function allocatePort(withBus = false): Promise<number> {
  while (next < last) {
    const port = next++;
    if (!(await canBind(port))) continue;
    if (withBus && !(await canBind(port + BUS_OFFSET))) continue;
    return port;
  }
  throw new Error(`worker ${worker} used up its ${BLOCK} test ports`);
}
