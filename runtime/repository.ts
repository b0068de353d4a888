import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { UserError } from '../core/errors.ts';
import type { SplitArm } from './ab.ts';
import type { Precision } from './plan.ts';
import { quantizedPreferredOnCpu, readReportFile } from './report.ts';

/**
 * One version folder of a model repository (Triton's layout: `DIR/VERSION/`), holding
 * `model.fp32.onnx` (or `model.onnx`), optionally `model.fp16.onnx`, `model.int8.onnx`
 * and quantize/'s `report.json`.
 */
export interface ModelVersion {
  version: string;
  dir: string;
  files: Partial<Record<Precision, string>>;
  /** From report.json: whether to serve the quantized file on CPU (its `chosen.precision`, else the latency rows); undefined without a usable report. */
  int8Faster?: boolean;
  /** Changes whenever a model file changes (size and mtime), so a reload reloads it. */
  signature: string;
}

/** A scanned repository: its versions (oldest first) and the traffic split. */
export interface RepositoryState {
  versions: ModelVersion[];
  split: SplitArm[];
}

/** The optional `serving.json` at the repository's top: an A/B split of version → weight. */
const ServingConfig = z.object({ split: z.record(z.string(), z.number().nonnegative()) }).strict();

const FILE_PRECISION: [RegExp, Precision][] = [
  [/^model(\.fp32)?\.onnx$/, 'fp32'],
  [/^model\.fp16\.onnx$/, 'fp16'],
  [/^model\.int8\.onnx$/, 'int8'],
];

/** Compares version names numerically where they are numbers ("2" < "10"). */
export const byVersion = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });

function readVersion(dir: string, version: string): ModelVersion | undefined {
  const files: ModelVersion['files'] = {};
  const sig: string[] = [];
  for (const f of readdirSync(dir).sort()) {
    const precision = FILE_PRECISION.find(([re]) => re.test(f))?.[1];
    if (!precision || files[precision]) continue;
    const st = statSync(path.join(dir, f));
    files[precision] = path.join(dir, f);
    sig.push(`${f}:${st.size}:${st.mtimeMs}`);
  }
  if (!sig.length) return undefined;
  const report = path.join(dir, 'report.json');
  if (existsSync(report)) sig.push(`report:${statSync(report).mtimeMs}`);
  return { version, dir, files, int8Faster: quantizedPreferredOnCpu(readReportFile(report)), signature: sig.join('|') };
}

function readSplit(root: string, versions: ModelVersion[]): SplitArm[] {
  const file = path.join(root, 'serving.json');
  if (!existsSync(file)) return [{ version: versions[versions.length - 1].version, weight: 1 }];
  let parsed: z.infer<typeof ServingConfig>;
  try {
    const r = ServingConfig.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!r.success) throw new UserError(`${file}: ${r.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`);
    parsed = r.data;
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${file}: not valid JSON (${e instanceof Error ? e.message : e})`);
  }
  const known = new Set(versions.map((v) => v.version));
  const arms = Object.entries(parsed.split).filter(([, w]) => w > 0).map(([version, weight]) => ({ version, weight }));
  const missing = arms.filter((a) => !known.has(a.version)).map((a) => a.version);
  if (missing.length) throw new UserError(`${file}: split names version(s) ${missing.join(', ')} that ${root} does not hold`);
  if (!arms.length) throw new UserError(`${file}: split gives no version a positive weight`);
  return arms.sort((a, b) => byVersion(a.version, b.version));
}

/**
 * Scans a model repository: each sub-folder with a `model*.onnx` is a version; the split
 * comes from `serving.json` (`{"split": {"1": 90, "2": 10}}`), else all traffic goes to the
 * newest version. Throws a UserError for a missing or empty repository or a bad split.
 */
export function scanRepository(root: string): RepositoryState {
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new UserError(`model repository ${root} is not a folder`);
  const versions = readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => readVersion(path.join(root, d.name), d.name))
    .filter((v): v is ModelVersion => v !== undefined)
    .sort((a, b) => byVersion(a.version, b.version));
  if (!versions.length) throw new UserError(`model repository ${root} holds no version folder with a model.onnx / model.fp32.onnx / model.int8.onnx`);
  return { versions, split: readSplit(root, versions) };
}

/** A string that changes when any version, model file or serving.json changes: the hot-swap trigger. */
export function repositorySignature(root: string): string {
  try {
    const st = scanRepository(root);
    const serving = path.join(root, 'serving.json');
    const cfg = existsSync(serving) ? readFileSync(serving, 'utf8') : '';
    return JSON.stringify([st.versions.map((v) => [v.version, v.signature]), cfg]);
  } catch (e) {
    return `error:${e instanceof Error ? e.message : e}`;
  }
}
