// Worker-thread bootstrap for DataParallelTrainer: Node 20 does not apply `--import tsx`
// hooks to a worker's own entry module, so this plain-JS entry registers tsx in the thread,
// then loads the TypeScript replica.
import { register } from 'tsx/esm/api';

register();
await import('./data-parallel-worker.ts');
