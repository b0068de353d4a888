import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { runAgent } from '../../client/agent.ts';
import type { EvaluateOutput, FitOutput, SiteTrainer } from '../../client/site-trainer.ts';
import { Rng } from '../../core/rng.ts';
import { packTensors, unpackTensors, type NamedTensor } from '../../core/tensors.ts';
import { ContentStore } from '../../coordinator/checkpoints.ts';
import { openCoordinator, type Coordinator } from '../../coordinator/coordinator.ts';
import { FederatedPruning } from '../../coordinator/pruning.ts';
import { StateStore } from '../../coordinator/store.ts';
import type { RoundSummary } from '../../coordinator/summary.ts';
import { buildModel, countParams, getNamedWeights, loadModel, setNamedWeights } from '../../models/index.ts';
import type { RoundConfig } from '../../proto/types.ts';
import { InProcessLink } from '../../proto/in-process-link.ts';
import { openSession } from '../../runtime/session.ts';
import { applyMasks, channelImportance, analyzeChannels, compactWeights, expandWeights, federatedMasks, pruneSettingsSchema, sumScores, type PruneMasks } from '../../prune/index.ts';
import { selectMasks } from '../../prune/select.ts';
import { federationConfig, tempDir, tokenHashes, TOKENS } from './fixtures.ts';

const FAST = { initialMs: 10, maxMs: 50, multiplier: 2, jitter: 0.1, giveUpMs: 20_000 };
const ARCH = { arch: 'mobile-s', imageSize: 16, widthMultiplier: 0.25, numClasses: 2 };
const EXAMPLES: Record<string, number> = { a: 10, b: 30, c: 60 };
const student = (): tf.LayersModel => buildModel(ARCH.arch, { inputSize: ARCH.imageSize, inputChannels: 1, numClasses: 2, widthMultiplier: ARCH.widthMultiplier, seed: 3 });

/**
 * A stand-in for local training on the real student: scales every weight by a site factor,
 * adds seeded noise, and re-zeroes the channels the task's masks remove. Records what it got and sent.
 */
class PerturbTrainer implements SiteTrainer {
  got: { round: number; config: RoundConfig; global: NamedTensor[] }[] = [];
  sent: Map<number, NamedTensor[]> = new Map();
  private readonly model = student();
  constructor(
    private readonly site: string,
    private readonly hold?: { round: number; signal: AbortSignal },
    private readonly noise = 0.05,
  ) {}
  async datasetSize(): Promise<number> {
    return EXAMPLES[this.site];
  }
  async capabilities(): Promise<Record<string, string>> {
    return { trainer: 'perturb' };
  }
  async fit(global: NamedTensor[], config: RoundConfig): Promise<FitOutput> {
    this.got.push({ round: config.round, config, global });
    if (this.hold && config.round >= this.hold.round) await new Promise((_, reject) => this.hold!.signal.addEventListener('abort', () => reject(new Error('stopped'))));
    const rng = new Rng(config.round * 100 + this.site.charCodeAt(0));
    const k = 1 + 0.2 * (this.site.charCodeAt(0) - 97);
    setNamedWeights(this.model, global.map((w) => ({ ...w, data: w.data.map((v) => v * k + this.noise * rng.normal()) })));
    if (config.pruneMasks) applyMasks(this.model, config.pruneMasks as PruneMasks);
    const weights = getNamedWeights(this.model);
    this.sent.set(config.round, weights);
    return { weights, numExamples: EXAMPLES[this.site], metrics: { loss: 1 } };
  }
  async evaluate(): Promise<EvaluateOutput> {
    return { numExamples: 5, metrics: { auc: 0.5, loss: 1 } };
  }
}

/** FedAvg by example count of what the trainers sent in `round`, computed here. */
function fedavg(trainers: Record<string, PerturbTrainer>, round: number): NamedTensor[] {
  const ids = Object.keys(trainers);
  const n = ids.reduce((s, id) => s + EXAMPLES[id], 0);
  return trainers.a.sent.get(round)!.map((t, i) => ({ ...t, data: t.data.map((_, j) => ids.reduce((s, id) => s + (EXAMPLES[id] * trainers[id].sent.get(round)![i].data[j]) / n, 0)) }));
}

const PRUNING = { ratio: 0.5, criterion: 'l1', atRounds: [1] };

