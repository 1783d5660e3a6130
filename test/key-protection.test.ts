// The key-controlled-protection rule (docs/memop-semantics.md §8.7) over its whole input space, against the
// architecture's statement of it, plus the sentences that explain a decision.
import { describe, expect, it } from 'vitest';
import { decideKeyRule, describeKeyRule, keyAllowsAccess, type AccessMode } from '../src/emulated/key-protection.js';

const modes: AccessMode[] = ['fetch', 'store'];

describe('key-controlled protection', () => {
  it('without overrides: key 0, ACC match, or a fetch from a page without F', () => {
    for (let storageKey = 0; storageKey < 256; storageKey += 2) {
      for (let key = 0; key < 16; key++) {
        for (const mode of modes) {
          const acc = storageKey >> 4;
          const f = (storageKey & 8) !== 0;
          const expected = key === 0 || key === acc || (mode === 'fetch' && !f);
          expect(keyAllowsAccess(storageKey, key, mode === 'store')).toBe(expected);
          expect(decideKeyRule(storageKey, key, mode, null) !== 'refused').toBe(expected);
        }
      }
    }
  });

  it('fetch-protection override: only fetches wholly inside effective 0..2047', () => {
    const fpo = { fetchProtectionOverride: true, storageProtectionOverride: false };
    expect(decideKeyRule(0x18, 2, 'fetch', fpo, 0, 2048)).toBe('fetch-protection-override');
    expect(decideKeyRule(0x18, 2, 'fetch', fpo, 2047, 1)).toBe('fetch-protection-override');
    expect(decideKeyRule(0x18, 2, 'fetch', fpo, 0, 2049)).toBe('refused');
    expect(decideKeyRule(0x18, 2, 'fetch', fpo, 2048, 1)).toBe('refused');
    expect(decideKeyRule(0x18, 2, 'store', fpo, 0, 16)).toBe('refused');
  });

  it('storage-protection override: ACC 9 admits every key for fetch and store', () => {
    const spo = { fetchProtectionOverride: false, storageProtectionOverride: true };
    for (let key = 1; key < 16; key++) {
      expect(decideKeyRule(0x98, key, 'store', spo)).toBe(key === 9 ? 'acc-match' : 'storage-protection-override');
      expect(decideKeyRule(0x98, key, 'fetch', spo)).toBe(key === 9 ? 'acc-match' : 'storage-protection-override');
      expect(decideKeyRule(0x88, key, 'store', spo)).toBe(key === 8 ? 'acc-match' : 'refused');
    }
  });

  it('explains a refusal with the key, the storage key, ACC and F', () => {
    const text = describeKeyRule('refused', 0x38, 5, 'fetch', 'page 0x3000');
    expect(text).toBe('fetch with key 5 from page 0x3000: storage key 0x38 has ACC 3 and F set');
    expect(describeKeyRule('refused', 0x30, 5, 'store', 'page 0x3000')).toMatch(/ACC 3, which is neither 0 nor the access key/);
    expect(describeKeyRule('storage-protection-override', 0x98, 2, 'store', 'page 0x0')).toMatch(/CR0 bit 39/);
  });
});
