import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImageBytes } from '../../data/decode.ts';
import { writePng } from '../data/raster-writers.ts';
import { affineSegmenter, sumClassifier, writeVersion } from './fixtures/tiny-onnx.ts';
import { startServe, type ServeProcess } from './fixtures/serve-process.ts';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const PNG = writePng(2, 2, 1, 8, [0, 85, 170, 255]);

let dir: string;
let cls: ServeProcess;
let seg: ServeProcess;
let browser: Browser;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fedkd-web-'));
  writeVersion(path.join(dir, 'cls'), '1', sumClassifier(1, 0));
  writeVersion(path.join(dir, 'seg'), '1', affineSegmenter(2, 2, 4, -2));
  [cls, seg, browser] = await Promise.all([
    startServe(path.join(dir, 'cls'), ['--batching', 'off']),
    startServe(path.join(dir, 'seg')),
    chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS }),
  ]);
});

afterAll(async () => {
  await Promise.all([cls?.stop(), seg?.stop(), browser?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

async function openPage(url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  return { page, errors };
}

/** The RGBA of every canvas pixel. */
const canvasPixels = (page: Page) =>
  page.$eval('#image', (c) => {
    const cv = c as HTMLCanvasElement;
    return Array.from(cv.getContext('2d')!.getImageData(0, 0, cv.width, cv.height).data);
  });

describe('the fedkd serve web page in Chromium', () => {
  it('shows the notice, the windowed image and the probabilities the API returns; screenshot', async () => {
    const { page, errors } = await openPage(cls.url);
    await expect(page.locator('#notice').isVisible()).resolves.toBe(true);
    expect(await page.locator('#notice').innerText()).toMatch(/for research and teaching, not diagnosis/i);
    await page.setInputFiles('#file', { name: 'chest.png', mimeType: 'image/png', buffer: PNG });
    await page.waitForSelector('body[data-ready="1"]');

    const api = await (await fetch(`${cls.url}/v1/predict`, { method: 'POST', body: new Uint8Array(PNG) })).json();
    const shown = await page.$$eval('#probs td[data-prob]', (tds) => tds.map((td) => Number((td as HTMLElement).dataset.prob)));
    expect(shown).toEqual(api.probabilities);
    const texts = await page.$$eval('#probs td[data-prob]', (tds) => tds.map((td) => td.textContent));
    expect(texts).toEqual(api.probabilities.map((p: number) => p.toFixed(4)));
    expect(shown[0]).toBeCloseTo(Math.exp(2) / (Math.exp(2) + 1), 6); // hand-computed: logits [2, 0]
    expect(await page.locator('#prediction').innerText()).toBe('class 0 (88.1%)');
    expect(await page.locator('#variant').innerText()).toBe('version 1 · fp32 · cpu · unbatched');
    expect(await page.locator('#latency').innerText()).toMatch(/^\d+\.\d ms \(model \d+\.\d ms\)$/);

    // the 8-bit PNG's full-range window shows its grey levels as they are
    const grey = (px: number[]) => px.filter((_, i) => i % 4 === 0);
    expect(grey(await canvasPixels(page))).toEqual([0, 85, 170, 255]);
    // narrower window 127.5 / 127.5: lower bound 63.75, so 85 → 43, 170 → 213
    await page.$eval('#ww', (el) => {
      (el as HTMLInputElement).value = '127.5';
      el.dispatchEvent(new Event('input'));
    });
    expect(grey(await canvasPixels(page))).toEqual([0, 43, 213, 255]);

    const shot = path.join(dir, 'serve-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(5000);
    const img = await decodeImageBytes(readFileSync(shot), shot);
    expect([img.format, img.columns]).toEqual(['png', 1100]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('takes a dropped image and overlays the predicted mask', async () => {
    const { page, errors } = await openPage(seg.url);
    const dt = await page.evaluateHandle((b64) => {
      const bin = atob(b64);
      const t = new DataTransfer();
      t.items.add(new File([Uint8Array.from(bin, (ch) => ch.charCodeAt(0))], 'dropped.png', { type: 'image/png' }));
      return t;
    }, PNG.toString('base64'));
    await page.dispatchEvent('#drop', 'drop', { dataTransfer: dt });
    await page.waitForSelector('body[data-ready="1"]');
    expect(await page.locator('#mask-info').innerText()).toMatch(/^50\.0% of the image is foreground/);
    // mask = [0, 0, 1, 1] (logits 4u − 2): the bottom row is tinted red, the top row stays grey
    const px = await canvasPixels(page);
    const rgb = [0, 1, 2, 3].map((i) => px.slice(4 * i, 4 * i + 3));
    expect(rgb[0]).toEqual([0, 0, 0]);
    expect(rgb[1]).toEqual([85, 85, 85]);
    for (const [r, g, b] of rgb.slice(2)) {
      expect(r - g).toBeGreaterThan(40);
      expect(g).toBe(b);
    }
    await page.uncheck('#overlay');
    expect((await canvasPixels(page)).filter((_, i) => i % 4 === 0)).toEqual([0, 85, 170, 255]);
    await page.screenshot({ path: path.join(dir, 'serve-mask.png') });
    expect(statSync(path.join(dir, 'serve-mask.png')).size).toBeGreaterThan(5000);
    expect(errors).toEqual([]);
    await page.close();
  });
});
