/** Informational messages go to stderr, so stdout stays clean for `--json` output. */
export function info(msg: string): void {
  if (process.env.FEDKD_QUIET !== '1') process.stderr.write(`${msg}\n`);
}

/** A warning: always printed, prefixed so it stands out. */
export function warn(msg: string): void {
  process.stderr.write(`warning: ${msg}\n`);
}
