/**
 * The site-data stage's public face: decoding, preprocessing, augmentation and datasets.
 * Other stages import from here (or from the named files).
 */
export { decodeImageBytes, decodeImageFile, decodeCount, pixelStats, type DecodedImage } from './decode.ts';
export { parsePreprocess, PreprocessSchema, WINDOW_PRESETS, type PreprocessConfig, type PreprocessInput } from './preprocess/config.ts';
export { preprocessImage, preprocessMask } from './preprocess/preprocess.ts';
export { preprocessFile } from './preprocess/file.ts';
export { augment, DEFAULT_AUGMENT, type AugmentConfig, type DegradeConfig } from './preprocess/augment.ts';
export { loadDataset, type Dataset, type LoadOptions } from './dataset/load.ts';
export { readLabels, type LabelRow } from './dataset/labels.ts';
export { PreprocessPool } from './pool.ts';
