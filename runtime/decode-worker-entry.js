// Worker-thread bootstrap for runtime/decode-pool.ts: Node 20 does not apply `--import tsx`
// hooks to a worker's own entry module, so this plain-JS entry registers tsx, then loads the worker.
import { register } from 'tsx/esm/api';

register();
await import('./decode-worker.ts');
