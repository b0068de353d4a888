import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configHash, sha256, writeFileAtomic } from '../../core/files.ts';
import { Rng } from '../../core/rng.ts';

describe('core', () => {
  it('sha256 matches the FIPS 180-2 test vector for "abc"', () => {
    expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('configHash ignores key order but not values', () => {
    expect(configHash({ a: 1, b: { c: 2, d: 3 } })).toBe(configHash({ b: { d: 3, c: 2 }, a: 1 }));
    expect(configHash({ a: 1 })).not.toBe(configHash({ a: 2 }));
  });

  it('writeFileAtomic leaves only the final file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fedkd-core-'));
    const f = path.join(dir, 'sub', 'x.json');
    await writeFileAtomic(f, '{"ok":1}');
    await writeFileAtomic(f, '{"ok":2}');
    expect(readFileSync(f, 'utf8')).toBe('{"ok":2}');
    expect(readdirSync(path.dirname(f))).toEqual(['x.json']);
  });

  it('Rng repeats for one seed, differs across seeds, and is uniform-ish', () => {
    const a = new Rng(7), b = new Rng(7), c = new Rng(8);
    const xs = Array.from({ length: 10000 }, () => a.next());
    expect(Array.from({ length: 10000 }, () => b.next())).toEqual(xs);
    expect(c.next()).not.toBe(xs[0]);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    const r = new Rng(3);
    const ns = Array.from({ length: 20000 }, () => r.normal());
    const m = ns.reduce((s, x) => s + x, 0) / ns.length;
    const v = ns.reduce((s, x) => s + (x - m) ** 2, 0) / ns.length;
    expect(Math.abs(m)).toBeLessThan(0.03);
    expect(Math.abs(v - 1)).toBeLessThan(0.05);
  });
});
