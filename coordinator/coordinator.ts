import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../core/errors.ts';
import { configHash, sha256, writeFileAtomic } from '../core/files.ts';
import { info } from '../core/log.ts';
import { packTensors, unpackTensors } from '../core/tensors.ts';
import { getNamedWeights, saveModel } from '../models/index.ts';
import { exportOnnx } from '../quantize/export/index.ts';
import { FederatedPruning } from './pruning.ts';
import { CalibrationPhase } from './calibration-phase.ts';
import { ContentStore } from './checkpoints.ts';
import { DEFAULT_MAX_MISSED_DEADLINES, type CoordinatorConfig, type QuantizeSettings } from './config.ts';
import { RoundEngine, type RoundSummary } from './rounds.ts';
import { writeInt8Student, type ShrinkFinal } from './int8-student.ts';
import { CoordinatorService } from './service.ts';
import { StateStore } from './store.ts';
import { makeStrategy } from './strategies/index.ts';

/** How often the round engine checks deadlines when no call arrives. */
export const TICK_MS = 250;

/** An open coordinator: its state, its round engine and the service the transports call. */
export interface Coordinator {
  runId: string;
  service: CoordinatorService;
  engine: RoundEngine;
  store: StateStore;
  /** Resolves once the last round closed (final model and rounds.json written). */
  finished: Promise<RoundSummary[]>;
  /** Stops the timer and closes the database. */
  close(): void;
}

