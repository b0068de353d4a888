// Pseudo-random payloads for the transfer bench (bench/federation.bench.ts, its peer process)
// and the transfer tests (test/proto/transfer.test.ts). Kept apart from bench/federation-peer.ts,
// which starts serving when imported by any forked process.

/**
 * A payload of `bytes` pseudo-random bytes (xorshift32 from `seed`), the same in every process,
 * so a misplaced chunk changes the hash.
 */
export function benchPayload(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  const words = new Uint32Array(out.buffer, 0, bytes >> 2);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return out;
}
