// Small text helpers shared by the CLI commands: hex numbers, tables, byte strings.
import { createHash } from 'node:crypto';

export const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

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

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function fromHex(text: string, name = 'hex'): Uint8Array {
  if (!/^([0-9a-f]{2})*$/i.test(text)) throw new UsageError(`${name}: "${text.slice(0, 40)}" is not an even-length hex string`);
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/** Short, stable identity of a byte range: hex when small, else length + sha256 prefix. */
export function digest(bytes: Uint8Array): string {
  if (bytes.length <= 32) return toHex(bytes);
  const h = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  return `${bytes.length}B:sha256:${h}`;
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

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}
