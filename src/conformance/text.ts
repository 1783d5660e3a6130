// Text forms of numbers and bytes shared by the scenario format, the differential reports and
// the CLI.
import { createHash } from 'node:crypto';
import { ArgumentRangeError } from '../errors.js';

export const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function fromHex(text: string, name = 'hex'): Uint8Array {
  if (!/^([0-9a-f]{2})*$/i.test(text)) throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `${name}: "${text.slice(0, 40)}" is not an even-length hex string`);
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/** Short, stable identity of a byte range: hex when small, else length + sha256 prefix. */
export function digest(bytes: Uint8Array): string {
  if (bytes.length <= 32) return toHex(bytes);
  const h = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  return `${bytes.length}B:sha256:${h}`;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}
