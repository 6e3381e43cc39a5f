import { readdirSync, readFileSync } from "node:fs";

/** Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream kernel build. */
const TICK_US = 10_000;

/** CPU time (user + system) a process has used so far, in µs, from /proc/<pid>/stat; or one of its threads'. */
export function cpuMicros(pid: number, tid?: number): number {
  const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, "utf8");
  // The command name may contain spaces and parentheses: fields are counted after its closing one.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after "pid (comm) ".
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

/**
 * Time a process's threads spent ready to run but waiting for a CPU so far, in µs: the second
 * field of each thread's /proc/<pid>/task/<tid>/schedstat. A thread that ended takes its share along.
 */
export function cpuWaitMicros(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[1]);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return ns / 1000;
}

/** Resident set size in bytes, from /proc/<pid>/status. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

export const sum = (pids: number[], read: (pid: number) => number): number =>
  pids.reduce((total, pid) => total + read(pid), 0);

/**
 * Connections the kernel dropped because a listening socket's accept queue
 * was full (TcpExt ListenOverflows in /proc/net/netstat), so far: counted for
 * the whole network namespace, every process's listeners, not one server's.
 * A dropped SYN is sent again by the client 1 s later, then 2 s, 4 s…
 */
export function listenOverflows(): number {
  const lines = readFileSync("/proc/net/netstat", "utf8").split("\n");
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = (lines[i] as string).split(" ");
    if (names[0] !== "TcpExt:") continue;
    return Number((lines[i + 1] as string).split(" ")[names.indexOf("ListenOverflows")]);
  }
  return 0;
}
