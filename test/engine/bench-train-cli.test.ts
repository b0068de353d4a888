import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

describe('fedkd bench train', () => {
  it('prints one JSON line with the contract fields, on wasm, with a plausible rate', () => {
    const r = runCli(['bench', 'train', '--arch', 'mobile-s', '--size', '16', '--batch', '4', '--backend', 'wasm', '--seconds', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const o = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(o).toMatchObject({ arch: 'mobile-s', size: 16, batch: 4, backend: 'wasm', replicas: 1 });
    expect(o.imagesPerSecond as number).toBeGreaterThan(0);
    // it trained for at least one timed second, so the rate cannot exceed the images it could have seen
    expect(o.imagesPerSecond as number).toBeLessThan(1e6);
    expect(o.peakRssMB as number).toBeGreaterThan(10);
  });

  it.each([
    [['--arch', 'resnet-9000'], /architecture|expected one of/],
    [['--batch', '6', '--replicas', '4'], /split evenly/],
    [['--size', '0'], /positive integer/],
    [['--backend', 'quantum'], /unknown backend/],
  ])('bad input %j: one line on stderr, exit 2', (args, message) => {
    const r = runCli(['bench', 'train', '--size', '16', '--batch', '4', '--seconds', '1', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
