import { mkdtempSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { packTensors, type NamedTensor } from '../../core/tensors.ts';
import { hashToken } from '../../coordinator/auth.ts';
import { parseCoordinatorConfig, type CoordinatorConfig } from '../../coordinator/config.ts';
import type { ToySite } from '../../client/toy-trainer.ts';

/** Polls `test` every 50 ms until it holds; throws naming `what` after `ms`. */
export async function until(what: string, test: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A fresh temp folder. */
export function tempDir(label: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `fedkd-${label}-`));
}

/** A tensor from values. */
export const tensor = (name: string, values: number[], shape = [values.length]): NamedTensor => ({ name, shape, dtype: 'float32', data: Float32Array.from(values) });

/** The toy model every federation test starts from: two tensors, all zeros but one. */
export const INITIAL: NamedTensor[] = [tensor('dense/kernel', [0, 0, 0, 1], [2, 2]), tensor('dense/bias', [0, 0])];

/** Three toy sites pulling towards different targets, with 10, 30 and 60 examples. */
export const SITES: Record<string, ToySite> = {
  a: { targets: [Float32Array.from([1, 1, 1, 1]), Float32Array.from([1, 1])], numExamples: 10, lr: 0.5 },
  b: { targets: [Float32Array.from([2, 0, 2, 0]), Float32Array.from([0, 2])], numExamples: 30, lr: 0.5 },
  c: { targets: [Float32Array.from([4, 4, 0, 0]), Float32Array.from([-1, 3])], numExamples: 60, lr: 0.5 },
};

/** Tokens of the test sites. */
export const TOKENS: Record<string, string> = { a: 'token-a-0123456789', b: 'token-b-0123456789', c: 'token-c-0123456789' };

/** The hashed token map a coordinator loads. */
export function tokenHashes(sites = Object.keys(TOKENS)): Map<string, string> {
  return new Map(sites.map((s) => [s, hashToken(TOKENS[s])]));
}

/** Writes the initial model and returns a validated coordinator config over `dir`. */
export function federationConfig(dir: string, overrides: Record<string, unknown> = {}): CoordinatorConfig {
  const weights = path.join(dir, 'initial.fkw');
  writeFileSync(weights, packTensors(INITIAL));
  return parseCoordinatorConfig({
    insecure: true,
    listen: { host: '127.0.0.1', port: 0 },
    stateDir: path.join(dir, 'state'),
    model: { initialWeights: weights },
    rounds: 2,
    sampling: { fraction: 1, minSites: 3, minResults: 2 },
    deadlines: { roundSeconds: 60, evaluateSeconds: 60, siteTimeoutSeconds: 60 },
    training: { localEpochs: 2 },
    pollMs: 20,
    longPollMs: 0,
    ...overrides,
  });
}

/** Weighted mean of the sites' targets for tensor i: Σ n_k t_k / Σ n_k. */
export function weightedTarget(i: number, sites = Object.values(SITES)): number[] {
  const n = sites.reduce((s, x) => s + x.numExamples, 0);
  return Array.from(sites[0].targets[i], (_, j) => sites.reduce((s, x) => s + (x.numExamples * x.targets[i][j]) / n, 0));
}

/** A TCP port on 127.0.0.1 free a moment ago, for a child coordinator that must keep its port across restarts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/**
 * A folder for a `fedkd coordinator` child process on a free loopback port kept across restarts:
 * initial.fkw (INITIAL) and fed.yaml, plain text, state in state/, then the config `lines`.
 */
export async function coordinatorFolder(label: string, lines: string[]): Promise<{ dir: string; port: number; config: string }> {
  const dir = tempDir(label);
  const port = await freePort();
  writeFileSync(path.join(dir, 'initial.fkw'), packTensors(INITIAL));
  const config = path.join(dir, 'fed.yaml');
  writeFileSync(config, ['insecure: true', `listen: { host: 127.0.0.1, port: ${port} }`, 'stateDir: state', 'model: { initialWeights: initial.fkw }', ...lines].join('\n'));
  return { dir, port, config };
}

/** The exit code of a child process once it has exited (at once if it already has). */
export function exited(c: ChildProcess): Promise<number | null> {
  return new Promise((r) => (c.exitCode !== null || c.signalCode ? r(c.exitCode) : c.once('exit', (code) => r(code))));
}
