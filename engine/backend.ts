import * as tf from '@tensorflow/tfjs';
import { UserError } from '../core/errors.ts';

/** The backends fedkd knows, fastest first. */
export const BACKEND_LADDER = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_LADDER)[number];

/** Short names a user may give in `FEDKD_BACKEND` or `--backend`. */
const ALIASES: Record<string, BackendName> = {
  'node-gpu': 'tensorflow-gpu',
  'tfjs-node-gpu': 'tensorflow-gpu',
  gpu: 'tensorflow-gpu',
  'tensorflow-gpu': 'tensorflow-gpu',
  node: 'tensorflow',
  'tfjs-node': 'tensorflow',
  tensorflow: 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

/** Which backend was chosen, and why, in words for `fedkd doctor` and the logs. */
export interface BackendChoice {
  name: BackendName;
  reason: string;
  /** What was tried before it and why each was passed over. */
  skipped: { name: BackendName; why: string }[];
}

let chosen: BackendChoice | undefined;

/** Parses a user's backend name; throws a UserError naming the choices for an unknown one. */
export function parseBackendName(s: string): BackendName {
  const b = ALIASES[s.trim().toLowerCase()];
  if (!b) throw new UserError(`unknown backend '${s}': choose one of ${Object.keys(ALIASES).join(', ')}`);
  return b;
}

async function tryActivate(name: BackendName): Promise<string | undefined> {
  try {
    if (name === 'tensorflow-gpu') {
      await import(/* optional */ '@tensorflow/tfjs-node-gpu' as string);
      if (!(await tf.setBackend('tensorflow'))) return 'tfjs-node-gpu loaded but its backend did not start';
      return undefined;
    }
    if (name === 'tensorflow') {
      await import(/* optional */ '@tensorflow/tfjs-node' as string);
      if (!(await tf.setBackend('tensorflow'))) return 'tfjs-node loaded but its backend did not start';
      return undefined;
    }
    if (name === 'wasm') {
      const { registerWasmTrainingKernels } = await import('./wasm.ts');
      await registerWasmTrainingKernels();
      if (!(await tf.setBackend('wasm'))) return 'the wasm backend did not start';
      return undefined;
    }
    (await import('./kernels/index.ts')).registerTrainingKernels('cpu');
    if (!(await tf.setBackend('cpu'))) return 'the cpu backend did not start';
    return undefined;
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return /Cannot find (module|package)/.test(msg) ? 'not installed (optional; its install downloads libtensorflow)' : msg;
  }
}

/**
 * Picks the fastest backend that works, in the order of BACKEND_LADDER, or the one
 * named by `requested` / `FEDKD_BACKEND`. Idempotent: later calls return the first choice
 * unless a different backend is requested.
 */
export async function initBackend(requested?: string): Promise<BackendChoice> {
  const want = requested ?? process.env.FEDKD_BACKEND;
  const forced = want ? parseBackendName(want) : undefined;
  if (chosen && (!forced || chosen.name === forced)) return chosen;
  const skipped: BackendChoice['skipped'] = [];
  if (forced) {
    const why = await tryActivate(forced);
    if (why) throw new UserError(`backend '${forced}' is not usable here: ${why}`);
    await tf.ready();
    chosen = { name: forced, reason: requested ? 'requested by --backend' : 'requested by FEDKD_BACKEND', skipped };
    return chosen;
  }
  for (const name of BACKEND_LADDER) {
    const why = await tryActivate(name);
    if (!why) {
      await tf.ready();
      chosen = { name, reason: skipped.length ? `fastest that works (${skipped.map((s) => s.name).join(', ')} unavailable)` : 'fastest on the ladder', skipped };
      return chosen;
    }
    skipped.push({ name, why });
  }
  throw new Error('no tfjs backend could start, not even cpu');
}

/** The choice made by initBackend, if any. */
export function currentBackend(): BackendChoice | undefined {
  return chosen;
}
