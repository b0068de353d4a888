// Worker-thread bootstrap for core/ts-worker.ts: Node 20 does not apply `--import tsx` hooks
// to a worker's own entry module, so this plain-JS entry registers tsx in the thread, then
// loads the TypeScript module whose URL tsWorker appended to the worker's argv.
import { register } from 'tsx/esm/api';

register();
await import(process.argv[process.argv.length - 1]);
