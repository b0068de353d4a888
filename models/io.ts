import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../core/errors.ts';
import { sha256, writeFileAtomic } from '../core/files.ts';

/** File names inside a saved model folder (the tfjs "layers-model" format). */
export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/** model.json as fedkd writes it: tfjs's layers-model format plus the weights' sha256. */
interface ModelJson {
  format: 'layers-model';
  generatedBy: string;
  convertedBy: null;
  modelTopology: object;
  trainingConfig?: tf.io.TrainingConfig;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  /** fedkd's check that model.json and weights.bin were written together. */
  fedkd: { weightsSha256: string; weightsBytes: number };
}

/**
 * A tf.io IOHandler over a folder holding model.json and weights.bin. Saving writes
 * weights.bin, then model.json, each atomically (temporary file + rename); model.json names
 * the sha256 of its weights, so a folder caught between two saves is detected on load.
 * Needs no tfjs-node.
 */
export function folderHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (!artifacts.modelTopology || artifacts.modelTopology instanceof ArrayBuffer) throw new Error('only layers models with a JSON topology can be saved');
      const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? []));
      const json: ModelJson = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
        fedkd: { weightsSha256: sha256(weights), weightsBytes: weights.length },
      };
      await writeFileAtomic(path.join(dir, WEIGHTS_BIN), weights);
      const text = JSON.stringify(json);
      await writeFileAtomic(path.join(dir, MODEL_JSON), text);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', modelTopologyBytes: text.length, weightDataBytes: weights.length } };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const json = await readModelJson(dir);
      const weights = await readOrFail(path.join(dir, WEIGHTS_BIN), dir);
      if (json.fedkd && (weights.length !== json.fedkd.weightsBytes || sha256(weights) !== json.fedkd.weightsSha256)) {
        throw new UserError(`${dir}: ${WEIGHTS_BIN} does not match ${MODEL_JSON} (sha256 differs; the folder was written by two saves)`);
      }
      const buf = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;
      return {
        modelTopology: json.modelTopology,
        ...(json.trainingConfig ? { trainingConfig: json.trainingConfig } : {}),
        weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
        weightData: buf,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
      };
    },
  };
}

async function readOrFail(file: string, dir: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new UserError(`${dir} is not a saved model folder: ${path.basename(file)} is missing`);
    throw new UserError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

async function readModelJson(dir: string): Promise<ModelJson> {
  const text = (await readOrFail(path.join(dir, MODEL_JSON), dir)).toString('utf8');
  let json: ModelJson;
  try {
    json = JSON.parse(text) as ModelJson;
  } catch (e) {
    throw new UserError(`${path.join(dir, MODEL_JSON)} is not valid JSON: ${(e as Error).message}`);
  }
  if (!json || typeof json !== 'object' || !json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new UserError(`${path.join(dir, MODEL_JSON)} is not a tfjs layers model (no modelTopology / weightsManifest)`);
  }
  if (json.weightsManifest.some((g) => g.paths.length !== 1 || path.basename(g.paths[0]) !== WEIGHTS_BIN)) {
    throw new UserError(`${path.join(dir, MODEL_JSON)}: only a single ${WEIGHTS_BIN} shard is supported`);
  }
  return json;
}

/** Saves a model's topology and weights (BN moving statistics included) to `dir`, atomically per file. */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  await model.save(folderHandler(dir), { includeOptimizer: false });
}

/**
 * Loads a model saved by saveModel (or any single-shard tfjs layers model): same topology,
 * same weights, so the same outputs bit for bit. A missing or malformed folder → UserError.
 */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  try {
    return await tf.loadLayersModel(folderHandler(dir));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot load the model in ${dir}: ${(e as Error).message.split('\n')[0]}`);
  }
}
