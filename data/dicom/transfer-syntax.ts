/**
 * DICOM transfer syntaxes fedkd reads (PS3.5 §10, PS3.6 Annex A), and how each one's
 * pixel data is stored: native (little or big endian) or encapsulated with a codec.
 */

/** How a transfer syntax's pixel data must be decoded. */
export type PixelEncoding =
  | 'native'
  | 'native-big-endian'
  | 'rle'
  | 'jpeg-baseline'
  | 'jpeg-lossless'
  | 'jpeg-ls'
  | 'jpeg-2000';

/** One supported transfer syntax. */
export interface TransferSyntax {
  uid: string;
  name: string;
  encoding: PixelEncoding;
}

const TABLE: readonly TransferSyntax[] = [
  { uid: '1.2.840.10008.1.2', name: 'Implicit VR Little Endian', encoding: 'native' },
  { uid: '1.2.840.10008.1.2.1', name: 'Explicit VR Little Endian', encoding: 'native' },
  { uid: '1.2.840.10008.1.2.1.99', name: 'Deflated Explicit VR Little Endian', encoding: 'native' },
  { uid: '1.2.840.10008.1.2.2', name: 'Explicit VR Big Endian', encoding: 'native-big-endian' },
  { uid: '1.2.840.10008.1.2.5', name: 'RLE Lossless', encoding: 'rle' },
  { uid: '1.2.840.10008.1.2.4.50', name: 'JPEG Baseline (Process 1)', encoding: 'jpeg-baseline' },
  { uid: '1.2.840.10008.1.2.4.51', name: 'JPEG Extended (Process 2 & 4)', encoding: 'jpeg-baseline' },
  { uid: '1.2.840.10008.1.2.4.57', name: 'JPEG Lossless (Process 14)', encoding: 'jpeg-lossless' },
  { uid: '1.2.840.10008.1.2.4.70', name: 'JPEG Lossless SV1 (Process 14)', encoding: 'jpeg-lossless' },
  { uid: '1.2.840.10008.1.2.4.80', name: 'JPEG-LS Lossless', encoding: 'jpeg-ls' },
  { uid: '1.2.840.10008.1.2.4.81', name: 'JPEG-LS Near-Lossless', encoding: 'jpeg-ls' },
  { uid: '1.2.840.10008.1.2.4.90', name: 'JPEG 2000 Lossless', encoding: 'jpeg-2000' },
  { uid: '1.2.840.10008.1.2.4.91', name: 'JPEG 2000', encoding: 'jpeg-2000' },
];

/** UID of Deflated Explicit VR Little Endian: the data set after the meta header is raw-deflated. */
export const DEFLATED_UID = '1.2.840.10008.1.2.1.99';

/** UID of Explicit VR Big Endian (retired but still met in archives). */
export const BIG_ENDIAN_UID = '1.2.840.10008.1.2.2';

/** UID of Explicit VR Little Endian. */
export const EXPLICIT_LITTLE_UID = '1.2.840.10008.1.2.1';

/** UID of Implicit VR Little Endian, the default when a file has no meta header. */
export const IMPLICIT_LITTLE_UID = '1.2.840.10008.1.2';

/** The supported transfer syntax with this UID, or undefined when fedkd cannot decode it. */
export function transferSyntax(uid: string): TransferSyntax | undefined {
  return TABLE.find((t) => t.uid === uid);
}

/** Every supported transfer syntax, for help texts and tests. */
export function supportedTransferSyntaxes(): readonly TransferSyntax[] {
  return TABLE;
}
