import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashToken } from '../../coordinator/auth.ts';
import type { RoundSummary } from '../../coordinator/rounds.ts';
import { killWithParent } from '../../core/children.ts';
import { UserError } from '../../core/errors.ts';
import { configHash } from '../../core/files.ts';
import { info } from '../../core/log.ts';
import { packTensors } from '../../core/tensors.ts';
import { synthesizeFederation, type SynthOptions } from '../../data/synth/federation.ts';
import { getNamedWeights } from '../../models/index.ts';
import { BASELINE_LABELS, type BaselineKind, type BaselineResult } from './baselines.ts';
import type { SimulateConfig } from './config.ts';
import { ensurePretrainedStudent } from './pretrain.ts';
import { coordinatorPruning } from './pruning.ts';
import { buildStudent } from './student.ts';

const BIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'fedkd.js');

/** A `fedkd` child process, stopped with this one (core/children.ts); its stderr is passed through with a prefix, its stdout kept. */
export function fedkdProcess(label: string, args: string[], env: NodeJS.ProcessEnv = {}): { done: Promise<string>; kill(): void } {
  const child = killWithParent(spawn(process.execPath, [BIN, ...args], { env: { ...process.env, FEDKD_PROGRESS: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let tail = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d: Buffer) => {
    const text = tail + d.toString();
    const lines = text.split('\n');
    tail = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) info(`[${label}] ${l}`);
  });
  const done = new Promise<string>((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new UserError(`${label} failed (exit ${code})${tail ? `: ${tail}` : ''}`)))),
  );
  return { done, kill: () => child.kill('SIGTERM') };
}

/** The site folders of the synthetic collection in `dir`, written (data/synth) first if absent. */
async function ensureSynth(dir: string, what: string, opts: Omit<SynthOptions, 'out' | 'force' | 'onImage'>): Promise<string[]> {
  if (!existsSync(path.join(dir, 'federation.json'))) {
    info(`simulate: synthesising ${what} (${opts.sites} sites) in ${dir}`);
    await synthesizeFederation({ ...opts, out: dir, force: true });
  }
  const manifest = JSON.parse(readFileSync(path.join(dir, 'federation.json'), 'utf8')) as { sites: { name: string }[] };
  return manifest.sites.map((s) => path.join(dir, s.name));
}

/** The synthetic federation's site folders, made (data/synth) if absent. */
export async function ensureFederation(c: SimulateConfig): Promise<string[]> {
  const f = c.federation;
  const dir = path.join(c.work, `federation-${configHash({ ...f, seed: c.seed }).slice(0, 10)}`);
  return ensureSynth(dir, 'the federation', { sites: f.sites, imagesPerSite: f.imagesPerSite, size: f.size, seed: c.seed, largeFactor: f.largeFactor, testFraction: f.testFraction ?? 0, testImages: f.testImages });
}

/** Sites of the teacher's public collection: the hospitals' four scanner models and four variants (data/synth/sites.ts). */
export const PUBLIC_SITES = 8;

/**
 * The seed of the teacher's public collection. Images are drawn per (seed, site name, index),
 * and the collection's first four sites share the hospitals' names, so it must have its own
 * seed or the teacher would be trained on the hospitals' own (test) images.
 */
export function publicSeed(seed: number): number {
  return (seed + 1_000_003) % 2 ** 32;
}

/**
 * The site folders the teacher trains on: with `teacher.publicImages` > 0, a public collection
 * made for it (PUBLIC_SITES sites of equal size, a tenth of each held out), written if absent;
 * with 0, the hospitals' own sites.
 */
export async function teacherSites(c: SimulateConfig, sites: string[]): Promise<string[]> {
  if (c.teacher.publicImages === 0) return sites;
  const spec = { sites: PUBLIC_SITES, imagesPerSite: Math.ceil(c.teacher.publicImages / PUBLIC_SITES), size: c.federation.size, seed: publicSeed(c.seed), largeFactor: 1, testFraction: 0.1 };
  return ensureSynth(path.join(c.work, `public-${configHash(spec).slice(0, 10)}`), "the teacher's public collection", spec);
}

