import { InvalidArgumentError, type Command } from 'commander';
import { UserError } from '../../core/errors.ts';
import { info, warn } from '../../core/log.ts';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parsePreprocess } from '../../data/index.ts';
import { BATCHING_MODES, DEFAULT_MIN_BATCH_GAIN, type BatchingMode } from '../../runtime/auto-batch.ts';
import { DecodePool } from '../../runtime/decode-pool.ts';
import { createInferenceHttpServer } from '../../runtime/http.ts';
import { ModelServer } from '../../runtime/model-server.ts';
import type { PrepareImage } from '../../runtime/prepare.ts';
import { repositorySignature } from '../../runtime/repository.ts';
import { openerWith } from '../../runtime/variant.ts';
import { createPrepare, type PrepareOptions, type ServingPreprocess } from '../serve/prepare.ts';
import { numberIn, oneOf, positiveInt, printJson } from '../run.ts';

interface ServeOptions {
  models: string;
  port: number;
  host: string;
  maxBatch: number;
  maxDelayMs: number;
  maxQueue: number;
  /** `false` from --no-batching (the same as --batching off). */
  batching: BatchingMode | false;
  minBatchGain: number;
  latencyBudgetMs: number;
  watchMs: number;
  decodeWorkers: number;
  ortSpinning: boolean;
  ortThreads: number;
  json?: boolean;
}

function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected an integer ≥ 0, got '${v}'`);
  return n;
}

function port(v: string): number {
  const n = nonNegativeInt(v);
  if (n > 65535) throw new InvalidArgumentError(`expected a port in 0–65535, got '${v}'`);
  return n;
}

/** Reads the optional `preprocess.json` (or `.yaml`) at the repository's top: the preprocessing the models were trained with. */
export function readServingPreprocess(models: string): ServingPreprocess {
  for (const f of ['preprocess.json', 'preprocess.yaml', 'preprocess.yml']) {
    const file = path.join(models, f);
    if (!existsSync(file)) continue;
    const cfg = parseYaml(readFileSync(file, 'utf8')) as ServingPreprocess;
    parsePreprocess({ ...cfg, size: 8 }); // validates, naming a bad field
    return cfg;
  }
  return {};
}

function watchRepository(server: ModelServer, everyMs: number): NodeJS.Timeout | undefined {
  if (!everyMs) return undefined;
  let seen = repositorySignature(server.root);
  const t = setInterval(() => {
    const now = repositorySignature(server.root);
    if (now === seen) return;
    seen = now;
    void server.reload().then((o) => !o.error && info(`hot swap: loaded [${o.loaded.join(', ')}], retired [${o.retired.join(', ')}]`));
  }, everyMs);
  t.unref();
  return t;
}

async function serve(opts: ServeOptions): Promise<void> {
  // Batched or not, the sessions are opened alike (ORT's intra-op threads, all graph
  // optimisations, spinning as --ort-spinning says). onnxruntime-node runs a session
  // synchronously on the event loop (after a setImmediate), so unbatched requests never run
  // at once in ORT: they take turns, each with all intra-op threads (see UNBATCHED).
  const batching = opts.batching || 'off';
  const batcher = { maxBatch: opts.maxBatch, maxQueueDelayMs: opts.maxDelayMs, maxQueue: opts.maxQueue, concurrency: 1 };
  const options: PrepareOptions = { preprocess: readServingPreprocess(opts.models) };
  const server = await ModelServer.open(opts.models, { batcher, batching, minBatchGain: opts.minBatchGain, latencyBudgetMs: opts.latencyBudgetMs, open: openerWith({ spinning: opts.ortSpinning, threads: opts.ortThreads || undefined }) });
  const pool = opts.decodeWorkers ? await DecodePool.start({ module: new URL('../serve/prepare.ts', import.meta.url).href, options, size: opts.decodeWorkers, maxQueue: opts.maxQueue }) : undefined;
  const prepare: PrepareImage = pool ? (job) => pool.run(job) : createPrepare(options);
  const http = createInferenceHttpServer(server, prepare);
  await new Promise<void>((resolve, reject) => {
    http.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE' || e.code === 'EACCES' ? new UserError(`cannot listen on ${opts.host}:${opts.port}: ${e.code}`) : e));
    http.listen(opts.port, opts.host, resolve);
  });
  const addr = http.address();
  const url = `http://${opts.host}:${typeof addr === 'object' && addr ? addr.port : opts.port}`;
  const watcher = watchRepository(server, opts.watchMs);
  process.on('SIGHUP', () => void server.reload());
  const decode = pool ? `decoding on ${pool.size} worker threads` : 'decoding on the event loop';
  info(`fedkd serve: ${server.plan.mode} mode, ${decode}; listening on ${url} (for research and teaching, not diagnosis)`);
  if (opts.json) printJson({ url, mode: server.plan.mode, decodeWorkers: pool?.size ?? 0, variants: server.health().variants });
  const stop = () => {
    clearInterval(watcher);
    http.close();
    http.closeAllConnections();
    void Promise.all([server.close(), pool?.close()]).then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (server.plan.mode === 'light') warn(`light mode: ${server.plan.reasons.join('; ')}`);
}

/** `fedkd serve --models DIR --port P`: the model repository over HTTP, with a web page. */
export function register(program: Command): void {
  program
    .command('serve')
    .description('serve a model repository over HTTP: POST an image to /v1/predict; /healthz, /metrics and a web page at /')
    .requiredOption('--models <dir>', 'model repository: DIR/VERSION/model.{fp32,fp16,int8}.onnx [+ report.json]; optional DIR/serving.json (A/B split) and DIR/preprocess.json (training preprocessing)')
    .option('--port <n>', 'port (0 picks a free one)', port, 8080)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--max-batch <n>', 'largest dynamic batch', positiveInt, 32)
    .option('--max-delay-ms <n>', 'longest a request waits for a batch to fill', nonNegativeInt, 2)
    .option('--max-queue <n>', 'requests queued before 503 overload', positiveInt, 1024)
    .option('--batching <mode>', 'auto: batch only when warm-up timings show batch --max-batch beats batch 1 per image by --min-batch-gain; on; off', oneOf(BATCHING_MODES), 'auto')
    .option('--no-batching', 'run each request alone (the same as --batching off)')
    .option('--min-batch-gain <x>', 'with --batching auto, the per-image speed-up of a full batch needed to batch', numberIn(0, 1000), DEFAULT_MIN_BATCH_GAIN)
    .option('--latency-budget-ms <n>', 'per-batch budget; warm-up runs above it shrink the batch', positiveInt, 250)
    .option('--watch-ms <n>', 'poll the repository for hot swap every N ms (0: only on SIGHUP)', nonNegativeInt, 2000)
    .option('--decode-workers <n>', 'worker threads that decode and preprocess images (0: on the event loop)', nonNegativeInt, availableParallelism())
    .option('--ort-spinning', "let ONNX Runtime's intra-op threads spin between runs (lower latency, burns idle cores)", false)
    .option('--ort-threads <n>', "ONNX Runtime's intra-op threads per session (0: ORT's choice, one per core)", nonNegativeInt, 0)
    .option('--json', 'print one JSON line when ready: url, mode, decodeWorkers, variants')
    .action((opts: ServeOptions) => serve(opts));
}
