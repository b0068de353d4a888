/**
 * The DICOM attributes of one synthetic radiograph: patient, study, series and instance
 * identity (UIDs derived from the seed), equipment, and the Image Pixel, Modality LUT and
 * VOI LUT modules that tell a reader how to interpret the stored values.
 */
import type { DicomElement } from './dicom-writer.ts';
import type { StoredImage } from './scanner.ts';
import type { SiteProfile } from './sites.ts';
import { uidFromName } from './uid.ts';

/** Identity of one image: patient, visit and where it comes from. */
export interface ImageIdentity {
  seed: number;
  site: SiteProfile;
  /** Index of the image within its site. */
  index: number;
  patientSex: 'F' | 'M';
  patientAge: number;
  /** Study date as YYYYMMDD and time as HHMMSS. */
  studyDate: string;
  studyTime: string;
  /** Field of view in millimetres (square). */
  fieldOfViewMm: number;
}

/** Formats a number as a DICOM Decimal String (at most 16 characters). */
export function formatDs(v: number): string {
  const s = String(Number(v.toPrecision(10)));
  if (s.length > 16) throw new Error(`DS value ${v} too long`);
  return s;
}

/** UIDs of an image's study, series and instance: a name-based UUID of seed, site and index. */
export function imageUids(seed: number, site: string, index: number): { study: string; series: string; instance: string } {
  const base = `fedkd-synth/${seed}/${site}/${index}`;
  return { study: uidFromName(`${base}/study`), series: uidFromName(`${base}/series`), instance: uidFromName(`${base}/instance`) };
}

/** The patient ID of an image: site letter(s) and a zero-padded index. */
export function patientId(site: string, index: number): string {
  return `${site.replace('site-', '').toUpperCase()}${String(index + 1).padStart(6, '0')}`;
}

/** All elements of the data set except File Meta Information and Pixel Data. */
export function imageElements(id: ImageIdentity, img: StoredImage): DicomElement[] {
  const { site } = id;
  const uids = imageUids(id.seed, site.name, id.index);
  const pid = patientId(site.name, id.index);
  const spacing = `${formatDs(id.fieldOfViewMm / img.rows)}\\${formatDs(id.fieldOfViewMm / img.columns)}`;
  const els: DicomElement[] = [
    { tag: 0x00080005, vr: 'CS', value: 'ISO_IR 100' },
    { tag: 0x00080008, vr: 'CS', value: 'ORIGINAL\\PRIMARY' },
    { tag: 0x00080016, vr: 'UI', value: site.sopClassUid },
    { tag: 0x00080018, vr: 'UI', value: uids.instance },
    { tag: 0x00080020, vr: 'DA', value: id.studyDate },
    { tag: 0x00080023, vr: 'DA', value: id.studyDate },
    { tag: 0x00080030, vr: 'TM', value: id.studyTime },
    { tag: 0x00080033, vr: 'TM', value: id.studyTime },
    { tag: 0x00080050, vr: 'SH', value: `ACC${pid}` },
    { tag: 0x00080060, vr: 'CS', value: site.modality },
    { tag: 0x00080070, vr: 'LO', value: site.manufacturer },
    { tag: 0x00080080, vr: 'LO', value: site.institution },
    { tag: 0x00080090, vr: 'PN', value: '' },
    { tag: 0x00081090, vr: 'LO', value: site.model },
    { tag: 0x00100010, vr: 'PN', value: `SYNTHETIC^${pid}` },
    { tag: 0x00100020, vr: 'LO', value: pid },
    { tag: 0x00100030, vr: 'DA', value: '' },
    { tag: 0x00100040, vr: 'CS', value: id.patientSex },
    { tag: 0x00101010, vr: 'AS', value: `${String(id.patientAge).padStart(3, '0')}Y` },
    { tag: 0x00180015, vr: 'CS', value: 'CHEST' },
    { tag: 0x00181164, vr: 'DS', value: spacing },
    { tag: 0x00185101, vr: 'CS', value: 'PA' },
    { tag: 0x0020000d, vr: 'UI', value: uids.study },
    { tag: 0x0020000e, vr: 'UI', value: uids.series },
    { tag: 0x00200010, vr: 'SH', value: String(id.index + 1) },
    { tag: 0x00200011, vr: 'IS', value: '1' },
    { tag: 0x00200013, vr: 'IS', value: '1' },
    { tag: 0x00200020, vr: 'CS', value: 'L\\F' },
    { tag: 0x00280002, vr: 'US', value: 1 },
    { tag: 0x00280004, vr: 'CS', value: img.photometric },
    { tag: 0x00280010, vr: 'US', value: img.rows },
    { tag: 0x00280011, vr: 'US', value: img.columns },
    { tag: 0x00280030, vr: 'DS', value: spacing },
    { tag: 0x00280100, vr: 'US', value: img.bitsAllocated },
    { tag: 0x00280101, vr: 'US', value: img.bitsStored },
    { tag: 0x00280102, vr: 'US', value: img.highBit },
    { tag: 0x00280103, vr: 'US', value: img.pixelRepresentation },
    { tag: 0x00281050, vr: 'DS', value: formatDs(img.windowCenter) },
    { tag: 0x00281051, vr: 'DS', value: formatDs(img.windowWidth) },
    { tag: 0x00281052, vr: 'DS', value: formatDs(img.rescaleIntercept) },
    { tag: 0x00281053, vr: 'DS', value: formatDs(img.rescaleSlope) },
    { tag: 0x00281054, vr: 'LO', value: 'US' },
    { tag: 0x00282110, vr: 'CS', value: '00' },
  ];
  if (site.modality === 'DX') els.push({ tag: 0x00080068, vr: 'CS', value: 'FOR PRESENTATION' });
  return els;
}
