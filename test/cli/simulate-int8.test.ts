import { describe, expect, it } from 'vitest';
import { int8Summary, int8Table } from '../../cli/simulate/int8.ts';
import { loadSimulateConfig } from '../../cli/simulate/config.ts';
import type { PrecisionReport, PrecisionRow } from '../../quantize/precision-report.ts';

const row = (precision: PrecisionRow['precision'], fileBytes: number, b32: number, auc: number, x: number, y: number): PrecisionRow => ({
  precision,
  fileBytes,
  sizeRatio: fileBytes / 1000,
  latencyMs: { batch1: b32 / 10, batch32: b32 },
  speedupBatch32: 8 / b32,
  auc,
  accuracy: 0.9,
  tests: [
    { name: 'site-x', n: 10, auc: x, accuracy: 0.9 },
    { name: 'site-y', n: 12, auc: y, accuracy: 0.9 },
  ],
  maxLogitDiff: 0,
  top1Agreement: 1,
});

const report: PrecisionReport = {
  model: 'm.onnx',
  input: [1, 16, 16],
  calibration: { method: 'percentile', source: 'calibration.fkw', images: null },
  rows: [row('fp32', 1000, 8, 0.81, 0.8, 0.82), row('fp16', 520, 8, 0.81, 0.8, 0.82), row('int8', 300, 4, 0.805, 0.79, 0.82), row('mixed', 400, 5, 0.81, 0.8, 0.82)],
  chosen: { precision: 'int8', reason: 'INT8 is 2x faster' },
  layers: [],
  budget: { aucDrop: 0.005 },
  fp16Compute: 'float32',
};

describe('simulate: the federated INT8 student in the summary', () => {
  it('sizes, latency, AUC per site FP32 vs INT8 and the two choices, read from the precision report', () => {
    const s = int8Summary(report, 'fp32');
    expect(s.fileBytes).toEqual({ fp32: 1000, fp16: 520, int8: 300, mixed: 400 });
    expect(s.latencyMs.int8).toEqual({ batch1: 0.4, batch32: 4 });
    expect(s.auc.fp32).toEqual({ pooled: 0.81, 'site-x': 0.8, 'site-y': 0.82 });
    expect(s.auc.int8['site-x']).toBe(0.79);
    expect(s.aucChangeInt8).toBeCloseTo(-0.005, 12);
    expect(s.chosen.precision).toBe('int8');
    expect(s.coordinatorChosen).toBe('fp32');
    const table = int8Table(s);
    expect(table).toContain('| precision | bytes | ms (batch 1) | ms (batch 32) | AUC pooled | site-x | site-y |');
    expect(table).toContain('| int8 | 300 | 0.40 | 4.00 | 0.8050 | 0.7900 | 0.8200 |');
    expect(table).toContain('chosen: **int8**');
  });

  it('federated calibration is on by default and can be switched off', () => {
    expect(loadSimulateConfig(undefined, true).quantize).toEqual({ enabled: true, method: 'percentile' });
  });
});
