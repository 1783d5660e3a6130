// Command-line helpers: number arguments, usage errors, tables.

export function parseBigInt(text: string, name: string): bigint {
  const t = text.trim();
  if (!/^(0x[0-9a-f]+|0b[01]+|0o[0-7]+|[0-9]+)$/i.test(t)) throw new UsageError(`${name}: "${text}" is not a number (decimal or 0x hex)`);
  return BigInt(t);
}

export function parseNumber(text: string, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = parseBigInt(text, name);
  if (v < BigInt(min) || v > BigInt(max)) throw new UsageError(`${name}: ${text} is outside ${min}..${max}`);
  return Number(v);
}

/** A mistake in the command line: reported in one line, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A plain text table with left-aligned first column and right-aligned numbers. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === 0 || Number.isNaN(Number(c)) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}
