import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { warn } from '../core/log.ts';

/** An execution provider fedkd can use. */
export type Provider = 'cuda' | 'cpu';

/** A tensor going into or out of a session: float32 data and its dimensions. */
export interface FloatTensor {
  data: Float32Array;
  dims: number[];
}

/** The probes the provider ladder looks at; injectable so GPU paths are testable without a GPU. */
export interface ProviderProbe {
  /** Backends onnxruntime-node reports, e.g. [{name:'cpu',bundled:true},{name:'cuda',bundled:false}]. */
  listBackends(): { name: string; bundled: boolean }[];
  /** Whether a usable NVIDIA GPU is present (nvidia-smi answered). */
  gpuPresent(): boolean;
}

/** Options for openSession. */
export interface SessionOptions {
  /** Force a provider; by default the ladder picks CUDA when usable, else CPU. */
  provider?: Provider;
  /** Intra-op threads for the CPU provider (default: ORT's choice). */
  threads?: number;
  /**
   * Whether ORT's intra-op threads spin after a run waiting for the next (ORT's own default,
   * true). Spinning trades idle cores for a little latency; a shared server should not.
   */
  spinning?: boolean;
  /** Graph optimisation level (default 'all'). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Where ORT writes its optimised graph, for inspection. */
  optimizedModelPath?: string;
  /** Turn on ORT profiling (per-node timings). */
  profile?: boolean;
  /** Where profiles go: ORT writes `<prefix>_<date>.json` (default: fedkd-ort-profile in the OS temp folder). */
  profilePrefix?: string;
  probe?: ProviderProbe;
}

/** An open ONNX Runtime session and the provider that runs it. */
export interface ModelSession {
  readonly provider: Provider;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Declared input shapes, in inputNames order; a symbolic dimension (e.g. the batch axis) is a string. */
  readonly inputShapes?: readonly (readonly (number | string)[])[];
  /** Runs the model; feeds and results are keyed by input/output name. */
  run(feeds: Record<string, FloatTensor>): Promise<Record<string, FloatTensor>>;
  /** Ends profiling and returns the profile file's path (when opened with profile: true). */
  endProfiling(): string | undefined;
  release(): Promise<void>;
}

/** The real probes: onnxruntime-node's backend list; a GPU is present when `nvidia-smi -L` lists one. */
export const systemProbe: ProviderProbe = {
  listBackends: () => ort.listSupportedBackends(),
  gpuPresent: () => {
    const r = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 5000 });
    return r.status === 0 && /GPU \d+/.test(r.stdout ?? '');
  },
};

/**
 * The provider ladder: CUDA when onnxruntime-node has its CUDA binaries and a GPU answers,
 * otherwise CPU. Returns the ordered list to try.
 */
export function providerLadder(probe: ProviderProbe = systemProbe): Provider[] {
  const cudaInstalled = probe.listBackends().some((b) => b.name === 'cuda' && b.bundled);
  return cudaInstalled && probe.gpuPresent() ? ['cuda', 'cpu'] : ['cpu'];
}

/**
 * Opens an ONNX model (a path or its bytes) on the best provider. A failed CUDA session
 * falls back to CPU with a warning rather than failing.
 */
export async function openSession(model: string | Uint8Array, opts: SessionOptions = {}): Promise<ModelSession> {
  const ladder = opts.provider ? [opts.provider] : providerLadder(opts.probe);
  let lastError: unknown;
  for (const provider of ladder) {
    try {
      const so: ort.InferenceSession.SessionOptions = {
        executionProviders: [provider],
        graphOptimizationLevel: opts.optimization ?? 'all',
        ...(opts.threads ? { intraOpNumThreads: opts.threads, interOpNumThreads: 1 } : {}),
        ...(opts.spinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } } : {}),
        // the optimised graph is written for inspection, never to be shipped: ORT's warning that it may hold this CPU's layouts is not the user's concern
        ...(opts.optimizedModelPath ? { optimizedModelFilePath: opts.optimizedModelPath, logSeverityLevel: 3 as const } : {}),
        ...(opts.profile ? { enableProfiling: true, profileFilePrefix: opts.profilePrefix ?? path.join(os.tmpdir(), 'fedkd-ort-profile') } : {}),
      };
      const s = typeof model === 'string' ? await ort.InferenceSession.create(model, so) : await ort.InferenceSession.create(model, so);
      return wrap(s, provider);
    } catch (e) {
      lastError = e;
      if (provider !== 'cpu') warn(`the ${provider} session failed (${e instanceof Error ? e.message.split('\n')[0] : e}); falling back to CPU`);
    }
  }
  throw lastError;
}

function wrap(s: ort.InferenceSession, provider: Provider): ModelSession {
  return {
    provider,
    inputNames: s.inputNames,
    outputNames: s.outputNames,
    inputShapes: s.inputMetadata.map((m) => (m.isTensor ? [...m.shape] : [])),
    async run(feeds) {
      const f: Record<string, ort.Tensor> = {};
      for (const [k, v] of Object.entries(feeds)) f[k] = new ort.Tensor('float32', v.data, v.dims);
      const out = await s.run(f);
      const r: Record<string, FloatTensor> = {};
      for (const [k, v] of Object.entries(out)) r[k] = { data: v.data as Float32Array, dims: [...v.dims] };
      return r;
    },
    endProfiling() {
      const p = (s as unknown as { endProfiling?: () => string | void }).endProfiling?.();
      return typeof p === 'string' ? p : undefined;
    },
    release: () => s.release(),
  };
}
