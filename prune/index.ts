/**
 * Structured channel pruning (issue 6): channel groups from the layer graph, L1/L2/BN-γ
 * importance, masks as plain data, the training mask hook, physical surgery, the iterative
 * schedule and the before/after report. Federated pruning uses `channelImportance` per site,
 * `sumScores` and `selectMasks` on the coordinator, `unitsKept`/`parseMasks` to check masks from
 * the wire, `createMaskHook` for train/, `compactWeights`/`expandWeights` so later rounds send
 * only kept channels, `federatedMasks` with `pruneSettingsSchema` for the coordinator's rounds,
 * and `shrinkModel` after the last round.
 */
export { analyzeChannels, type ChannelGraph, type ChannelGroup, type ChannelUnit, type ExcludeOptions } from './graph.ts';
export { CRITERIA, channelImportance, sumScores, sliceNorms, type ChannelScores, type Criterion } from './importance.ts';
export { maskCounts, masksFromUnits, parseMasks, unitsKept, type PruneMasks } from './masks.ts';
export { selectMasks, type SelectOptions } from './select.ts';
export { applyMasks, createMaskHook, trainableWeightMasks, weightCuts, type MaskHook, type WeightCut } from './apply-masks.ts';
export { shrinkModel } from './surgery.ts';
export { pruneIteratively, stepRatio, type FineTune, type ScheduleOptions, type ScheduleStep } from './schedule.ts';
export { pruneModel, type PruneOptions, type PruneResult } from './prune.ts';
export { compactWeights, expandWeights, scatterAxes, sliceAxes } from './compact.ts';
export { federatedMasks, pruneSettingsSchema, pruningStep, type PruneSettings } from './federated.ts';
export { formatReport, modelFigures, pruneReport, type ExtraFigure, type ModelFigures, type PruneReport } from './report.ts';
