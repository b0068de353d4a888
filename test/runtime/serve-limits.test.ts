import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../runtime/http.ts';
import { writePng } from '../data/raster-writers.ts';
import { meanClassifier, writeVersion } from './fixtures/tiny-onnx.ts';
import { startServe, type ServeProcess } from './fixtures/serve-process.ts';

// A 4×4 grey ramp whose full 8-bit window maps each row to [0, 1/3, 2/3, 1]: mean 1/2, logits [2, 0].
const ROW = [0, 85, 170, 255];
const PNG4 = writePng(4, 4, 1, 8, [...ROW, ...ROW, ...ROW, ...ROW]);
const P0 = Math.exp(2) / (Math.exp(2) + 1);

let dir: string;
let srv: ServeProcess;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fedkd-serve-limits-'));
  writeVersion(path.join(dir, 'cls'), '1', meanClassifier(4, 4, 0));
  // decoding in the event loop's thread; batches wait up to 1 s for 64 requests, and only 2 may queue
  srv = await startServe(path.join(dir, 'cls'), ['--decode-workers', '0', '--batching', 'on', '--max-batch', '64', '--max-delay-ms', '1000', '--max-queue', '2', '--watch-ms', '0']);
});

afterAll(async () => {
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A POST to /v1/predict over node:http, so the test controls the headers and how the body is sent. */
function rawPost(headers: http.OutgoingHttpHeaders, send: (req: http.ClientRequest) => void): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const url = new URL(srv.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: '/v1/predict', method: 'POST', headers }, (res) => {
      let body = '';
      res.on('data', (c) => (body += String(c)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    send(req);
  });
}

describe('fedkd serve under overload and with bad requests', () => {
  it('answers what fits in the queue and refuses the rest with 503 + Retry-After, counted in /metrics', async () => {
    // Twelve requests arrive together: each sends all but its last byte, and once all twelve
    // are connected the last bytes go out in one turn, so the server reads the twelve bodies'
    // ends back to back however loaded the machine is (fetch's own pacing let a busy server
    // answer each request before the next one arrived).
    const finishes: (() => void)[] = [];
    const pending = Array.from({ length: 12 }, () =>
      rawPost({ 'content-length': PNG4.length }, (req) => {
        req.write(PNG4.subarray(0, PNG4.length - 1));
        finishes.push(() => req.end(PNG4.subarray(PNG4.length - 1)));
      }),
    );
    await new Promise((r) => setTimeout(r, 300));
    for (const finish of finishes) finish();
    const replies = (await Promise.all(pending)).map((r) => ({ status: r.status, retryAfter: r.headers['retry-after'], body: JSON.parse(r.body) as { probabilities: number[]; error: string } }));
    const ok = replies.filter((r) => r.status === 200);
    const refused = replies.filter((r) => r.status === 503);
    expect(ok.length + refused.length).toBe(12);
    expect(ok.length).toBeGreaterThanOrEqual(2);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const r of ok) expect(r.body.probabilities[0]).toBeCloseTo(P0, 6);
    for (const r of refused) {
      expect(r.retryAfter).toBe('1');
      expect(r.body.error).toMatch(/^overloaded: 2 requests already queued \(limit 2\); retry later$/);
    }
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^fedkd_request_overloads_total\\{version="1",precision="fp32",provider="cpu"\\} ${refused.length}$`, 'm'));
  });

  it('refuses a body declared over the limit with 413 before reading it', async () => {
    const reply = await rawPost({ 'content-length': MAX_BODY_BYTES + 1 }, (req) => req.write(Buffer.alloc(1024)));
    expect(reply.status).toBe(413);
    expect(JSON.parse(reply.body).error).toBe(`request body over ${MAX_BODY_BYTES} bytes`);
  });

  it('reads a chunked body (no Content-Length) sent in pieces', async () => {
    const reply = await rawPost({}, (req) => {
      req.write(PNG4.subarray(0, 30));
      setTimeout(() => req.end(PNG4.subarray(30)), 20);
    });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body).probabilities[0]).toBeCloseTo(P0, 6);
  });

  it('names a bad image in a 400 from the in-thread decoder too', async () => {
    const res = await fetch(`${srv.url}/v1/predict?name=scan.png`, { method: 'POST', body: new Uint8Array(PNG4.subarray(0, 40)) });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatch(/^scan\.png: cannot decode PNG image/);
  });
});
