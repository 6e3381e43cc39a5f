/**
 * Replies that mean "not now" rather than "never": a Cluster moving a slot
 * or short of a shard (ioredis gives up redirecting while the shard's
 * connection is closed), a replica promoted or still loading its data, a
 * Redis out of memory, busy with a script or unable to persist; and ioredis
 * refusing a command while its link is down between two status events (a
 * Sentinel moving it to the new primary). Whoever asked
 * may try again; the operator reads the cause in the log.
 */
const TRANSIENT =
  /^(TRYAGAIN|CLUSTERDOWN|MOVED|ASK|LOADING|READONLY|MASTERDOWN|OOM|BUSY|MISCONF|NOREPLICAS)\b|^Too many Cluster redirections|^Connection is closed|^Stream isn't writeable|^Reached the max retries per request/;

export function isTransient(err: unknown): boolean {
  return err instanceof Error && TRANSIENT.test(err.message);
}
