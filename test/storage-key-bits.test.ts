// The emulated model's reference/change bits and KEYOP where the conformance cases cannot go:
// behaviour only the model can promise (a VM that never enabled keys), the public API's
// argument checks, and the profile switches one by one.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KEYOP, PAGE_SIZE, STORAGE_KEY } from '../src/abi/constants.js';
import { openBackend } from '../src/index.js';
import { StorageKeys } from '../src/emulated/storage-keys.js';
import { keyAllowsAccess } from '../src/emulated/key-protection.js';

const MiB = 1n << 20n;
const R = STORAGE_KEY.REFERENCE;
const C = STORAGE_KEY.CHANGE;

describe('a VM that never enabled storage keys (newest, observed on 7.2)', () => {
  it('a fresh page reads 0x06 through ISKE after its first access, read or write; KEYOP keeps keys disabled', () => {
    using backend = openBackend({ kind: 'emulated', profile: 'newest' });
    using vm = backend.createVm({ memorySize: MiB });
    expect(vm.insertStorageKey(0x10000)).toBe(0);
    vm.read(0x10000, 8);
    vm.write(0x20000, Uint8Array.of(1));
    expect(vm.insertStorageKey(0x10000)).toBe(R | C);
    expect(vm.insertStorageKey(0x20000)).toBe(R | C);
    expect(vm.insertStorageKey(0x30000)).toBe(0);
    expect(vm.getStorageKeys(0, 1)).toBeNull();
  });

  it('once keys are enabled a read sets only R (0x30 → 0x34) and a write R and C (→ 0x36)', () => {
    using backend = openBackend({ kind: 'emulated', profile: 'newest' });
    using vm = backend.createVm({ memorySize: MiB });
    vm.setStorageKeys(0x10, Uint8Array.of(0x30, 0x30));
    vm.read(0x10000, 8);
    vm.write(0x11000, Uint8Array.of(1));
    expect([...vm.getStorageKeys(0x10, 2)!]).toEqual([0x34, 0x36]);
  });
});

describe('R and C per profile', () => {
  it('a check-only access leaves the keys alone; a read past the end of memory fetched the page before it', () => {
    using backend = openBackend({ kind: 'emulated', profile: 'newest' });
    using vm = backend.createVm({ memorySize: MiB });
    vm.setStorageKeys(0, new Uint8Array(256));
    expect(vm.check(0, 3 * PAGE_SIZE, 'write', { key: 0 })).toBe(0);
    expect(() => vm.read(MiB - 8n, 16)).toThrow(/ADDRESSING/);
    expect([...vm.getStorageKeys(0, 3)!]).toEqual([0, 0, 0]);
    // The read across the end of memory fetched its first page before failing.
    expect(vm.getStorageKeys(255, 1)![0]).toBe(R);
  });
});

describe('StorageKeys.recordAccess', () => {
  it('marks exactly [start, end), across 1 MiB chunks, and makes a chunk only where it marks', () => {
    const keys = new StorageKeys({ enabled: true });
    keys.set(300, 0x50);
    keys.recordAccess(254, 258, false);
    keys.recordAccess(300, 301, true);
    expect([253, 254, 255, 256, 257, 258].map((p) => keys.get(p))).toEqual([0, R, R, R, R, 0]);
    expect(keys.get(300)).toBe(0x50 | R | C);
    expect(keys.resetReference(300)).toBe(R | C);
    expect(keys.get(300)).toBe(0x50 | C);
    expect(keys.resetReference(300)).toBe(C);
  });
});

describe('Vm.keyop and its helpers: arguments are checked before the handle is asked', () => {
  it('operation and key are bytes, guestAddr a u64; setStorageKey refuses the reserved bit', () => {
    using backend = openBackend({ kind: 'emulated', profile: 'newest' });
    using vm = backend.createVm({ memorySize: MiB });
    expect(() => vm.keyop(256, 0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => vm.keyop(-1, 0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => vm.keyop(KEYOP.ISKE, -1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => vm.keyop(KEYOP.ISKE, 1n << 64n)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => vm.keyop(KEYOP.ISKE, '0' as unknown as number)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => vm.keyop(KEYOP.SSKE, 0, 1.5)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => vm.setStorageKey(0, 0x31)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(vm.insertStorageKey(0)).toBe(0); // nothing above changed the key
    vm.close();
    expect(() => vm.insertStorageKey(0)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it('RRBE of the API returns R and C in key positions; the guest condition code is that >> 1', () => {
    using backend = openBackend({ kind: 'emulated', profile: 'newest' });
    using vm = backend.createVm({ memorySize: MiB });
    vm.setStorageKey(0x5000, 0x16);
    expect(vm.resetReferenceBit(0x5fff)).toBe(R | C);
    expect(vm.resetReferenceBit(0x5000) >> 1).toBe(1);
  });
});

describe('StorageKeys.accessRange and accessPage follow the key rule page by page', () => {
  // The range check takes four pages a step where it can; over random keys, ranges and access
  // keys it must refuse at the same page, and leave the same R/C marks, as a walk that
  // applies keyAllowsAccess to one page after the other.
  it('for random keys, ranges and access keys', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(0x00, 0x08, 0x30, 0x38, 0x34, 0x36, 0x90, 0xf8, 0x3e), { minLength: 600, maxLength: 600 }),
        fc.integer({ min: 0, max: 599 }),
        fc.integer({ min: 1, max: 300 }),
        fc.constantFrom(0, 3, 9, 15),
        fc.boolean(),
        fc.boolean(),
        (initial, start, length, accessKey, isStore, onePage) => {
          const end = Math.min(600, start + (onePage ? 1 : length));
          const keys = new StorageKeys({ enabled: true });
          keys.writeFrom(0, Uint8Array.from(initial));
          const expected = Uint8Array.from(initial);
          let refused = -1;
          for (let pfn = start; pfn < end; pfn++) {
            if (!keyAllowsAccess(expected[pfn]!, accessKey, isStore)) {
              refused = pfn;
              break;
            }
            expected[pfn] = expected[pfn]! | (isStore ? R | C : R);
          }
          if (onePage) expect(keys.accessPage(start, accessKey, isStore)).toBe(refused < 0);
          else expect(keys.accessRange(start, end, accessKey, isStore)).toBe(refused);
          const after = new Uint8Array(600);
          keys.readInto(0, after);
          expect([...after]).toEqual([...expected]);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
