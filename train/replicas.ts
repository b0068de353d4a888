import { shardRows } from '../engine/data-parallel.ts';
import type { ReplicaLoss, Shard } from '../engine/data-parallel-protocol.ts';
import type { KdOptions } from '../distill/losses.ts';
import type { BatchArrays } from './batches.ts';
import { classificationTask } from './classification.ts';
import type { Batch } from './types.ts';

/** A batch's arrays cut into at most `replicas` shards of consecutive rows, for DataParallelTrainer. */
export function shardsOf(a: BatchArrays, replicas: number): { rows: number; shard: Shard }[] {
  const px = a.size * a.size;
  return shardRows(a.rows, replicas).map(([from, rows]) => {
    const shard: Shard = {
      x: { data: a.x.slice(from * px * a.channels, (from + rows) * px * a.channels), shape: [rows, a.size, a.size, a.channels] },
      labels: { data: a.labels.slice(from, from + rows), shape: [rows] },
    };
    if (a.masks) shard.masks = { data: a.masks.slice(from * px, (from + rows) * px), shape: [rows, a.size, a.size, 1] };
    if (a.softLabels) {
      const k = a.softLabels.classes;
      shard.softLabels = { data: a.softLabels.data.slice(from * k, (from + rows) * k), shape: [rows, k] };
    }
    return { rows, shard };
  });
}

/** Options of classificationLoss: those of classificationTask. */
export interface ClassificationLossOptions {
  numClasses: number;
  kd?: KdOptions;
}

/** A replica's loss for classificationTask (KD when the shard has soft labels), in training mode. */
export function classificationLoss(o: ClassificationLossOptions): ReplicaLoss {
  const task = classificationTask(o);
  return (model, s) => task.batchLoss(model, s as unknown as Batch, true);
}
