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

/**
 * quantize/'s verdict in a report: `chosen.precision` ('fp32' | 'int8' | 'mixed' | …, lower
 * case) names what the quantized file holds or, when 'fp32', that FP32 should be served.
 */
export function parseChosenPrecision(json: unknown): string | undefined {
  const chosen = isObj(json) ? json.chosen : undefined;
  return isObj(chosen) && typeof chosen.precision === 'string' ? chosen.precision.toLowerCase() : undefined;
}

/** A report file's latency rows and its chosen precision (both undefined when absent or unreadable). */
export function readReportFile(file: string): { rows?: PrecisionLatency[]; chosen?: string } {
  try {
    const json: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return { rows: parsePrecisionReport(json), chosen: parseChosenPrecision(json) };
  } catch {
    return {};
  }
}

/** Reads and parses a report file; undefined when absent or unreadable. */
export function readPrecisionReport(file: string): PrecisionLatency[] | undefined {
  return readReportFile(file).rows;
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

/**
 * Whether the CPU should serve the quantized file (`model.int8.onnx`, which may hold the mixed
 * model): the report's `chosen.precision` decides when present ('fp32' → no; 'int8' or 'mixed'
 * → yes, quantize/ found it at least MIN_SPEEDUP faster within the accuracy budget); without a
 * verdict, the latency rows (int8FasterOnCpu).
 */
export function quantizedPreferredOnCpu(report: { rows?: readonly PrecisionLatency[]; chosen?: string }): boolean | undefined {
  if (report.chosen === 'fp32') return false;
  if (report.chosen === 'int8' || report.chosen === 'mixed') return true;
  return int8FasterOnCpu(report.rows);
}
