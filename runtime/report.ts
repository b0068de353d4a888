import { readFileSync } from 'node:fs';

/**
 * One row of quantize/'s precision report as the runtime reads it: a precision and its
 * measured CPU latency at batch 1 and batch 32 (milliseconds per batch).
 */
export interface PrecisionLatency {
  precision: string;
  batch1Ms?: number;
  batch32Ms?: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function latencyOf(row: Obj, batch: 1 | 32): number | undefined {
  const lat = row.latencyMs;
  if (isObj(lat)) return num(lat[`batch${batch}`]) ?? num(lat[String(batch)]) ?? num(lat[`b${batch}`]);
  return num(row[`latencyBatch${batch}Ms`]) ?? num(row[`batch${batch}Ms`]);
}

/**
 * Reads the latency rows of a precision report (`report.json` beside the model files).
 * Accepted shapes: `{rows: [...]}` (also `variants` / `precisions`) or a bare array; each row
 * names its `precision` (or `name`) and gives `latencyMs: {batch1, batch32}` (or
 * `latencyBatch1Ms` / `latencyBatch32Ms`). Returns undefined for an unreadable report.
 */
export function parsePrecisionReport(json: unknown): PrecisionLatency[] | undefined {
  const rows = Array.isArray(json) ? json : isObj(json) ? (json.rows ?? json.variants ?? json.precisions) : undefined;
  if (!Array.isArray(rows)) return undefined;
  const out: PrecisionLatency[] = [];
  for (const r of rows) {
    if (!isObj(r)) continue;
    const precision = typeof r.precision === 'string' ? r.precision : typeof r.name === 'string' ? r.name : undefined;
    if (precision) out.push({ precision: precision.toLowerCase(), batch1Ms: latencyOf(r, 1), batch32Ms: latencyOf(r, 32) });
  }
  return out;
}

/** Reads and parses a report file; undefined when absent or unreadable. */
export function readPrecisionReport(file: string): PrecisionLatency[] | undefined {
  try {
    return parsePrecisionReport(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    return undefined;
  }
}

/**
 * Whether INT8 is faster than FP32 on CPU by the report: compared at batch 32 when both
 * rows have it, else at batch 1; undefined when the report cannot tell.
 */
export function int8FasterOnCpu(rows: readonly PrecisionLatency[] | undefined): boolean | undefined {
  const int8 = rows?.find((r) => r.precision === 'int8');
  const fp32 = rows?.find((r) => r.precision === 'fp32');
  if (!int8 || !fp32) return undefined;
  if (int8.batch32Ms !== undefined && fp32.batch32Ms !== undefined) return int8.batch32Ms < fp32.batch32Ms;
  if (int8.batch1Ms !== undefined && fp32.batch1Ms !== undefined) return int8.batch1Ms < fp32.batch1Ms;
  return undefined;
}
