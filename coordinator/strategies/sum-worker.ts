import { parentPort } from 'node:worker_threads';
import { claimChunks, type SumJob } from './sum-job.ts';

// The aggregation worker (parallel-sum.ts): says it has loaded, then claims chunks of each
// posted job alongside the calling thread. A job that arrives after the caller has done every
// chunk finds none left.
parentPort?.on('message', (job: SumJob) => claimChunks(job));
parentPort?.postMessage('ready');
