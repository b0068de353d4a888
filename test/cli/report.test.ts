import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { niceTicks, writeLineChartPng } from '../../cli/report/plot.ts';
import { tableCsv, tableMarkdown, tableText } from '../../cli/report/table.ts';

describe('report plots', () => {
  it('chooses 1-2-5 ticks', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.83, 0.97)).toEqual([0.84, 0.86, 0.88, 0.9, 0.92, 0.94, 0.96]);
    expect(niceTicks(1, 10)).toEqual([2, 4, 6, 8, 10]);
  });

  it('draws each series in its colour where its points are', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'fedkd-plot-')), 'auc.png');
    // x range [1,3] padded 5% → [0.9, 3.1]; y fixed [0,1]; plot area 480x325 at (70,40)
    await writeLineChartPng(file, {
      title: 'AUC',
      xLabel: 'round',
      yLabel: 'AUC',
      yRange: [0, 1],
      series: [{ name: 'site-1', points: [[1, 0.5], [2, 0.5], [3, 0.5]] }],
    });
    const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([720, 420]);
    const px = (x: number, y: number): number[] => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
    const x2 = Math.round(70 + ((2 - 0.9) / 2.2) * 480);
    const y = Math.round(40 + 325 - 0.5 * 325);
    expect(px(x2, y)).toEqual([0x00, 0x72, 0xb2]);
    // well above the line: background
    expect(px(x2, y - 60)).toEqual([255, 255, 255]);
  });
});

describe('report tables', () => {
  const t = { columns: ['model', 'AUC', 'params'], rows: [['fed, pruned', 0.91234, 35842], ['teacher "L"', 0.95, 812000]] };
  it('quotes CSV fields per RFC 4180', () => {
    expect(tableCsv(t)).toBe('model,AUC,params\n"fed, pruned",0.91234,35842\n"teacher ""L""",0.95,812000\n');
  });
  it('aligns text and renders Markdown', () => {
    expect(tableText(t).split('\n')[2]).toBe('fed, pruned  0.9123   35842');
    expect(tableMarkdown(t).split('\n')[1]).toBe('| --- | --- | --- |');
  });
});
