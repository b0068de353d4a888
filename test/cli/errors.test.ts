import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

describe('fedkd command line', () => {
  it('prints help and exits 0', () => {
    const r = runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: fedkd');
  });

  it('rejects an unknown command with one line and exit code 2', () => {
    const r = runCli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
  });
});
