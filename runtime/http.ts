import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isUserError } from '../core/errors.ts';
import { warn } from '../core/log.ts';
import { OverloadError } from './batcher.ts';
import type { ModelServer } from './model-server.ts';
import { encodeGreyPng } from './png.ts';
import { sigmoid, softmax } from './postprocess.ts';
import type { PrepareImage } from './prepare.ts';

/** Largest body accepted (a large multi-frame DICOM fits). */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** Mask probability at or above which a pixel is foreground. */
export const MASK_THRESHOLD = 0.5;

const WEB_ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'web');
const STATIC: Record<string, [string, string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The body as one Uint8Array owning its ArrayBuffer (so it can be transferred to a worker);
 * a body declared over `limit` is refused before it is read.
 */
function readBody(req: http.IncomingMessage, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  if (Number(req.headers['content-length']) > limit) {
    req.resume();
    return Promise.reject(new HttpError(413, `request body over ${limit} bytes`));
  }
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n <= limit) parts.push(c);
    });
    req.on('end', () => {
      if (n > limit) return reject(new HttpError(413, `request body over ${limit} bytes`));
      const out = new Uint8Array(n);
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.length;
      }
      resolve(out);
    });
    req.on('error', reject);
  });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }).end(JSON.stringify(body));
}

/** `POST /v1/predict[?format=json|png][&key=K][&display=1]`: image bytes in, the model's answer out. */
async function predict(server: ModelServer, prepare: PrepareImage, req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
  const format = url.searchParams.get('format') ?? 'json';
  if (format !== 'json' && format !== 'png') throw new HttpError(400, `format must be json or png, got '${format}'`);
  const body = await readBody(req, MAX_BODY_BYTES);
  const t0 = performance.now();
  const key = url.searchParams.get('key') ?? (req.headers['x-request-key'] as string | undefined);
  const lease = server.acquire(key ?? undefined);
  try {
    const v = lease.variant;
    const wantDisplay = Boolean(url.searchParams.get('display'));
    const { input, region: placed, display } = await prepare({ bytes: body, name: url.searchParams.get('name') ?? 'upload', shape: v.inputShape, display: wantDisplay });
    const t1 = performance.now();
    const r = await server.run(lease, input);
    const inferenceMs = performance.now() - t1;
    const who = { version: v.version, precision: r.precision, provider: r.provider };
    const latencyMs = performance.now() - t0;
    if (v.task === 'classification') {
      if (format === 'png') throw new HttpError(400, 'format=png is for mask models; this model answers class probabilities');
      const probabilities = softmax(r.output.data);
      const label = probabilities.indexOf(Math.max(...probabilities));
      sendJson(res, 200, { task: v.task, ...who, batched: r.batched, latencyMs, inferenceMs, probabilities, label, ...(display ? { display } : {}) });
      return;
    }
    const [, , mh, mw] = r.output.dims;
    const prob = sigmoid(r.output.data);
    const fg = Uint8Array.from(prob, (p) => (p >= MASK_THRESHOLD ? 255 : 0));
    if (format === 'png') {
      const hdr = { 'x-fedkd-version': v.version, 'x-fedkd-precision': r.precision, 'x-fedkd-provider': r.provider, 'x-fedkd-latency-ms': latencyMs.toFixed(2) };
      res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store', ...hdr }).end(await encodeGreyPng(mw, mh, fg));
      return;
    }
    const foreground = fg.reduce((s, x) => s + (x ? 1 : 0), 0) / fg.length;
    const region = placed ?? { x: 0, y: 0, width: mw, height: mh };
    const mask = { width: mw, height: mh, threshold: MASK_THRESHOLD, foreground, region, probabilities: Array.from(prob, (p) => Math.round(p * 1e4) / 1e4) };
    sendJson(res, 200, { task: v.task, ...who, batched: r.batched, latencyMs, inferenceMs, mask, ...(display ? { display } : {}) });
  } finally {
    lease.release();
  }
}

/** How long an idle keep-alive connection stays open (load balancers commonly hold theirs for 60 s). */
export const KEEP_ALIVE_MS = 65_000;

/**
 * The HTTP face of a ModelServer (node:http): `POST /v1/predict`, `GET /healthz`,
 * `GET /metrics` (Prometheus text) and the web page at `/`. Bad images answer 400, a full
 * queue 503 with Retry-After, an oversized body 413. Connections are kept alive.
 * `prepare` turns the posted bytes into the model input (prepareWith(decode) in this thread,
 * or a DecodePool's `run`). Not listening yet: call `listen`.
 */
export function createInferenceHttpServer(server: ModelServer, prepare: PrepareImage): http.Server {
  const httpServer = http.createServer({ keepAlive: true }, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = `${req.method} ${url.pathname}`;
    const handle = async (): Promise<void> => {
      if (route === 'POST /v1/predict') return predict(server, prepare, req, res, url);
      if (route === 'GET /healthz') {
        const h = server.health();
        return sendJson(res, h.status === 'ok' ? 200 : 503, h);
      }
      if (route === 'GET /metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(server.metricsText());
        return;
      }
      const file = req.method === 'GET' ? STATIC[url.pathname] : undefined;
      if (file) {
        res.writeHead(200, { 'content-type': file[1] }).end(await readFile(path.join(WEB_ROOT, file[0])));
        return;
      }
      throw new HttpError(404, `no route ${route}`);
    };
    handle().catch((e: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (e instanceof HttpError) return sendJson(res, e.status, { error: e.message });
      if (e instanceof OverloadError) return sendJson(res, 503, { error: e.message }, { 'retry-after': '1' });
      if (isUserError(e)) return sendJson(res, 400, { error: e.message });
      warn(`request ${route} failed: ${e instanceof Error ? (e.stack ?? e.message) : e}`);
      sendJson(res, 500, { error: e instanceof Error ? e.message : String(e) });
    });
  });
  httpServer.keepAliveTimeout = KEEP_ALIVE_MS;
  httpServer.headersTimeout = KEEP_ALIVE_MS + 1000;
  return httpServer;
}