/**
 * Where the teacher for this config lives: keyed on the teacher and image settings, the seed and
 * the sites' paths relative to the work folder, so a work folder moved or copied elsewhere
 * keeps its teacher.
 */
export function teacherFile(c: SimulateConfig, sites: readonly string[]): string {
  const rel = sites.map((s) => path.relative(c.work, s).split(path.sep).join('/'));
  return path.join(c.work, `teacher-${configHash({ t: c.teacher, i: c.image, sites: rel, seed: c.seed }).slice(0, 10)}.onnx`);
}

/**
 * The teacher ONNX file, trained (`fedkd teacher train`) on `teacherData` (teacherSites: its
 * public collection, or the hospitals' pooled sites) unless one for this config exists.
 */
export async function ensureTeacher(c: SimulateConfig, data: string[]): Promise<string> {
  const file = teacherFile(c, data);
  if (existsSync(file) && existsSync(`${file}.json`)) {
    info(`simulate: reusing the teacher ${file}`);
    return file;
  }
  const args = ['teacher', 'train', '--data', ...data, '--out', file, '--arch', c.teacher.arch, '--width', String(c.teacher.width), '--epochs', String(c.teacher.epochs), '--lr', String(c.teacher.lr), '--batch-size', String(c.teacher.batchSize), '--replicas', String(c.teacher.replicas)];
  args.push('--size', String(c.image.size), '--window', c.image.window, '--normalize', c.image.normalize, '--seed', String(c.seed));
  await fedkdProcess('teacher', args).done;
  return file;
}

/**
 * Everything a run needs before round 1, made or reused: the hospitals' sites, the teacher and
 * the pre-trained student (or none). With a public collection, it is written first; then the
 * teacher (its own process) and the pre-trained student (this one) train on it at once, while
 * the hospitals' images are still being written.
 */
export async function prepare(c: SimulateConfig): Promise<{ sites: string[]; teacher: string; pretrained?: string }> {
  if (c.teacher.publicImages === 0) {
    const sites = await ensureFederation(c);
    return { sites, teacher: await ensureTeacher(c, sites) };
  }
  const publicSites = await teacherSites(c, []);
  const [sites, teacher, pretrained] = await Promise.all([ensureFederation(c), ensureTeacher(c, publicSites), ensurePretrainedStudent(c, publicSites)]);
  return { sites, teacher, pretrained };
}

/**
 * One baseline (cli/simulate/baselines.ts trainBaseline) in a child `fedkd simulate --baseline`
 * process with the parent's config flags, so it trains on the second core while the federation runs.
 */
export function startBaseline(c: SimulateConfig, configFlags: string[], kind: BaselineKind): { result: Promise<BaselineResult>; kill(): void } {
  const file = path.join(c.work, `baseline-${kind}.json`);
  rmSync(file, { force: true });
  const child = fedkdProcess(BASELINE_LABELS[kind], ['simulate', ...configFlags, '--baseline', kind, '--baseline-out', file]);
  return { result: child.done.then(() => JSON.parse(readFileSync(file, 'utf8')) as BaselineResult), kill: child.kill };
}

/** The student's architecture keys every site receives in the round config. */
export function studentRoundConfig(c: SimulateConfig): Record<string, string | number> {
  return {
    localEpochs: c.federated.localEpochs,
    arch: c.student.arch,
    imageSize: c.image.size,
    widthMultiplier: c.student.width,
    numClasses: 2,
    batchSize: c.student.batchSize,
    lr: c.student.lr,
    temperature: c.student.temperature,
    alpha: c.student.alpha,
    lrDecay: c.federated.lrDecay,
    totalRounds: c.federated.rounds,
    minLrFactor: c.federated.minLrFactor,
    seed: c.seed,
    window: c.image.window,
    normalize: c.image.normalize,
    ...(c.student.degrade ? { degradeP: c.student.degrade.p, degradeBlur: c.student.degrade.blur, degradeNoise: c.student.degrade.noise } : {}),
  };
}

