const tty = process.stderr.isTTY === true;
let last = "";

/** One status line, rewritten in place on a terminal, one line per change elsewhere. */
export function progress(line: string): void {
  if (line === last) return;
  last = line;
  process.stderr.write(tty ? `\r\x1b[K${line.slice(0, (process.stderr.columns ?? 120) - 1)}` : `${line}\n`);
}

/** Ends the status line so that what follows starts on its own line. */
export function progressDone(): void {
  if (tty && last !== "") process.stderr.write("\n");
  last = "";
}
