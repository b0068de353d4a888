import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAgent } from '../../client/agent.ts';
import { DecoderTrainer } from '../../client/decoder-trainer.ts';
import type { FitOutput } from '../../client/site-trainer.ts';
import { packTensors, unpackTensors, type NamedTensor } from '../../core/tensors.ts';
import { openCoordinator, type Coordinator } from '../../coordinator/coordinator.ts';
import { synthesizeFederation } from '../../data/synth/federation.ts';
import { initBackend } from '../../engine/backend.ts';
import { buildMaskDecoder } from '../../models/mask-decoder.ts';
import { getNamedWeights } from '../../models/weights.ts';
import type { RoundConfig } from '../../proto/types.ts';
import { InProcessLink } from '../../proto/in-process-link.ts';
import { convEncoderOnnx } from '../distill/conv-encoder.ts';
import { federationConfig, tempDir, tokenHashes, TOKENS } from './fixtures.ts';
import { closeCoordinatorAfterEach } from '../helpers/coordinator.ts';

const FAST = { initialMs: 10, maxMs: 50, multiplier: 2, jitter: 0.1, giveUpMs: 20_000 };

/** The hospital's decoder trainer, recording what it sends. */
class RecordingTrainer extends DecoderTrainer {
  sent: FitOutput[] = [];
  override async fit(global: NamedTensor[], config: RoundConfig): Promise<FitOutput> {
    const out = await super.fit(global, config);
    this.sent.push(out);
    return out;
  }
}

describe('federated decoder-only fine-tuning', () => {
  let coord: Coordinator | null = null;
  closeCoordinatorAfterEach(() => coord);

  it('averages the sites’ decoder weights (FedAvg by example count); nothing else travels', async () => {
    await initBackend();
    const dir = tempDir('dec-fed');
    const encoder = path.join(dir, 'enc.onnx');
    writeFileSync(encoder, convEncoderOnnx([0.5, -0.25, 0.125, 1, -1, 0.75, 0.5, -0.5], [0.1, -0.2]));
    writeFileSync(`${encoder}.json`, JSON.stringify({ preprocess: { size: 16, normalize: 'zscore' } }));
    await synthesizeFederation({ out: path.join(dir, 'fed'), sites: 3, imagesPerSite: 24, size: 16, seed: 4, largeFactor: 1, testFraction: 0.3 });
    const initial = getNamedWeights(buildMaskDecoder({ embedSize: 8, embedChannels: 2, imageSize: 16, seed: 0 }));
    const init = path.join(dir, 'decoder.fkw');
    writeFileSync(init, packTensors(initial));
    const config = federationConfig(dir, {
      model: { initialWeights: init },
      rounds: 1,
      sampling: { fraction: 1, minSites: 3, minResults: 3 },
      training: { localEpochs: 1, task: 'mask-decoder', shots: 3, batchSize: 1 },
    });
    coord = await openCoordinator(config, tokenHashes());
    const ids = ['a', 'b', 'c'];
    const trainers = ids.map((id) => new RecordingTrainer(path.join(dir, 'fed', `site-${id}`), encoder));
    await Promise.all(ids.map((id, k) => runAgent({ siteId: id, link: new InProcessLink(coord!.service, id, TOKENS[id]), trainer: trainers[k], backoff: FAST })));
    await coord.finished;

    const sent = trainers.map((t) => t.sent[0]);
    sent.forEach((s) => expect(s.weights.map((w) => w.name)).toEqual(initial.map((w) => w.name)));
    const n = sent.reduce((a, s) => a + s.numExamples, 0);
    const final = unpackTensors(new Uint8Array(readFileSync(path.join(config.stateDir, 'final-model.fkw'))));
    expect(final.map((t) => t.name)).toEqual(initial.map((t) => t.name));
    final.forEach((t, i) => t.data.forEach((v, j) => expect(v).toBeCloseTo(sent.reduce((a, s) => a + (s.numExamples * s.weights[i].data[j]) / n, 0), 5)));
  }, 120_000);
});
