import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { StateStore } from '../../coordinator/store.ts';
import { packTensors } from '../../core/tensors.ts';
import { ROOT } from '../helpers/cli.ts';
import { INITIAL, SITES, tempDir, TOKENS, until } from './fixtures.ts';

/** A `fedkd` child process with its output collected. */
function fedkd(args: string[], env: NodeJS.ProcessEnv): { proc: ChildProcess; out: () => string; err: () => string; exit: Promise<number | null> } {
  let out = '';
  let err = '';
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin', 'fedkd.js'), ...args], { env: { ...process.env, FEDKD_PROGRESS: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, out: () => out, err: () => err, exit };
}

describe('fedkd coordinator and fedkd client processes', () => {
  it('run a federation; a client killed mid-round rejoins the next round', async () => {
    const dir = tempDir('cli-fed');
    writeFileSync(path.join(dir, 'initial.fkw'), packTensors(INITIAL));
    writeFileSync(
      path.join(dir, 'fed.json'),
      JSON.stringify({
        insecure: true,
        listen: { host: '127.0.0.1', port: 0 },
        stateDir: 'state',
        tokensFile: 'tokens.txt',
        model: { initialWeights: 'initial.fkw' },
        rounds: 3,
        sampling: { fraction: 1, minSites: 3, minResults: 2 },
        // round 1 closes without the killed site at its deadline; the restarted site has as long to join round 2
        deadlines: { roundSeconds: 15, evaluateSeconds: 2, siteTimeoutSeconds: 60 },
        training: { localEpochs: 2 },
      }),
    );
    writeFileSync(path.join(dir, 'tokens.txt'), Object.entries(TOKENS).map(([s, t]) => `${s} ${t}`).join('\n'));
    for (const [id, s] of Object.entries(SITES)) {
      mkdirSync(path.join(dir, id));
      writeFileSync(path.join(dir, id, 'toy-site.json'), JSON.stringify({ targets: s.targets.map((t) => Array.from(t)), numExamples: s.numExamples, lr: s.lr, epochMs: 300 }));
      writeFileSync(path.join(dir, `${id}.token`), `${TOKENS[id]}\n`);
    }
    const portFile = path.join(dir, 'port');
    const coord = fedkd(['coordinator', '--config', path.join(dir, 'fed.json'), '--port-file', portFile, '--json'], {});
    await until('the coordinator to listen', () => existsSync(portFile) && readFileSync(portFile, 'utf8').trim() !== '');
    const addr = `127.0.0.1:${readFileSync(portFile, 'utf8').trim()}`;
    const client = (id: string) => fedkd(['client', '--coordinator', addr, '--data', path.join(dir, id), '--token-file', path.join(dir, `${id}.token`), '--insecure', '--trainer', 'toy', '--json'], {});
    const a = client('a');
    const b = client('b');
    let c = client('c');
    await until('site c to start training round 1', () => c.err().includes('site c: train round 1'));
    c.proc.kill('SIGKILL');
    await c.exit;
    await until('round 1 to close without c', () => existsSync(path.join(dir, 'state', 'rounds.json')));
    c = client('c');
    const codes = await Promise.all([a.exit, b.exit, c.exit, coord.exit]);
    expect(codes, coord.err() + c.err()).toEqual([0, 0, 0, 0]);
    expect(JSON.parse(c.out()).trainedRounds).toEqual([2, 3]);
    expect(JSON.parse(a.out()).trainedRounds).toEqual([1, 2, 3]);
    const store = new StateStore(path.join(dir, 'state', 'state.sqlite'));
    try {
      expect(store.results(1, 'train', 'accepted').map((r) => r.siteId).sort()).toEqual(['a', 'b']);
      for (const round of [2, 3]) expect(store.results(round, 'train', 'accepted').map((r) => r.siteId).sort()).toEqual(['a', 'b', 'c']);
    } finally {
      store.close();
    }
    expect(JSON.parse(coord.out()).rounds).toHaveLength(3);
  });

  it('a client with a wrong token ends with one line and exit code 2', async () => {
    const dir = tempDir('cli-badtoken');
    writeFileSync(path.join(dir, 'initial.fkw'), packTensors(INITIAL));
    writeFileSync(path.join(dir, 'fed.yaml'), 'insecure: true\nlisten: { port: 0 }\nstateDir: state\nmodel: { initialWeights: initial.fkw }\nrounds: 1\n');
    const portFile = path.join(dir, 'port');
    const coord = fedkd(['coordinator', '--config', path.join(dir, 'fed.yaml'), '--port-file', portFile], { FEDKD_TOKENS: 'a=right' });
    try {
      await until('the coordinator to listen', () => existsSync(portFile) && readFileSync(portFile, 'utf8').trim() !== '');
      mkdirSync(path.join(dir, 'a'));
      writeFileSync(path.join(dir, 'a', 'toy-site.json'), JSON.stringify({ targets: [[0]], numExamples: 1, lr: 0.5 }));
      const bad = fedkd(['client', '--coordinator', `127.0.0.1:${readFileSync(portFile, 'utf8').trim()}`, '--data', path.join(dir, 'a'), '--token', 'wrong', '--insecure', '--trainer', 'toy'], {});
      expect(await bad.exit).toBe(2);
      expect(bad.err().trim().split('\n').at(-1)).toMatch(/^fedkd: coordinator refused site a: site a: bad token$/);
    } finally {
      coord.proc.kill('SIGTERM');
      await coord.exit;
    }
  });
});
