import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../core/errors.ts';

/** One validated row of a dataset's labels.csv; paths are absolute. */
export interface LabelRow {
  /** The path as written in labels.csv (relative to the dataset folder). */
  name: string;
  file: string;
  label: number;
  mask: string | null;
}

/** Splits one CSV line on commas, honouring double-quoted fields ("" is a quote). */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  out.push(cur.trim());
  return out;
}

/**
 * Reads and validates `<dir>/labels.csv` (header `file,label[,mask]`): every file and mask
 * exists inside the folder, labels are non-negative integers, no file is listed twice.
 * Errors are UserErrors naming the csv and the line (the header is line 1).
 */
export function readLabels(dir: string): LabelRow[] {
  const csv = path.join(dir, 'labels.csv');
  if (!existsSync(csv)) throw new UserError(`${dir}: no labels.csv (a dataset is a folder of images plus labels.csv with header file,label[,mask])`);
  const lines = readFileSync(csv, 'utf8').replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? '').map((h) => h.toLowerCase());
  const hasMask = header.length === 3 && header[2] === 'mask';
  if (header[0] !== 'file' || header[1] !== 'label' || (header.length === 3 && !hasMask) || header.length > 3 || header.length < 2) {
    throw new UserError(`${csv} line 1: header must be file,label or file,label,mask (got ${lines[0]?.trim() || 'nothing'})`);
  }
  const root = path.resolve(dir);
  const seen = new Map<string, number>();
  const rows: LabelRow[] = [];
  lines.slice(1).forEach((line, i) => {
    const at = `${csv} line ${i + 2}`;
    if (line.trim() === '') return;
    const cells = splitCsvLine(line);
    if (cells.length < 2 || cells.length > header.length) throw new UserError(`${at}: expected ${header.length} fields (${header.join(',')}), got ${cells.length}`);
    const [name, labelText, maskName] = cells;
    const file = inside(root, name, at, 'file');
    if (!/^\d+$/.test(labelText)) throw new UserError(`${at}: label '${labelText}' is not a non-negative integer`);
    const first = seen.get(file);
    if (first !== undefined) throw new UserError(`${at}: ${name} is already listed on line ${first}`);
    seen.set(file, i + 2);
    const mask = hasMask && maskName ? inside(root, maskName, at, 'mask') : null;
    rows.push({ name, file, label: Number(labelText), mask });
  });
  if (rows.length === 0) throw new UserError(`${csv}: no rows after the header`);
  return rows;
}

function inside(root: string, name: string, at: string, what: string): string {
  if (!name) throw new UserError(`${at}: empty ${what} name`);
  const p = path.resolve(root, name);
  if (p !== root && !p.startsWith(root + path.sep)) throw new UserError(`${at}: ${what} ${name} lies outside the dataset folder`);
  if (!existsSync(p) || !statSync(p).isFile()) throw new UserError(`${at}: ${what} ${name} does not exist`);
  return p;
}
