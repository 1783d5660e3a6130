// Key-controlled protection (docs/memop-semantics.md §8.7; Principles of Operation, "Key-Controlled Protection").
// An access with key K to a page whose storage key has access-control bits ACC and
// fetch-protection bit F is allowed when K is 0, K equals ACC, or it is a fetch and F is 0.
// Two overrides widen that for logical accesses only:
//  - fetch-protection override (CR0 bit 38): fetches from effective 0..2047 ignore F;
//  - storage-protection override (CR0 bit 39): ACC 9 lets any key fetch and store.
import { STORAGE_KEY } from '../abi/constants.js';

// A module constant, not a property read: the storage keys' range check runs this per page.
const FETCH_PROTECTION = STORAGE_KEY.FETCH_PROTECTION;

export type AccessMode = 'fetch' | 'store';

/** The rule that decided a key-controlled-protection check. */
export type KeyRule =
  | 'key-zero'
  | 'acc-match'
  | 'not-fetch-protected'
  | 'fetch-protection-override'
  | 'storage-protection-override'
  | 'refused';

export function accessControl(storageKey: number): number {
  return storageKey >> 4;
}

export function isFetchProtected(storageKey: number): boolean {
  return (storageKey & STORAGE_KEY.FETCH_PROTECTION) !== 0;
}

/** The rule without overrides: absolute (vm) accesses and cmpxchg use only this. */
export function keyAllowsAccess(storageKey: number, accessKey: number, isStore: boolean): boolean {
  return (
    accessKey === 0 ||
    storageKey >> 4 === accessKey ||
    (!isStore && (storageKey & FETCH_PROTECTION) === 0)
  );
}

export interface OverrideContext {
  /** CR0 bit 38 set and not (DAT on with a private-space ASCE). */
  fetchProtectionOverride: boolean;
  /** CR0 bit 39 set. */
  storageProtectionOverride: boolean;
}

/** True when the fetch of [ea, ea+length) lies inside 0..2047, where the override applies. */
export function inFetchOverrideArea(effectiveAddress: number, length: number): boolean {
  return effectiveAddress < 2048 && effectiveAddress + length <= 2048;
}

/**
 * Which rule decides an access; 'refused' when none allows it. `effectiveAddress` and
 * `length` describe the fragment (used by the fetch-protection override only).
 */
export function decideKeyRule(
  storageKey: number,
  accessKey: number,
  mode: AccessMode,
  overrides: OverrideContext | null,
  effectiveAddress = 0,
  length = 1,
): KeyRule {
  const isStore = mode === 'store';
  if (accessKey === 0) return 'key-zero';
  if (storageKey >> 4 === accessKey) return 'acc-match';
  if (!isStore && !isFetchProtected(storageKey)) return 'not-fetch-protected';
  if (overrides !== null) {
    if (!isStore && overrides.fetchProtectionOverride && inFetchOverrideArea(effectiveAddress, length)) {
      return 'fetch-protection-override';
    }
    if (overrides.storageProtectionOverride && storageKey >> 4 === 9) return 'storage-protection-override';
  }
  return 'refused';
}

const hex = (n: number | bigint, width = 2) => `0x${n.toString(16).padStart(width, '0')}`;

/** A sentence saying why an access with `accessKey` to a page with `storageKey` is or is not allowed. */
export function describeKeyRule(
  rule: KeyRule,
  storageKey: number,
  accessKey: number,
  mode: AccessMode,
  where: string,
): string {
  const acc = storageKey >> 4;
  const f = isFetchProtected(storageKey) ? 'F set' : 'F clear';
  const head = `${mode} with key ${accessKey} ${mode === 'fetch' ? 'from' : 'to'} ${where}`;
  switch (rule) {
    case 'key-zero':
      return `${head}: allowed, access key 0 matches every storage key`;
    case 'acc-match':
      return `${head}: allowed, access key equals ACC ${acc} of storage key ${hex(storageKey)}`;
    case 'not-fetch-protected':
      return `${head}: allowed, storage key ${hex(storageKey)} has ${f} so any key may fetch`;
    case 'fetch-protection-override':
      return `${head}: allowed by fetch-protection override (CR0 bit 38) for effective addresses 0..2047`;
    case 'storage-protection-override':
      return `${head}: allowed by storage-protection override (CR0 bit 39) because ACC is 9`;
    case 'refused':
      return mode === 'store'
        ? `${head}: storage key ${hex(storageKey)} has ACC ${acc}, which is neither 0 nor the access key`
        : `${head}: storage key ${hex(storageKey)} has ACC ${acc} and ${f}`;
  }
}
