import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pickArm } from '../../runtime/ab.ts';
import { int8FasterOnCpu, parseChosenPrecision, parsePrecisionReport, quantizedPreferredOnCpu } from '../../runtime/report.ts';
import { repositorySignature, scanRepository } from '../../runtime/repository.ts';
import { sumClassifier, writeVersion } from './fixtures/tiny-onnx.ts';

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'fedkd-scan-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('scanRepository', () => {
  it('orders versions numerically, maps files to precisions and sends all traffic to the newest', () => {
    writeVersion(root, '2', sumClassifier(1, 0), 'model.onnx');
    writeVersion(root, '10', sumClassifier(1, 0), 'model.fp32.onnx');
    writeVersion(root, '10', sumClassifier(1, 0), 'model.int8.onnx');
    writeVersion(root, 'notes', new Uint8Array(0), 'README.txt');
    const s = scanRepository(root);
    expect(s.versions.map((v) => v.version)).toEqual(['2', '10']);
    expect(Object.keys(s.versions[1].files).sort()).toEqual(['fp32', 'int8']);
    expect(s.split).toEqual([{ version: '10', weight: 1 }]);
  });

  it('reads the A/B split and names a bad one', () => {
    writeVersion(root, '1', sumClassifier(1, 0));
    writeVersion(root, '2', sumClassifier(1, 0));
    writeFileSync(path.join(root, 'serving.json'), JSON.stringify({ split: { '1': 90, '2': 10 } }));
    expect(scanRepository(root).split).toEqual([{ version: '1', weight: 90 }, { version: '2', weight: 10 }]);
    writeFileSync(path.join(root, 'serving.json'), JSON.stringify({ split: { '1': 1, '7': 1 } }));
    expect(() => scanRepository(root)).toThrow(/names version\(s\) 7 that .* does not hold/);
    writeFileSync(path.join(root, 'serving.json'), JSON.stringify({ split: { '1': -1 } }));
    expect(() => scanRepository(root)).toThrow(/serving\.json: split\.1: /);
    writeFileSync(path.join(root, 'serving.json'), '{not json');
    expect(() => scanRepository(root)).toThrow(/serving\.json: not valid JSON/);
  });

  it('changes its signature when a model file changes', () => {
    writeVersion(root, '1', sumClassifier(1, 0));
    const before = repositorySignature(root);
    expect(repositorySignature(root)).toBe(before);
    writeVersion(root, '1', sumClassifier(1, 0), 'model.int8.onnx');
    expect(repositorySignature(root)).not.toBe(before);
  });
});

describe('precision report', () => {
  it('compares INT8 with FP32 at batch 32, else batch 1, and cannot tell without both', () => {
    expect(int8FasterOnCpu(parsePrecisionReport({ rows: [{ precision: 'FP32', latencyMs: { batch1: 1, batch32: 10 } }, { precision: 'int8', latencyMs: { batch1: 2, batch32: 6 } }] }))).toBe(true);
    expect(int8FasterOnCpu(parsePrecisionReport([{ name: 'fp32', latencyBatch1Ms: 1 }, { name: 'int8', latencyBatch1Ms: 2 }]))).toBe(false);
    expect(int8FasterOnCpu(parsePrecisionReport({ variants: [{ precision: 'int8', latencyMs: { 32: 1 } }] }))).toBeUndefined();
    expect(parsePrecisionReport({ something: 'else' })).toBeUndefined();
  });

  it("follows quantize/'s chosen precision over the latency rows, and the rows without it", () => {
    const rows = [{ precision: 'fp32', latencyMs: { batch1: 1, batch32: 10 } }, { precision: 'int8', latencyMs: { batch1: 1, batch32: 9.5 } }];
    expect(parseChosenPrecision({ rows, chosen: { precision: 'FP32', reason: 'x' } })).toBe('fp32');
    expect(parseChosenPrecision({ rows })).toBeUndefined();
    expect(quantizedPreferredOnCpu({ rows: parsePrecisionReport({ rows }), chosen: 'fp32' })).toBe(false);
    expect(quantizedPreferredOnCpu({ rows: parsePrecisionReport({ rows: rows.slice(0, 1) }), chosen: 'mixed' })).toBe(true);
    expect(quantizedPreferredOnCpu({ rows: parsePrecisionReport({ rows }) })).toBe(true);
  });

  it('serves FP32 on CPU when report.json chose fp32 though INT8 was slightly faster (below the 1.1x margin)', () => {
    writeVersion(root, '1', sumClassifier(1, 0), 'model.fp32.onnx');
    writeVersion(root, '1', sumClassifier(1, 0), 'model.int8.onnx');
    const rows = [{ precision: 'fp32', latencyMs: { batch1: 1, batch32: 10 } }, { precision: 'int8', latencyMs: { batch1: 1, batch32: 9.5 } }];
    writeFileSync(path.join(root, '1', 'report.json'), JSON.stringify({ rows, chosen: { precision: 'fp32', reason: 'not 1.1x faster' } }));
    expect(scanRepository(root).versions[0].int8Faster).toBe(false);
    writeFileSync(path.join(root, '1', 'report.json'), JSON.stringify({ rows, chosen: { precision: 'mixed', reason: 'mixed is 1.3x faster' } }));
    expect(scanRepository(root).versions[0].int8Faster).toBe(true);
    writeFileSync(path.join(root, '1', 'report.json'), JSON.stringify({ rows }));
    expect(scanRepository(root).versions[0].int8Faster).toBe(true);
  });
});

describe('pickArm', () => {
  it('picks by cumulative weight at the point', () => {
    const arms = [{ version: 'a', weight: 1 }, { version: 'b', weight: 3 }];
    expect(pickArm(arms, undefined, () => 0.24).version).toBe('a');
    expect(pickArm(arms, undefined, () => 0.25).version).toBe('b');
    expect(pickArm(arms, undefined, () => 0.999).version).toBe('b');
    expect(() => pickArm([{ version: 'a', weight: 0 }], 'k')).toThrow(/positive weight/);
  });
});
