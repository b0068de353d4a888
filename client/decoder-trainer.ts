import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { UserError } from '../core/errors.ts';
import type { NamedTensor } from '../core/tensors.ts';
import type { PreprocessInput } from '../data/index.ts';
import type { EmbeddingFile } from '../distill/embedding-store.ts';
import { embedDataset, encoderPreprocess } from '../distill/embeddings.ts';
import { initBackend } from '../engine/backend.ts';
import { buildMaskDecoder } from '../models/mask-decoder.ts';
import { setNamedWeights } from '../models/weights.ts';
import type { RoundConfig } from '../proto/types.ts';
import { decoderSet, float32Source, pickRows, type DecoderSet, type EmbeddingSource } from '../train/decoder-data.ts';
import { fewShotAugment } from '../train/few-shot-decoder.ts';
import { evaluateDecoder, trainMaskDecoder } from '../train/mask-decoder-train.ts';
import { sitePart, trainingSize } from '../train/site-data.ts';
import type { EvaluateOutput, FitOutput, SiteTrainer } from './site-trainer.ts';

/** The value of the round config's `task` key that selects this trainer. */
export const DECODER_TASK = 'mask-decoder';

/**
 * The decoder run as the coordinator's `training:` section describes it (keys passed to every
 * site each round): `task: mask-decoder`, `batchSize`, `lr`, `seed`, `decoderWidth`, and
 * `shots` (training images per site; 0 = every image with a mask). Preprocessing comes from
 * the encoder's sidecar, so every site embeds as the encoder was trained.
 */
export interface DecoderSpec {
  batchSize: number;
  lr: number;
  seed: number;
  decoderWidth: number;
  shots: number;
}

/** Defaults of the decoder spec (as `fedkd finetune-decoder`'s). */
export const DEFAULT_DECODER_SPEC: DecoderSpec = { batchSize: 2, lr: 3e-3, seed: 0, decoderWidth: 32, shots: 0 };

/** The spec from a round config: known numeric keys over the defaults; another `task` is a UserError. */
export function decoderSpec(c: RoundConfig | null): DecoderSpec {
  if (c?.task !== undefined && c.task !== DECODER_TASK) throw new UserError(`this site runs the ${DECODER_TASK} trainer, but the round asks for task '${String(c.task)}'`);
  const out = { ...DEFAULT_DECODER_SPEC };
  for (const k of Object.keys(out) as (keyof DecoderSpec)[]) if (typeof c?.[k] === 'number') out[k] = c[k] as number;
  return out;
}

/**
 * Federated few-shot decoder fine-tuning (issue 9): each site embeds its own images once with
 * the shared frozen encoder (cached float16, distill/embeddings), trains only the mask decoder
 * from the global decoder weights for `localEpochs` epochs, and returns the decoder weights,
 * the only tensors that travel. Evaluation scores Dice/IoU on the site's test/ split.
 * Selected by `fedkd client --trainer decoder --encoder enc.onnx` with `task: mask-decoder`
 * in the coordinator's `training:` section; the initial weights are a `decoder.fkw` written by
 * `fedkd finetune-decoder`.
 */
export class DecoderTrainer implements SiteTrainer {
  private stores = new Map<string, Promise<EmbeddingFile>>();
  private model: { key: string; model: tf.LayersModel } | null = null;
  /** Each store's maps decoded to float32 once, for every round's epochs. */
  private decoded = new WeakMap<EmbeddingFile, EmbeddingSource>();

  constructor(
    private readonly siteDir: string,
    private readonly encoder: string,
  ) {}

  private preprocess(): PreprocessInput {
    return encoderPreprocess(this.encoder) ?? { size: 64 };
  }

  private store(part: 'train' | 'test'): Promise<EmbeddingFile> {
    const dir = sitePart(this.siteDir, part);
    if (!dir) throw new UserError(`${this.siteDir} has no ${part} split (expected ${path.join(this.siteDir, part, 'labels.csv')})`);
    let s = this.stores.get(part);
    if (!s) {
      s = initBackend().then(async () => (await embedDataset(this.encoder, dir, this.preprocess())).store);
      this.stores.set(part, s);
    }
    return s;
  }

  private decoderFor(spec: DecoderSpec, store: EmbeddingFile, global: readonly NamedTensor[]): tf.LayersModel {
    const h = store.header;
    const key = `${h.height}/${h.channels}/${h.imageSize}/${spec.decoderWidth}`;
    if (this.model?.key !== key) {
      this.model?.model.dispose();
      this.model = { key, model: buildMaskDecoder({ embedSize: h.height, embedChannels: h.channels, imageSize: h.imageSize, width: spec.decoderWidth, seed: spec.seed }) };
    }
    setNamedWeights(this.model.model, global);
    return this.model.model;
  }

  private trainingSet(spec: DecoderSpec, store: EmbeddingFile): DecoderSet {
    let source = this.decoded.get(store);
    if (!source) {
      source = float32Source(store);
      this.decoded.set(store, source);
    }
    const all = decoderSet(source);
    if (!all.rows.length) throw new UserError(`${this.siteDir}: no training image has a mask to prompt for`);
    return spec.shots > 0 && spec.shots < all.rows.length ? pickRows(all, Array.from({ length: spec.shots }, (_, i) => i)) : all;
  }

  /** Training images, announced at registration: the rows of train/labels.csv (no decoding). */
  async datasetSize(): Promise<number> {
    return trainingSize(this.siteDir);
  }

  /** The trainer and the tfjs backend. */
  async capabilities(): Promise<Record<string, string>> {
    const b = await initBackend();
    return { trainer: DECODER_TASK, backend: b.name };
  }

  /** E epochs of decoder-only training from the global decoder weights. */
  async fit(global: NamedTensor[], config: RoundConfig): Promise<FitOutput> {
    const spec = decoderSpec(config);
    const store = await this.store('train');
    const set = this.trainingSet(spec, store);
    const model = this.decoderFor(spec, store, global);
    const r = await trainMaskDecoder({
      model,
      train: set,
      config: { epochs: config.localEpochs, batchSize: spec.batchSize, lr: spec.lr, seed: spec.seed * 1000 + config.round, augment: fewShotAugment(store.header.imageSize), label: `round ${config.round}` },
    });
    const last = r.history[r.history.length - 1];
    return { weights: r.weights, numExamples: set.rows.length, metrics: { loss: last?.trainLoss ?? NaN } };
  }

  /** Dice, IoU and loss of the global decoder on the site's test split. */
  async evaluate(global: NamedTensor[], config: RoundConfig | null): Promise<EvaluateOutput> {
    const spec = decoderSpec(config);
    const store = await this.store('test');
    const m = evaluateDecoder(this.decoderFor(spec, store, global), decoderSet(store), 8);
    return { numExamples: m.n, metrics: { dice: m.dice, iou: m.iou, loss: m.loss } };
  }
}
