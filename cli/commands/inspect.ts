import type { Command } from 'commander';
import { decodeImageFile, pixelStats } from '../../data/decode.ts';
import { transferSyntax } from '../../data/dicom/transfer-syntax.ts';
import { printJson } from '../run.ts';

/** `fedkd inspect FILE [--json]`: what a site's image file holds, and its value range after the modality LUT. */
export function register(program: Command): void {
  program
    .command('inspect')
    .description('show what an image file (DICOM, PNG, JPEG, BMP, TIFF) holds')
    .argument('<file>', 'the image file')
    .option('--json', 'print one JSON line')
    .action(async (file: string, opts: { json?: boolean }) => {
      const img = await decodeImageFile(file);
      const s = pixelStats(img);
      const summary = {
        rows: img.rows,
        columns: img.columns,
        frames: img.frames,
        samplesPerPixel: img.samplesPerPixel,
        photometric: img.photometric,
        transferSyntax: img.transferSyntax,
        bitsStored: img.bitsStored,
        min: s.min,
        max: s.max,
        mean: s.mean,
      };
      if (opts.json) return printJson(summary);
      const ts = img.transferSyntax ? `${img.transferSyntax} (${transferSyntax(img.transferSyntax)?.name ?? '?'})` : img.format.toUpperCase();
      const lines = [
        `file            ${file}`,
        `format          ${ts}`,
        `size            ${img.columns}×${img.rows}, ${img.frames} frame(s), ${img.samplesPerPixel} sample(s)/pixel`,
        `photometric     ${img.photometric}${img.invert ? ' (inverted for display and training)' : ''}`,
        `bits            ${img.bitsStored} stored of ${img.bitsAllocated}, ${img.signed ? 'signed' : 'unsigned'}`,
        `modality LUT    slope ${img.rescale.slope}, intercept ${img.rescale.intercept}`,
        `windows         ${img.windows.map((w) => `C ${w.center} / W ${w.width}`).join('; ') || 'none'}`,
        `pixel spacing   ${img.pixelSpacing ? `${img.pixelSpacing.join(' × ')} mm` : 'unknown'}`,
        `values          min ${s.min}, max ${s.max}, mean ${s.mean.toFixed(3)}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