function setup(label: string, rounds: number, pruning: Record<string, unknown> = PRUNING): ReturnType<typeof federationConfig> {
  const dir = tempDir(label);
  const config = federationConfig(dir, { rounds, sampling: { fraction: 1, minSites: 3, minResults: 3 }, training: { localEpochs: 1, ...ARCH }, pruning });
  const m = student();
  writeFileSync(config.model.initialWeights, packTensors(getNamedWeights(m)));
  m.dispose();
  return config;
}

const agents = (coord: Coordinator, trainers: Record<string, PerturbTrainer>): Promise<unknown>[] =>
  Object.entries(trainers).map(([id, trainer]) => runAgent({ siteId: id, link: new InProcessLink(coord.service, id, TOKENS[id]), trainer, backoff: FAST }));

const trainersFor = (hold?: { round: number; signal: AbortSignal }, noise?: number): Record<string, PerturbTrainer> => ({
  a: new PerturbTrainer('a', hold, noise),
  b: new PerturbTrainer('b', hold, noise),
  c: new PerturbTrainer('c', hold, noise),
});

describe('federated pruning in one process (mobile-s, the agent a hospital runs)', () => {
  let coord: Coordinator | null = null;
  afterEach(() => {
    coord?.close();
    coord = null;
  });

  it('sends masks computed from the aggregated model, compact weights on the wire, and shrinks the final model', async () => {
    const config = setup('prune-fed', 2);
    coord = await openCoordinator(config, tokenHashes());
    const trainers = trainersFor();
    await Promise.all(agents(coord, trainers));
    const rounds: RoundSummary[] = await coord.finished;

    // the masks of round 2 are federatedMasks of round 1's FedAvg, computed here
    const model = student();
    setNamedWeights(model, fedavg(trainers, 1));
    const expected = federatedMasks(model, pruneSettingsSchema.parse(PRUNING), 1)!;
    const kept = Object.values(expected).flat();
    expect(kept.filter((k) => !k).length).toBeGreaterThan(kept.length * 0.3);
    for (const t of Object.values(trainers)) {
      expect(t.got.map((g) => g.round)).toEqual([1, 2]);
      expect(t.got[0].config.pruneMasks).toBeUndefined();
      expect(t.got[1].config.pruneMasks).toEqual(expected);
    }
    expect(JSON.parse(readFileSync(path.join(config.stateDir, 'final-masks.json'), 'utf8'))).toEqual(expected);

    // round 2 started from the masked FedAvg (expanded from the compact wire form at the site)
    const maskedAvg = expandWeights(model, expected, compactWeights(model, expected));
    const zeroed = maskedAvg.reduce((s, t) => s + t.data.filter((v) => v === 0).length, 0);
    expect(zeroed).toBeGreaterThan(fedavg(trainers, 1).reduce((s, t) => s + t.data.filter((v) => v === 0).length, 0) + 100);
    trainers.a.got[1].global.forEach((t, i) => t.data.forEach((v, j) => expect(v).toBeCloseTo(maskedAvg[i].data[j], 5)));

    // wire bytes: round 1 full, round 2 the compact weights' size, both ways
    setNamedWeights(model, maskedAvg);
    const fullBytes = packTensors(maskedAvg).length;
    const compactBytes = packTensors(compactWeights(model, expected)).length;
    expect(compactBytes).toBeLessThan(fullBytes * 0.6);
    expect(rounds.map((r) => r.modelBytes)).toEqual([fullBytes, compactBytes]);
    expect(rounds.map((r) => r.train.meanPushBytes)).toEqual([fullBytes, compactBytes]);
    expect(rounds.map((r) => r.pruning?.prunedNow)).toEqual([true, false]);

    // the final global model is masked, and the shrunk one computes the same within 1e-5
    const final = unpackTensors(new Uint8Array(readFileSync(path.join(config.stateDir, 'final-model.fkw'))));
    setNamedWeights(model, final);
    const roundTrip = expandWeights(model, expected, compactWeights(model, expected));
    roundTrip.forEach((t, i) => expect(Array.from(t.data)).toEqual(Array.from(final[i].data)));
    const small = await loadModel(path.join(config.stateDir, 'final-pruned'));
    expect(countParams(small).total).toBeLessThan(countParams(model).total * 0.6);
    const x = tf.randomNormal([4, 16, 16, 1], 0, 1, 'float32', 7);
    const diff = tf.max(tf.abs(tf.sub(model.predict(x) as tf.Tensor, small.predict(x) as tf.Tensor))).dataSync()[0];
    expect(diff).toBeLessThan(1e-5);
    // the exported ONNX of the shrunk student, run by ONNX Runtime (NCHW), gives the masked model's logits
    const session = await openSession(new Uint8Array(readFileSync(path.join(config.stateDir, 'final-pruned.onnx'))));
    const nchw = tf.transpose(x, [0, 3, 1, 2]);
    const out = await session.run({ [session.inputNames[0]]: { data: nchw.dataSync() as Float32Array, dims: [4, 1, 16, 16] } });
    await session.release();
    const ort = Object.values(out)[0].data as Float32Array;
    const want = (model.predict(x) as tf.Tensor).dataSync();
    ort.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(1e-4));
    expect(ort.length).toBe(8);
    model.dispose();
    small.dispose();
  }, 120_000);

  it('ranks channels by the sum of the sites’ reported scores when source is site-scores', async () => {
    const settings = { ratio: 0.4, criterion: 'l2', atRounds: [1], source: 'site-scores', scope: 'global' };
    const config = setup('prune-scores', 2, settings);
    coord = await openCoordinator(config, tokenHashes());
    const trainers = trainersFor(undefined, 0.5);
    await Promise.all(agents(coord, trainers));
    await coord.finished;
    expect(trainers.a.got[0].config.pruneScores).toBe('l2');
    expect(trainers.a.got[1].config.pruneScores).toBeUndefined();

    // each site's L2 scores of what it sent, summed, then the same selection
    const model = student();
    const graph = analyzeChannels(model);
    const scores = Object.values(trainers).map((t) => {
      setNamedWeights(model, t.sent.get(1)!);
      return channelImportance(model, graph, 'l2');
    });
    const s = pruneSettingsSchema.parse(settings);
    const expected = selectMasks(graph, sumScores(scores), { ratio: 0.4, scope: 'global', criterion: 'l2', minChannels: s.minChannels, minKeepFraction: s.minKeepFraction, roundTo: 1 });
    expect(trainers.b.got[1].config.pruneMasks).toEqual(expected);
    // not what the aggregated model alone would give
    setNamedWeights(model, fedavg(trainers, 1));
    expect(federatedMasks(model, { ...s, source: 'global-model' }, 1)).not.toEqual(expected);
    model.dispose();
  }, 120_000);

  it('falls back to the aggregated model when no site reported scores, so the run does not stall', () => {
    const dir = tempDir('prune-fallback');
    const store = new StateStore(path.join(dir, 'state.sqlite'));
    const settings = pruneSettingsSchema.parse({ ratio: 0.4, criterion: 'l1', atRounds: [1], source: 'site-scores' });
    const pruning = new FederatedPruning(settings, ARCH, store, new ContentStore(path.join(dir, 'checkpoints')));
    const model = student();
    const out = pruning.afterAggregate(1, getNamedWeights(model), [{ loss: 1 }, { loss: 2 }]);
    expect(out.masks).toEqual(federatedMasks(model, { ...settings, source: 'global-model' }, 1));
    pruning.dispose();
    store.close();
    model.dispose();
  });

  it('a restarted coordinator keeps the masks of a pruning round that closed before it stopped', async () => {
    const config = setup('prune-restart', 3);
    coord = await openCoordinator(config, tokenHashes());
    const stop = new AbortController();
    const first = trainersFor({ round: 2, signal: stop.signal });
    const running = agents(coord, first).map((p) => p.catch(() => undefined));
    while (coord.engine.summaries().length < 1) await new Promise((r) => setTimeout(r, 20));
    while (first.c.got.length < 2) await new Promise((r) => setTimeout(r, 20));
    stop.abort();
    await Promise.all(running);
    coord.close();

    coord = await openCoordinator(config, tokenHashes());
    const second = trainersFor();
    await Promise.all(agents(coord, second));
    const rounds = await coord.finished;
    expect(rounds.map((r) => r.round)).toEqual([1, 2, 3]);

    const model = student();
    setNamedWeights(model, fedavg(first, 1));
    const expected = federatedMasks(model, pruneSettingsSchema.parse(PRUNING), 1)!;
    for (const t of Object.values(second)) {
      expect(t.got.map((g) => g.round)).toEqual([2, 3]);
      t.got.forEach((g) => expect(g.config.pruneMasks).toEqual(expected));
    }
    expect(rounds.slice(1).every((r) => r.modelBytes === rounds[1].modelBytes && r.modelBytes! < rounds[0].modelBytes!)).toBe(true);
    model.dispose();
  }, 120_000);
});
