import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImageBytes } from '../../data/decode.ts';
import { writeDicom } from '../data/dcmtk.ts';
import { writePng } from '../data/raster-writers.ts';
import { affineSegmenter, meanClassifier, writeVersion } from './fixtures/tiny-onnx.ts';
import { startServe, type ServeProcess } from './fixtures/serve-process.ts';

// Grey images whose full 8-bit window maps them to [0, 1/3, 2/3, 1] per row: mean 1/2.
const ROW = [0, 85, 170, 255];
const PNG = writePng(2, 2, 1, 8, ROW);
const PNG4 = writePng(4, 4, 1, 8, [...ROW, ...ROW, ...ROW, ...ROW]);
/** Hand-computed softmax of [a, 0]. */
const softmax2 = (a: number) => [Math.exp(a) / (Math.exp(a) + 1), 1 / (Math.exp(a) + 1)];
const post = (url: string, body: Uint8Array, query = '') => fetch(`${url}/v1/predict${query}`, { method: 'POST', body: new Uint8Array(body) });

let dir: string;
let cls: ServeProcess;
let seg: ServeProcess;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fedkd-serve-'));
  // the 4×4 classifier's input comes from data/'s preprocessImage; logits [4·mean, 0] = [2, 0]
  writeVersion(path.join(dir, 'cls'), '1', meanClassifier(4, 4, 0));
  writeVersion(path.join(dir, 'seg'), '1', affineSegmenter(2, 2, 4, -2));
  [cls, seg] = await Promise.all([startServe(path.join(dir, 'cls'), ['--watch-ms', '100']), startServe(path.join(dir, 'seg'))]);
});

afterAll(async () => {
  await Promise.all([cls?.stop(), seg?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('fedkd serve', () => {
  it('answers a PNG with the class probabilities of the hand-computed logits', async () => {
    const res = await post(cls.url, PNG4);
    expect(res.status).toBe(200);
    const r = await res.json();
    expect(r).toMatchObject({ task: 'classification', version: '1', precision: 'fp32', provider: 'cpu', label: 0 });
    expect(r.probabilities[0]).toBeCloseTo(softmax2(2)[0], 6);
    expect(r.probabilities[1]).toBeCloseTo(softmax2(2)[1], 6);
    expect(r.latencyMs).toBeGreaterThan(0);
  });

  it('answers a DICOM windowed by its own Window Center/Width', async () => {
    const d = mkdtempSync(path.join(dir, 'dcm-'));
    // 16-bit rows 100…400 with Window Center 250 / Width 300, through DICOM's linear VOI
    // function (PS3.3 C.11.2.1.2.1): y = (x − (c − 0.5)) / (w − 1) + 0.5, clamped to [0, 1]
    const px = new Uint8Array(new Uint16Array(Array.from({ length: 16 }, (_, i) => 100 * (1 + (i % 4)))).buffer);
    const file = writeDicom(d, 'w', { rows: 4, columns: 4, bitsAllocated: 16, bitsStored: 16, extra: ['(0028,1050) DS [250]', '(0028,1051) DS [300]'] }, px);
    const voi = (x: number) => Math.min(1, Math.max(0, (x - 249.5) / 299 + 0.5));
    const mean = [100, 200, 300, 400].map(voi).reduce((a, b) => a + b) / 4;
    const r = await (await post(cls.url, readFileSync(file))).json();
    expect(r.probabilities[0]).toBeCloseTo(softmax2(4 * mean)[0], 6);
  });

  it('answers a mask model with sigmoid probabilities as JSON and a thresholded PNG', async () => {
    // logits 4u − 2 for u = [0, 1/3, 2/3, 1]
    const expected = [-2, -2 / 3, 2 / 3, 2].map((z) => 1 / (1 + Math.exp(-z)));
    const r = await (await post(seg.url, PNG)).json();
    expect(r.task).toBe('segmentation');
    expect(r.mask).toMatchObject({ width: 2, height: 2, threshold: 0.5, foreground: 0.5 });
    r.mask.probabilities.forEach((p: number, i: number) => expect(p).toBeCloseTo(expected[i], 4));
    const png = await post(seg.url, PNG, '?format=png');
    expect(png.headers.get('content-type')).toBe('image/png');
    expect(png.headers.get('x-fedkd-provider')).toBe('cpu');
    const img = await decodeImageBytes(new Uint8Array(await png.arrayBuffer()), 'mask.png');
    expect([img.format, img.columns, img.rows, img.channels]).toEqual(['png', 2, 2, 1]);
    expect(Array.from(img.pixels[0])).toEqual([0, 0, 255, 255]);
  });

  it('has /healthz, Prometheus /metrics and clear errors', async () => {
    const h = await fetch(`${cls.url}/healthz`);
    expect(h.status).toBe(200);
    const health = await h.json();
    expect(health.status).toBe('ok');
    // the default is auto batching: decided by the warm-up timings it reports, and told in each answer
    const b = health.variants[0].batching;
    expect(b).toMatchObject({ mode: 'auto', batch: 32, minGain: 2 });
    expect(b.gain / (b.perImageMs.batch1 / b.perImageMs.batchN)).toBeCloseTo(1, 1);
    expect(b.batched).toBe(b.gain >= 2);
    expect(health.variants[0].maxBatch).toBe(b.batched ? 32 : 1);
    expect((await (await post(cls.url, PNG4)).json()).batched).toBe(b.batched);
    const m = await fetch(`${cls.url}/metrics`);
    expect(m.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await m.text();
    expect(text).toMatch(/^# TYPE fedkd_requests_total counter$/m);
    expect(text).toMatch(/^fedkd_requests_total\{version="1",precision="fp32",provider="cpu"\} [1-9]\d*$/m);
    const bad = await post(cls.url, new TextEncoder().encode('not an image'));
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatch(/not DICOM .* nor a PNG/);
    expect((await post(cls.url, PNG4, '?format=png')).status).toBe(400);
    expect((await fetch(`${cls.url}/nope`)).status).toBe(404);
  });

  it('hot-swaps to a new version dropped into the repository', async () => {
    writeVersion(path.join(dir, 'cls'), '2', meanClassifier(4, 8, 0));
    const deadline = Date.now() + 20_000;
    let version = '1';
    while (version !== '2' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      version = (await (await fetch(`${cls.url}/healthz`)).json()).variants[0].version;
    }
    const r = await (await post(cls.url, PNG4)).json();
    expect(r.version).toBe('2');
    expect(r.probabilities[0]).toBeCloseTo(softmax2(4)[0], 6);
  });
});

describe('fedkd serve errors', () => {
  it('refuses a missing repository with one line and exit code 2', async () => {
    await expect(startServe(path.join(os.tmpdir(), 'fedkd-no-such-repo'))).rejects.toThrow(/exited with 2: fedkd: model repository .* is not a folder\n$/);
  });
});
