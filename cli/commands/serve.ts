import { InvalidArgumentError, type Command } from 'commander';
import { UserError } from '../../core/errors.ts';
import { info, warn } from '../../core/log.ts';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { decodeImageBytes, type DecodedImage } from '../../data/decode.ts';
import { parsePreprocess, preprocessImage, type PreprocessInput } from '../../data/index.ts';
import { placeImage } from '../../data/preprocess/preprocess.ts';
import { createInferenceHttpServer } from '../../runtime/http.ts';
import { toModelInput, type RasterImage } from '../../runtime/input.ts';
import { ModelServer } from '../../runtime/model-server.ts';
import { repositorySignature } from '../../runtime/repository.ts';
import { positiveInt, printJson } from '../run.ts';

interface ServeOptions {
  models: string;
  port: number;
  host: string;
  maxBatch: number;
  maxDelayMs: number;
  maxQueue: number;
  batching: boolean;
  latencyBudgetMs: number;
  watchMs: number;
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

/** Preprocessing fields a repository's `preprocess.json` / `.yaml` may set (size and channels come from the model). */
type ServingPreprocess = Omit<PreprocessInput, 'size' | 'channels'>;

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

/** HWC (data/'s layout) → CHW (the ONNX input's). */
function hwcToChw(x: Float32Array, c: number, hw: number): Float32Array {
  if (c === 1) return x;
  const out = new Float32Array(x.length);
  for (let i = 0; i < hw; i++) for (let k = 0; k < c; k++) out[k * hw + i] = x[i * c + k];
  return out;
}

/**
 * data/'s decoded image as the server's raster: the first frame and the window data/ would
 * pick, for display; the model input comes from data/'s preprocessImage (as in training) for a
 * square input of at least 4×4 (data/'s minimum), else from the runtime's stand-in.
 */
export function toRaster(img: DecodedImage, pre: ServingPreprocess = {}): RasterImage {
  const window = img.windows[0] ?? (img.format === 'dicom' ? undefined : { center: (2 ** img.bitsStored - 1) / 2, width: 2 ** img.bitsStored - 1 });
  const raster: RasterImage = { width: img.columns, height: img.rows, channels: img.channels, pixels: img.pixels[0], window, invert: img.invert };
  const usesData = (c: number, h: number, w: number) => h === w && h >= 4 && (c === 1 || c === 3);
  raster.toInput = ([c, h, w]) => {
    if (!usesData(c, h, w)) return toModelInput({ ...raster, toInput: undefined }, [c, h, w]);
    return hwcToChw(preprocessImage(img, parsePreprocess({ ...pre, size: h, channels: c })), c, h * w);
  };
  raster.inputRegion = ([c, h, w]) => {
    if (!usesData(c, h, w)) return { x: 0, y: 0, width: w, height: h };
    const p = placeImage(img, parsePreprocess({ ...pre, size: h, channels: c }));
    return { x: p.offX, y: p.offY, width: img.columns * p.scaleX, height: img.rows * p.scaleY };
  };
  return raster;
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
  const batcher = opts.batching
    ? { maxBatch: opts.maxBatch, maxQueueDelayMs: opts.maxDelayMs, maxQueue: opts.maxQueue, concurrency: 1 }
    : { maxBatch: 1, maxQueueDelayMs: 0, maxQueue: opts.maxQueue, concurrency: Number.POSITIVE_INFINITY };
  const pre = readServingPreprocess(opts.models);
  const server = await ModelServer.open(opts.models, { batcher, latencyBudgetMs: opts.latencyBudgetMs });
  const http = createInferenceHttpServer(server, async (bytes, name) => toRaster(await decodeImageBytes(bytes, name), pre));
  await new Promise<void>((resolve, reject) => {
    http.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE' || e.code === 'EACCES' ? new UserError(`cannot listen on ${opts.host}:${opts.port}: ${e.code}`) : e));
    http.listen(opts.port, opts.host, resolve);
  });
  const addr = http.address();
  const url = `http://${opts.host}:${typeof addr === 'object' && addr ? addr.port : opts.port}`;
  const watcher = watchRepository(server, opts.watchMs);
  process.on('SIGHUP', () => void server.reload());
  info(`fedkd serve: ${server.plan.mode} mode; listening on ${url} (for research and teaching, not diagnosis)`);
  if (opts.json) printJson({ url, mode: server.plan.mode, variants: server.health().variants });
  const stop = () => {
    clearInterval(watcher);
    http.close();
    http.closeAllConnections();
    void server.close().then(() => process.exit(0));
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
    .option('--no-batching', 'run each request alone')
    .option('--latency-budget-ms <n>', 'per-batch budget; warm-up runs above it shrink the batch', positiveInt, 250)
    .option('--watch-ms <n>', 'poll the repository for hot swap every N ms (0: only on SIGHUP)', nonNegativeInt, 2000)
    .option('--json', 'print one JSON line when ready: url, mode, variants')
    .action((opts: ServeOptions) => serve(opts));
}
