import { createHash } from 'node:crypto';

/**
 * Deterministic DICOM UIDs under the `2.25` root (PS3.5 §B.2: a UUID written as one
 * decimal integer). The UUID is name-based: the first 128 bits of sha256(name) with the
 * version and variant bits of an RFC 9562 version-8 UUID, so one name always gives one UID
 * and different names collide with negligible probability.
 */
export function uidFromName(name: string): string {
  const b = createHash('sha256').update(name).digest().subarray(0, 16);
  b[6] = (b[6] & 0x0f) | 0x80; // version 8 (custom, name-based)
  b[8] = (b[8] & 0x3f) | 0x80; // RFC 9562 variant
  const n = BigInt(`0x${b.toString('hex')}`);
  return `2.25.${n.toString(10)}`;
}

/** The Implementation Class UID fedkd writes into every file's meta header. */
export const IMPLEMENTATION_CLASS_UID = uidFromName('fedkd implementation class');

/** Implementation Version Name (0002,0013): at most 16 characters. */
export const IMPLEMENTATION_VERSION_NAME = 'FEDKD_SYNTH_1';
