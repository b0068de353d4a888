/**
 * How expensive fresh memory is on this machine. A model arriving over the wire is copied into
 * a new buffer of its size; glibc serves buffers that large with fresh pages from the kernel and
 * returns them on free, so every transfer touches fresh pages. Where a first touch is slow (a
 * virtual machine's page faults), that bounds the transfer, and glibc can be told to keep freed
 * memory instead (docs/FEDERATION.md, "Large models on virtual machines").
 */

/** The two glibc settings docs/FEDERATION.md recommends, as environment variables. */
export const KEEP_FREED_MEMORY_ENV = { MALLOC_MMAP_THRESHOLD_: '1073741824', MALLOC_TRIM_THRESHOLD_: '8589934592' } as const;

/** Fresh memory counts as slow when copying into it is this many times slower than into touched memory. */
export const SLOW_FIRST_TOUCH_RATIO = 8;

/** MB/s of one copy of `mb` MiB into fresh memory and into memory already touched. */
export interface FirstTouch {
  freshMBps: number;
  touchedMBps: number;
}

/** Measures FirstTouch with a `mb` MiB copy each way (about 0.1 s on a slow VM). */
export function measureFirstTouch(mb = 32): FirstTouch {
  const src = Buffer.alloc(mb * 1024 * 1024, 1);
  const touched = Buffer.alloc(src.length, 2);
  const time = (f: () => void): number => {
    const t0 = performance.now();
    f();
    return mb / Math.max((performance.now() - t0) / 1000, 1e-9);
  };
  const touchedMBps = time(() => src.copy(touched));
  const freshMBps = time(() => Buffer.from(src));
  return { freshMBps, touchedMBps };
}

/** What `fedkd doctor` says about memory for large model transfers, from a measurement and the environment. */
export function firstTouchAdvice(m: FirstTouch, env: NodeJS.ProcessEnv): { keepsFreedMemory: boolean; slowFirstTouch: boolean; advice: string } {
  const keepsFreedMemory = Object.keys(KEEP_FREED_MEMORY_ENV).every((k) => env[k] !== undefined && env[k] !== '');
  const slowFirstTouch = m.freshMBps * SLOW_FIRST_TOUCH_RATIO < m.touchedMBps;
  const figures = `copy into fresh memory ${m.freshMBps.toFixed(0)} MB/s, into touched memory ${m.touchedMBps.toFixed(0)} MB/s`;
  const settings = Object.entries(KEEP_FREED_MEMORY_ENV)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const advice = keepsFreedMemory
    ? `${figures}; glibc keeps freed memory (${Object.keys(KEEP_FREED_MEMORY_ENV).join(', ')} set)`
    : slowFirstTouch
      ? `${figures}: fresh pages are slow here and bound large model transfers; start the coordinator and sites with ${settings} (docs/FEDERATION.md)`
      : `${figures}: fresh pages are cheap here`;
  return { keepsFreedMemory, slowFirstTouch, advice };
}
