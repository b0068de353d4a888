// Types for jpeg-lossless-decoder-js, whose package names a .d.ts it does not ship.
declare module 'jpeg-lossless-decoder-js' {
  /** A JPEG lossless (ITU-T T.81 process 14) decoder. */
  export class Decoder {
    constructor(buffer?: ArrayBuffer, numBytes?: number);
    /** Decodes the JPEG stream; returns pixel-interleaved samples, one or two bytes each. */
    decode(buffer: ArrayBuffer, offset?: number, length?: number, numBytes?: number): Uint8Array | Uint16Array;
  }
}
