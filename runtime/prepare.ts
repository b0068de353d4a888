import { toDisplay, toModelInput, type DisplayImage, type RasterImage, type Region } from './input.ts';

/** Decodes posted bytes (DICOM, PNG, JPEG, …) into a raster; throws a UserError for bad input. Injected by the CLI. */
export type DecodeImage = (bytes: Uint8Array, name: string) => Promise<RasterImage>;

/** One request's image work: the posted bytes and what the chosen model variant takes. */
export interface PrepareJob {
  bytes: Uint8Array;
  /** Names the upload in error messages. */
  name: string;
  /** The variant's input for one item, [C, H, W]. */
  shape: readonly [number, number, number];
  /** Also return the greyscale preview for the web page. */
  display: boolean;
}

/** The model input for one request (C·H·W floats, NCHW order), where the image lies in it, and the optional preview. */
export interface PreparedImage {
  input: Float32Array;
  region?: Region;
  display?: DisplayImage;
}

/** Turns posted bytes into a model input: in the event loop's thread, or on a DecodePool. */
export type PrepareImage = (job: PrepareJob) => Promise<PreparedImage>;

/** decode → model input (+ region, + preview): the whole per-request image path, in whatever thread calls it. */
export function prepareWith(decode: DecodeImage): PrepareImage {
  return async ({ bytes, name, shape, display }) => {
    const image = await decode(bytes, name);
    const input = toModelInput(image, shape);
    const region = image.inputRegion?.(shape);
    return { input, ...(region ? { region } : {}), ...(display ? { display: toDisplay(image) } : {}) };
  };
}
