import { InvalidArgumentError } from 'commander';

/** Parses a positive integer flag; commander reports a bad one as a one-line error (exit 2). */
export function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got '${v}'`);
  return n;
}

/** Parses a finite number flag within [lo, hi]. */
export function numberIn(lo: number, hi: number): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < lo || n > hi) throw new InvalidArgumentError(`expected a number in [${lo}, ${hi}], got '${v}'`);
    return n;
  };
}

/** Parses one of a fixed set of words. */
export function oneOf<T extends string>(choices: readonly T[]): (v: string) => T {
  return (v: string) => {
    if (!(choices as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')}, got '${v}'`);
    return v as T;
  };
}

/** Prints one JSON line to stdout (the `--json` contract). */
export function printJson(o: unknown): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}
