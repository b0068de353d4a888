import { sumPasses } from './sum-passes.ts';

/**
 * A weighted sum shared by two threads (parallel-sum.ts and sum-worker.ts): the work is cut
 * into chunks (a range of one segment), and each thread claims the next chunk with an atomic
 * counter until none is left. A thread that starts late, or is descheduled on a busy machine,
 * simply claims fewer chunks, so the caller never waits for more than the chunk in flight.
 */

/** One output and the equally long arrays summed into it. */
export interface Segment {
  arrays: readonly Float32Array[];
  out: Float32Array;
}

/** Control words, each an Int32 of `SumJob.ctl` (a SharedArrayBuffer). */
export const NEXT = 0;
/** Chunks finished (by either thread). */
export const DONE = 1;
/** Set to 1 by a thread whose kernel threw; the caller then recomputes the whole job alone. */
export const FAILED = 2;

/** A job as posted to the worker: every array and the control block are SharedArrayBuffer-backed. */
export interface SumJob {
  segments: readonly Segment[];
  weights: readonly number[];
  /** Triples [segment, lo, hi]: chunk c covers segments[chunks[3c]].out[chunks[3c+1] .. chunks[3c+2]). */
  chunks: Int32Array;
  ctl: Int32Array;
}

/** Elements per chunk: small enough that `out`'s chunk stays in cache between passes and load balances, large enough that claims cost nothing. */
export const CHUNK = 1 << 15;

/** The job for `segments`, each cut into chunks of at most CHUNK elements. */
export function makeJob(segments: readonly Segment[], weights: readonly number[]): SumJob {
  const triples: number[] = [];
  segments.forEach((s, i) => {
    for (let lo = 0; lo < s.out.length; lo += CHUNK) triples.push(i, lo, Math.min(s.out.length, lo + CHUNK));
  });
  return { segments, weights, chunks: Int32Array.from(triples), ctl: new Int32Array(new SharedArrayBuffer(3 * 4)) };
}

/** The kernel a thread runs on one chunk (a parameter so tests can make a thread fail). */
export type Kernel = (arrays: readonly Float32Array[], weights: readonly number[], out: Float32Array) => unknown;

/**
 * Claims and sums chunks of `job` until none is left; returns how many this thread summed.
 * A kernel that throws sets FAILED (the chunk still counts as done, so nobody waits on it
 * forever); the error is not rethrown.
 */
export function claimChunks(job: SumJob, kernel: Kernel = sumPasses): number {
  const { chunks, ctl, segments, weights } = job;
  const total = chunks.length / 3;
  let mine = 0;
  for (let c = Atomics.add(ctl, NEXT, 1); c < total; c = Atomics.add(ctl, NEXT, 1), mine++) {
    const s = segments[chunks[3 * c]];
    const lo = chunks[3 * c + 1];
    const hi = chunks[3 * c + 2];
    try {
      kernel(
        s.arrays.map((a) => a.subarray(lo, hi)),
        weights,
        s.out.subarray(lo, hi),
      );
    } catch {
      Atomics.store(ctl, FAILED, 1);
    }
    if (Atomics.add(ctl, DONE, 1) + 1 === total) Atomics.notify(ctl, DONE);
  }
  return mine;
}

/** Blocks until every chunk of `job` is done or `timeoutMs` passes without progress; true if all are done. */
export function awaitChunks(job: SumJob, timeoutMs: number): boolean {
  const total = job.chunks.length / 3;
  for (let d = Atomics.load(job.ctl, DONE); d < total; d = Atomics.load(job.ctl, DONE)) {
    if (Atomics.wait(job.ctl, DONE, d, timeoutMs) === 'timed-out' && Atomics.load(job.ctl, DONE) === d) return false;
  }
  return true;
}
