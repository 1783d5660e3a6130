// KVM_S390_GET_SKEYS / KVM_S390_SET_SKEYS (spec §9), including the errno order and the
// partial-set behaviour of each profile.
import { ERRNO, GET_SKEYS_NONE, SKEYS_MAX } from '../abi/constants.js';
import type { AbsoluteMachine } from './absolute-memop.js';
import { STORAGE_KEY } from './storage-keys.js';

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
  const count = keys.length;
  if (count < 1 || count > SKEYS_MAX) return -ERRNO.EINVAL;
  // Key handling is switched on before the keys are looked at, so it stays on even when
  // this call then fails.
  m.keys.usesKeys = true;
  const inMemory = keysInMemory(m, startGfn, count);
  const start = Number(startGfn);
  if (m.switches.setSkeysCheckAllFirst) {
    for (let i = 0; i < count; i++) if (keys[i]! & STORAGE_KEY.RESERVED) return -ERRNO.EINVAL;
    for (let i = 0; i < count; i++) {
      if (i >= inMemory) return -ERRNO.EFAULT;
      m.keys.set(start + i, keys[i]!);
    }
    return 0;
  }
  for (let i = 0; i < count; i++) {
    if (i >= inMemory) return -ERRNO.EFAULT;
    if (keys[i]! & STORAGE_KEY.RESERVED) return -ERRNO.EINVAL;
    m.keys.set(start + i, keys[i]!);
  }
  return 0;
}
