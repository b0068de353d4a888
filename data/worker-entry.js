// Worker-thread bootstrap: Node 20 does not apply `--import tsx` hooks to a worker's own
// entry module, so this plain-JS entry registers tsx in the thread, then loads the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