function readInitialModel(file: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (e) {
    throw new UserError(`cannot read the initial model ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    unpackTensors(bytes);
  } catch (e) {
    throw new UserError(`${file} is not a fedkd weights file: ${(e as Error).message}`);
  }
  return bytes;
}

/**
 * After the last round of a pruning run: the masks (`final-masks.json`) and the physically
 * smaller student (`shrinkModel` of the masked global model) as `final-pruned/` (tfjs model),
 * `final-pruned.fkw` (its weights) and `final-pruned.onnx` (FP32, quantize/export).
 */
async function writeShrunkModel(pruning: FederatedPruning, config: CoordinatorConfig, finalBytes: Uint8Array): Promise<void> {
  const masks = pruning.masksAfter(config.rounds);
  if (!masks) return;
  const small = await pruning.shrink(unpackTensors(finalBytes), masks);
  await writeFileAtomic(path.join(config.stateDir, 'final-masks.json'), `${JSON.stringify(masks)}\n`);
  await writeFileAtomic(path.join(config.stateDir, 'final-pruned.fkw'), packTensors(getNamedWeights(small)));
  await saveModel(small, path.join(config.stateDir, 'final-pruned'));
  await writeFileAtomic(path.join(config.stateDir, 'final-pruned.onnx'), exportOnnx(small));
  small.dispose();
}

/** The identity of a run: everything that changes its results (not the address, TLS files or tokens). */
function runFingerprint(c: CoordinatorConfig, initialSha: string): string {
  const { seed, rounds, sampling, deadlines, strategy, training, validation, evaluate, pruning } = c;
  return configHash({ seed, rounds, sampling, deadlines, strategy, training, validation, evaluate, initialSha, ...(pruning ? { pruning } : {}) });
}

/** The quantize block as fingerprinted: maxMissedDeadlines only when not the default, so runs started before the knob existed resume. */
function quantizeFingerprint(q: QuantizeSettings): Omit<QuantizeSettings, 'maxMissedDeadlines'> & { maxMissedDeadlines?: number } {
  const { maxMissedDeadlines, ...rest } = q;
  return maxMissedDeadlines === DEFAULT_MAX_MISSED_DEADLINES ? rest : q;
}

/**
 * Opens (or resumes) the run in `config.stateDir`: SQLite state, checkpoints, the site
 * tokens (hashed) and the round engine with its timer. A state folder holding a run with
 * a different config is a user error, so a restart never mixes two runs.
 */
export async function openCoordinator(config: CoordinatorConfig, tokens: Map<string, string>, now: () => number = Date.now): Promise<Coordinator> {
  mkdirSync(config.stateDir, { recursive: true });
  const store = new StateStore(path.join(config.stateDir, 'state.sqlite'));
  const content = new ContentStore(path.join(config.stateDir, 'checkpoints'));
  const initialBytes = readInitialModel(config.model.initialWeights);
  const initialSha = sha256(initialBytes);
  // a quantize block joins the fingerprint only when present, so runs without one keep theirs
  const fingerprint = config.quantize ? configHash({ run: runFingerprint(config, initialSha), quantize: quantizeFingerprint(config.quantize) }) : runFingerprint(config, initialSha);
  const stored = store.getMeta('fingerprint');
  if (stored && stored !== fingerprint) {
    store.close();
    throw new UserError(`${config.stateDir} holds a run with a different config or initial model; use a new stateDir to start another run`);
  }
  if (!stored) {
    await content.put(initialBytes);
    store.transaction(() => {
      store.setMeta('fingerprint', fingerprint);
      store.setMeta('run_id', fingerprint.slice(0, 16));
      store.setMeta('initial_model', initialSha);
      store.insertCheckpoint(initialSha, 0, 'global', now());
    });
  }
  store.transaction(() => {
    for (const [site, hash] of tokens) store.upsertSite(site, hash);
    store.revokeSitesExcept([...tokens.keys()]);
  });
  const runId = store.getMeta('run_id')!;
  const rounds: RoundSummary[] = [];
  let resolveFinished: (s: RoundSummary[]) => void = () => {};
  const finished = new Promise<RoundSummary[]>((r) => (resolveFinished = r));
  const onRoundClosed = async (s: RoundSummary): Promise<void> => {
    info(`round ${s.round}: ${s.train.sites.length} updates, mean AUC ${s.evaluation ? s.evaluation.meanAuc.toFixed(4) : 'n/a'}, spread ${s.evaluation ? s.evaluation.spreadAuc.toFixed(4) : 'n/a'}`);
    rounds.splice(0, rounds.length, ...engine.summaries());
    await writeFileAtomic(path.join(config.stateDir, 'rounds.json'), `${JSON.stringify(rounds, null, 2)}\n`);
  };
  const pruning = config.pruning ? new FederatedPruning(config.pruning, config.training, store, content) : null;
  const engine = new RoundEngine(config, makeStrategy(config.strategy), store, content, initialSha, now, onRoundClosed, pruning);
  const calibration = config.quantize ? new CalibrationPhase(config.quantize, store, content, config.rounds, config.deadlines.roundSeconds, config.training) : null;
  if (calibration) engine.attachCalibration(calibration);
  const service = new CoordinatorService(runId, store, content, engine, now, config.longPollMs);
  let done = false;
  let closed = false;
  const check = async (): Promise<void> => {
    if (closed) return;
    await engine.tick();
    if (done || !engine.finished()) return;
    done = true;
    const finalBytes = await content.get(engine.currentModel());
    await writeFileAtomic(path.join(config.stateDir, 'final-model.fkw'), finalBytes);
    const masks = pruning?.masksAfter(config.rounds);
    const shrink: ShrinkFinal | undefined = pruning && masks ? (full) => pruning.shrink(full, masks) : undefined;
    if (calibration) await writeInt8Student(config, calibration, finalBytes, shrink);
    if (pruning) await writeShrunkModel(pruning, config, finalBytes);
    await writeFileAtomic(path.join(config.stateDir, 'rounds.json'), `${JSON.stringify(engine.summaries(), null, 2)}\n`);
    resolveFinished(engine.summaries());
  };
  const timer = setInterval(() => void check().catch((e) => info(`coordinator: ${(e as Error).message}`)), TICK_MS);
  void check();
  info(`coordinator: run ${runId}, ${store.lastRound() ? `resuming at round ${store.lastRound()!.round}` : 'new run'}, ${tokens.size} sites known`);
  return {
    runId,
    service,
    engine,
    store,
    finished,
    close: () => {
      closed = true;
      engine.stop();
      clearInterval(timer);
      pruning?.dispose();
      store.close();
    },
  };
}
