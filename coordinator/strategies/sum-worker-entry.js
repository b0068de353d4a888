// Worker-thread bootstrap for parallel-sum.ts: Node 20 does not apply `--import tsx` hooks to
// a worker's own entry module, so this plain-JS entry registers tsx, then loads the worker.
import { register } from 'tsx/esm/api';

register();
await import('./sum-worker.ts');