/** The student every site starts from, as a weights file: the pre-trained one (cli/simulate/pretrain.ts) or the seed's random weights. */
export function writeInitialStudent(c: SimulateConfig, file: string, pretrained?: string): void {
  if (pretrained) {
    copyFileSync(pretrained, file);
    return;
  }
  const model = buildStudent(c);
  writeFileSync(file, packTensors(getNamedWeights(model)));
  model.dispose();
}

/**
 * The federated run as it would be deployed, on loopback: a real `fedkd coordinator` and one
 * `fedkd client` per site, each with its own token. Returns the rounds' summaries and the
 * final weights file (and, with federated calibration, the coordinator's final-model/ folder:
 * FP32 and INT8 ONNX, merged statistics, report.json).
 */
export async function runFederation(c: SimulateConfig, sites: string[], teacher: string, pretrained?: string): Promise<{ rounds: RoundSummary[]; finalWeights: string; finalOnnx?: string }> {
  const run = path.join(c.work, 'run');
  rmSync(run, { recursive: true, force: true });
  mkdirSync(path.join(run, 'tokens'), { recursive: true });
  writeInitialStudent(c, path.join(run, 'initial.fkw'), pretrained);
  const ids = sites.map((s) => path.basename(s));
  const tokens = ids.map(() => randomBytes(24).toString('base64url'));
  writeFileSync(path.join(run, 'tokens.txt'), ids.map((id, i) => `${id} ${hashToken(tokens[i])}`).join('\n'));
  ids.forEach((id, i) => writeFileSync(path.join(run, 'tokens', `${id}.token`), tokens[i], { mode: 0o600 }));
  const config = {
    insecure: true,
    seed: c.seed,
    listen: { host: '127.0.0.1', port: 0 },
    stateDir: 'state',
    tokensFile: 'tokens.txt',
    model: { initialWeights: 'initial.fkw' },
    rounds: c.federated.rounds,
    sampling: { fraction: c.federated.fraction, minSites: Math.max(1, Math.ceil(c.federated.fraction * ids.length)), minResults: Math.max(1, Math.ceil(c.federated.fraction * ids.length)) },
    ...coordinatorPruning(c),
    deadlines: { roundSeconds: 3600, evaluateSeconds: 1800, siteTimeoutSeconds: 600 },
    strategy: c.federated.strategy,
    training: studentRoundConfig(c),
    ...(c.quantize.enabled ? { quantize: { method: c.quantize.method } } : {}),
  };
  writeFileSync(path.join(run, 'fed.json'), JSON.stringify(config, null, 1));
  const portFile = path.join(run, 'port');
  const coordinator = fedkdProcess('coordinator', ['coordinator', '--config', path.join(run, 'fed.json'), '--port-file', portFile, '--json']);
  const started = Date.now();
  while (!existsSync(portFile) || !readFileSync(portFile, 'utf8').trim()) {
    if (Date.now() - started > 120_000) throw new UserError('the coordinator did not start within 2 minutes');
    await Promise.race([new Promise((r) => setTimeout(r, 100)), coordinator.done]);
  }
  const addr = `127.0.0.1:${readFileSync(portFile, 'utf8').trim()}`;
  const clients = ids.map((id, i) =>
    fedkdProcess(id, ['client', '--coordinator', addr, '--data', sites[i], '--teacher', teacher, '--token-file', path.join(run, 'tokens', `${id}.token`), '--insecure', '--json']),
  );
  try {
    await Promise.all(clients.map((cl) => cl.done));
    const out = await coordinator.done;
    const summary = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { rounds: RoundSummary[] };
    return { rounds: summary.rounds, finalWeights: path.join(run, 'state', 'final-model.fkw'), ...(c.quantize.enabled ? { finalOnnx: path.join(run, 'state', 'final-model') } : {}) };
  } catch (e) {
    coordinator.kill();
    clients.forEach((cl) => cl.kill());
    throw e;
  }
}
