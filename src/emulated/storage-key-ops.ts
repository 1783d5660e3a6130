// KVM_S390_GET_SKEYS / KVM_S390_SET_SKEYS (docs/memop-semantics.md §9), including the errno order and the
// partial-set behaviour of each profile, and KVM_S390_KEYOP of the newest kernels.
import { ERRNO, GET_SKEYS_NONE, KEYOP, PAGE_SHIFT, SKEYS_MAX, STORAGE_KEY } from '../abi/constants.js';
import type { AbsoluteMachine } from './absolute-memop.js';
import { byteLengthOf, plainView } from '../typed-arrays.js';

/** How many of the `count` gfns from `startGfn` on lie inside guest memory. */
function keysInMemory(m: AbsoluteMachine, startGfn: bigint, count: number): number {
  const pageCount = BigInt(m.storage.pageCount);
  return startGfn >= pageCount ? 0 : Math.min(count, Number(pageCount - startGfn));
}

export function getStorageKeys(m: AbsoluteMachine, startGfn: bigint, count: number, out: Uint8Array, flags: number): number {
  if (flags !== 0) return -ERRNO.EINVAL;
  if (!m.keys.usesKeys) return GET_SKEYS_NONE;
  if (count < 1 || count > SKEYS_MAX) return -ERRNO.EINVAL;
  if (keysInMemory(m, startGfn, count) < count) return -ERRNO.EFAULT;
  m.keys.readInto(Number(startGfn), out.subarray(0, count));
  return 0;
}

export function setStorageKeys(m: AbsoluteMachine, startGfn: bigint, keys: Uint8Array, flags: number): number {
  if (flags !== 0) return -ERRNO.EINVAL;
  // A detached buffer holds 0 keys. Nothing is looked up on `keys` itself (see typed-arrays.ts).
  const count = byteLengthOf(keys);
  if (count < 1 || count > SKEYS_MAX) return -ERRNO.EINVAL;
  // Key handling is switched on before the keys are looked at, so it stays on even when
  // this call then fails.
  m.keys.usesKeys = true;
  const inMemory = keysInMemory(m, startGfn, count);
  const start = Number(startGfn);
  // Keys are stored a chunk at a time; which prefix gets stored before an error, and which
  // error wins, is the per-key order of each profile.
  if (m.switches.setSkeysCheckAllFirst) {
    // Every reserved bit is refused before any key changes; then keys are set in order
    // until the first gfn outside memory.
    if (firstReserved(keys, count) < count) return -ERRNO.EINVAL;
    writeKeys(m, start, plainView(keys, 0, inMemory < count ? inMemory : count));
    return inMemory < count ? -ERRNO.EFAULT : 0;
  }
  // One key at a time: EFAULT at the first gfn outside memory, EINVAL at the first reserved bit.
  const reserved = firstReserved(keys, inMemory);
  const stored = Math.min(reserved, inMemory);
  writeKeys(m, start, plainView(keys, 0, stored));
  if (stored === count) return 0;
  return stored === inMemory ? -ERRNO.EFAULT : -ERRNO.EINVAL;
}

/** Stores SET_SKEYS bytes as the profile's kernel leaves them. */
function writeKeys(m: AbsoluteMachine, startPfn: number, keys: Uint8Array): void {
  if (m.switches.setSkeysDropsKeyWithoutPageTable) writeKeysDroppingUntabled(m, startPfn, keys);
  else m.keys.writeFrom(startPfn, keys);
}

/**
 * The classic kernels' SET_SKEYS loop: a non-zero key for a page whose host segment has no page
 * table fails, the page is faulted in (the segment gets its table) and the loop goes on to the
 * next key, so that key is lost; key 0 there needs no table and changes nothing.
 */
function writeKeysDroppingUntabled(m: AbsoluteMachine, startPfn: number, keys: Uint8Array): void {
  let from = 0;
  for (let i = 0; i < keys.length; i++) {
    const pfn = startPfn + i;
    if (m.storage.segmentHasTable(pfn)) continue;
    if (from < i) m.keys.writeFrom(startPfn + from, keys.subarray(from, i));
    if (keys[i] !== 0) m.storage.touchSegment(pfn);
    from = i + 1;
  }
  if (from < keys.length) m.keys.writeFrom(startPfn + from, keys.subarray(from));
}

/**
 * KVM_S390_KEYOP: the key byte written back, or -errno. The operation is judged first; an
 * address outside guest memory is EFAULT. The call neither enables key handling for the VM
 * nor counts as an access of the page.
 */
export function keyop(m: AbsoluteMachine, operation: number, guestAddr: bigint, key: number): number {
  if (!m.switches.keyop) return -ERRNO.ENOTTY;
  if (operation !== KEYOP.ISKE && operation !== KEYOP.RRBE && operation !== KEYOP.SSKE) return -ERRNO.EINVAL;
  const gfn = guestAddr >> BigInt(PAGE_SHIFT);
  if (gfn >= BigInt(m.storage.pageCount)) return -ERRNO.EFAULT;
  const pfn = Number(gfn);
  switch (operation) {
    case KEYOP.ISKE:
      return m.keys.get(pfn);
    case KEYOP.RRBE:
      return m.keys.resetReference(pfn);
    default: {
      const previous = m.keys.get(pfn);
      m.keys.set(pfn, key & ~STORAGE_KEY.RESERVED);
      return previous;
    }
  }
}

/** Index of the first of keys[0..limit) with the reserved bit set, or `limit`. */
function firstReserved(keys: Uint8Array, limit: number): number {
  for (let i = 0; i < limit; i++) if (keys[i]! & STORAGE_KEY.RESERVED) return i;
  return limit;
}

