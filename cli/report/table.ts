/** A table as rows of cells, rendered for terminals (aligned text), Markdown and CSV. */
export interface Table {
  columns: string[];
  rows: (string | number)[][];
}

function cell(v: string | number): string {
  return typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : v;
}

/** Aligned plain text, for the terminal. */
export function tableText(t: Table): string {
  const cells = [t.columns, ...t.rows.map((r) => r.map(cell))];
  const widths = t.columns.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** A GitHub-flavoured Markdown table. */
export function tableMarkdown(t: Table): string {
  const row = (r: string[]): string => `| ${r.join(' | ')} |`;
  return [row(t.columns), row(t.columns.map(() => '---')), ...t.rows.map((r) => row(r.map(cell)))].join('\n');
}

/** RFC 4180 CSV: fields with commas, quotes or newlines are quoted. */
export function tableCsv(t: Table): string {
  const q = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return [t.columns, ...t.rows.map((r) => r.map((v) => (typeof v === 'number' ? String(v) : v)))].map((r) => r.map(q).join(',')).join('\n') + '\n';
}
