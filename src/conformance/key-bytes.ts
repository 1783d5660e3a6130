// Comparing two step results that may differ only in storage-key bytes: the shape every
// key-related explanation of a differential disagreement shares (profile-differences.ts,
// reference-recording.ts).
import type { StepResult } from './scenario.js';

/** Result fields that hold key bytes as hex pairs. */
const KEY_BYTE_FIELDS = new Set(['keys', 'keysAfter']);

function hexBytes(value: unknown): number[] | null {
  if (typeof value !== 'string' || !/^(?:[0-9a-f]{2})+$/.test(value)) return null;
  return value.match(/../g)!.map((pair) => parseInt(pair, 16));
}

function keyopAnswer(value: unknown): number | null {
  return typeof value === 'string' && /^0x[0-9a-f]+$/.test(value) ? parseInt(value, 16) : null;
}

/**
 * True when `a` and `b` differ, and only in key bytes, each differing pair of which
 * `allowed(byteOfA, byteOfB)` accepts: the `keys` and `keysAfter` hex bytes, and with
 * `keyop` also a KEYOP's answer (`key`), which holds a key or R and C in their key positions.
 * Free-text messages never count.
 */
export function differOnlyInKeyBytes(a: StepResult, b: StepResult, allowed: (x: number, y: number) => boolean, keyop = false): boolean {
  let differ = false;
  for (const field of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (field === 'message' || JSON.stringify(a[field]) === JSON.stringify(b[field])) continue;
    if (KEY_BYTE_FIELDS.has(field)) {
      const x = hexBytes(a[field]);
      const y = hexBytes(b[field]);
      if (x === null || y === null || x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i] && !allowed(x[i]!, y[i]!)) return false;
    } else if (keyop && field === 'key') {
      const x = keyopAnswer(a.key);
      const y = keyopAnswer(b.key);
      if (x === null || y === null || (x !== y && !allowed(x, y))) return false;
    } else {
      return false;
    }
    differ = true;
  }
  return differ;
}
