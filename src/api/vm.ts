// The public VM: argument checks, errno mapping and the ergonomic helpers, once for every backend.
import { GET_SKEYS_NONE, KEYOP, MEMOP, MEMOP_F, SKEYS_MAX, STORAGE_KEY } from '../abi/constants.js';
import type { GuestFacilities, VmHandle } from '../contract.js';
import { ArgumentRangeError, KvmError } from '../errors.js';
import { accessException } from './access-exception.js';
import {
  checkAccessKey,
  checkBytes,
  checkInteger,
  checkLength,
  checkMemOpDesc,
  checkOptionalBoolean,
  checkOptions,
  checkU32,
  checkU64,
  readOption,
  snapshotBytes,
  checkU8,
  type MemOpDesc,
} from './arguments.js';
import { byteLengthOf, copyInto } from '../typed-arrays.js';
import { Closable } from './handle-guard.js';
import { Vcpu, type VcpuCreateOptions } from './vcpu.js';

/** A protected vcpu's SIDA holds 1..256 pages (the SIE block's sidad size field is a byte). */
const MAX_SIDA_PAGES = 256;

export interface KeyOption {
  /** Access key 0..15 (sets SKEY_PROTECTION); absent = no key checking. */
  key?: number;
}

export interface SkeysOptions {
  /** `struct kvm_s390_skeys.flags`; the kernel accepts only 0. */
  flags?: number;
}

export interface CompareAndExchangeResult {
  /** True when memory held `expected` and now holds `replacement`. */
  exchanged: boolean;
  /** What memory held before the call. */
  actual: Uint8Array;
}

export class Vm extends Closable {
  readonly #handle: VmHandle;
  /** Bytes of guest memory (the memslot at absolute 0). */
  readonly memorySize: bigint;

  /** @internal */
  constructor(handle: VmHandle, memorySize: bigint) {
    super();
    this.#handle = handle;
    this.memorySize = memorySize;
  }

  /** KVM_CHECK_EXTENSION on the vm fd. */
  checkExtension(cap: number): number {
    this.assertOpen('KVM_CHECK_EXTENSION');
    return this.#handle.checkExtension(checkInteger(cap, 'cap', 0, 0xffff_ffff));
  }

  /**
   * KVM_S390_MEM_OP on the vm fd: returns exactly the kernel's result, 0 or a positive
   * program-interruption code; a negative result is thrown as KvmError.
   */
  memop(d: MemOpDesc): number {
    const req = checkMemOpDesc(d);
    this.assertOpen('KVM_S390_MEM_OP');
    const r = this.#handle.memop(req);
    if (r < 0) throw new KvmError(-r, 'KVM_S390_MEM_OP');
    return r;
  }

  /**
   * KVM_S390_GET_SKEYS; null when the VM does not use storage keys yet (GET_SKEYS_NONE).
   * `flags` is the struct's flags field, which the kernel requires to be 0.
   */
  getStorageKeys(startGfn: number | bigint, count: number, opts?: SkeysOptions): Uint8Array | null {
    const flagsValue = readOption(checkOptions(opts), 'flags');
    const gfn = checkU64(startGfn, 'startGfn');
    checkInteger(count, 'count', 0, Number.MAX_SAFE_INTEGER);
    const flags = flagsValue === undefined ? 0 : checkU32(flagsValue, 'options.flags');
    this.assertOpen('KVM_S390_GET_SKEYS');
    const out = new Uint8Array(count >= 1 && count <= SKEYS_MAX ? count : 0);
    const r = this.#handle.getStorageKeys(gfn, count, out, flags);
    if (r < 0) throw new KvmError(-r, 'KVM_S390_GET_SKEYS');
    return r === GET_SKEYS_NONE ? null : out;
  }

  /** KVM_S390_SET_SKEYS: one key byte per 4 KiB page from `startGfn` on. */
  setStorageKeys(startGfn: number | bigint, keys: Uint8Array, opts?: SkeysOptions): void {
    const flagsValue = readOption(checkOptions(opts), 'flags');
    const gfn = checkU64(startGfn, 'startGfn');
    // Taken after the options were read: a getter there cannot change the keys' length.
    const keyBytes = snapshotBytes(checkBytes(keys, 'keys'));
    const flags = flagsValue === undefined ? 0 : checkU32(flagsValue, 'options.flags');
    this.assertOpen('KVM_S390_SET_SKEYS');
    const r = this.#handle.setStorageKeys(gfn, keyBytes, flags);
    if (r < 0) throw new KvmError(-r, 'KVM_S390_SET_SKEYS');
  }

  /**
   * KVM_S390_KEYOP (newest kernels, KVM_CAP_S390_KEYOP 247) as the ioctl takes it: `operation`
   * (KEYOP.ISKE/RRBE/SSKE; the kernel answers EINVAL to others) on the 4 KiB page holding
   * absolute `guestAddr`; returns the key byte the kernel writes back. Throws KvmError:
   * ENOTTY where the kernel lacks the ioctl, EFAULT outside guest memory. The helpers below
   * name each operation.
   */
  keyop(operation: number, guestAddr: number | bigint, key = 0): number {
    const op = checkU8(operation, 'operation');
    const addr = checkU64(guestAddr, 'guestAddr');
    const keyByte = checkU8(key, 'key');
    this.assertOpen('KVM_S390_KEYOP');
    const r = this.#handle.keyop(op, addr, keyByte);
    if (r < 0) throw new KvmError(-r, 'KVM_S390_KEYOP');
    return r;
  }

  /** ISKE: the storage key of the page holding `guestAddr` (ACC, F, R and C). */
  insertStorageKey(guestAddr: number | bigint): number {
    return this.keyop(KEYOP.ISKE, guestAddr);
  }

  /**
   * RRBE: clears the page's reference bit and keeps its change bit. Returns the old R and C
   * in their key positions (STORAGE_KEY.REFERENCE 0x04, STORAGE_KEY.CHANGE 0x02); the guest's
   * condition code is that value >> 1.
   */
  resetReferenceBit(guestAddr: number | bigint): number {
    return this.keyop(KEYOP.RRBE, guestAddr);
  }

  /**
   * SSKE: sets the page's whole key (ACC, F, R, C) and returns the previous one. Bit 0x01 is
   * reserved: the kernel would drop it silently, so it is refused here (ERR_INVALID_ARG_VALUE).
   */
  setStorageKey(guestAddr: number | bigint, key: number): number {
    const keyByte = checkU8(key, 'key');
    if ((keyByte & STORAGE_KEY.RESERVED) !== 0) {
      throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `The "key" argument 0x${keyByte.toString(16)} has the reserved bit 0x01 set; the kernel would store the key without it`);
    }
    return this.keyop(KEYOP.SSKE, guestAddr, keyByte);
  }

  /**
   * The guest CPU facilities that change what a memop does (EDAT-1, EDAT-2), and on the kvm
   * backend the VM's whole facility list as KVM's CPU model gives it.
   */
  get facilities(): GuestFacilities {
    this.assertOpen('KVM_GET_DEVICE_ATTR');
    return this.#handle.guestFacilities();
  }

  createVcpu(id: number, opts?: VcpuCreateOptions): Vcpu {
    const options = checkOptions(opts);
    const protectedValue = readOption(options, 'protected');
    const sidaPagesValue = readOption(options, 'sidaPages');
    checkInteger(id, 'id', 0, 0xffff_ffff);
    const isProtected = checkOptionalBoolean(protectedValue, 'options.protected') === true;
    const sidaPages = sidaPagesValue === undefined ? undefined : checkInteger(sidaPagesValue, 'options.sidaPages', 1, MAX_SIDA_PAGES);
    this.assertOpen('KVM_CREATE_VCPU');
    return new Vcpu(this.#handle.createVcpu(id, { protected: isProtected, sidaPages }), this.memorySize);
  }

  /** Reads `length` absolute bytes; throws AccessException on a program-interruption code. */
  read(gaddr: number | bigint, length: number, opts?: KeyOption): Uint8Array {
    const key = keyOption(opts);
    const addr = checkU64(gaddr, 'gaddr');
    const size = checkLength(length);
    const buf = new Uint8Array(size);
    const r = this.memop({ op: MEMOP.ABSOLUTE_READ, gaddr: addr, size, buf, ...keyFields(key) });
    if (r > 0) throw accessException(r, this.#handle.lastFault(), { mode: 'fetch', gaddr: addr, length: size, key, space: 'absolute' });
    return buf;
  }

  /** Writes `data` to absolute storage; throws AccessException on a program-interruption code. */
  write(gaddr: number | bigint, data: Uint8Array, opts?: KeyOption): void {
    const key = keyOption(opts);
    const addr = checkU64(gaddr, 'gaddr');
    const buf = checkBytes(data, 'data');
    const size = byteLengthOf(buf);
    const r = this.memop({ op: MEMOP.ABSOLUTE_WRITE, gaddr: addr, size, buf, ...keyFields(key) });
    if (r > 0) throw accessException(r, this.#handle.lastFault(), { mode: 'store', gaddr: addr, length: size, key, space: 'absolute' });
  }

  /** CHECK_ONLY: 0 when the access would succeed, else its program-interruption code. */
  check(gaddr: number | bigint, length: number, mode: 'read' | 'write', opts?: KeyOption): number {
    const key = keyOption(opts);
    const op = mode === 'read' ? MEMOP.ABSOLUTE_READ : mode === 'write' ? MEMOP.ABSOLUTE_WRITE : undefined;
    if (op === undefined) throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `mode must be 'read' or 'write'`);
    return this.memop({ op, gaddr: checkU64(gaddr, 'gaddr'), size: checkLength(length), flags: MEMOP_F.CHECK_ONLY | keyFlag(key), key: key ?? 0 });
  }

  /** ABSOLUTE_CMPXCHG of `expected.length` bytes (1, 2, 4, 8 or 16, aligned). */
  compareAndExchange(
    gaddr: number | bigint,
    expected: Uint8Array,
    replacement: Uint8Array,
    opts?: KeyOption,
  ): CompareAndExchangeResult {
    const key = keyOption(opts);
    const addr = checkU64(gaddr, 'gaddr');
    const expectedLength = byteLengthOf(checkBytes(expected, 'expected'));
    const replacementLength = byteLengthOf(checkBytes(replacement, 'replacement'));
    if (expectedLength !== replacementLength) {
      throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `expected (${expectedLength} bytes) and replacement (${replacementLength} bytes) must have the same length`);
    }
    // A copy made without expected.slice(), which would ask a subclass for its species.
    const old = new Uint8Array(expectedLength);
    copyInto(old, expected, 0);
    const r = this.memop({ op: MEMOP.ABSOLUTE_CMPXCHG, gaddr: addr, size: expectedLength, buf: replacement, old, ...keyFields(key) });
    if (r > 0) throw accessException(r, this.#handle.lastFault(), { mode: 'store', gaddr: addr, length: expectedLength, key, space: 'absolute' });
    let exchanged = true;
    for (let i = 0; i < expectedLength; i++) if (old[i] !== expected[i]) exchanged = false;
    return { exchanged, actual: old };
  }

  close(): void {
    if (this.markClosed()) this.#handle.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** The `key` of a KeyOption argument, read once. */
function keyOption(opts: unknown): number | undefined {
  return checkAccessKey(readOption(checkOptions(opts), 'key'));
}

function keyFlag(key: number | undefined): number {
  return key === undefined ? 0 : MEMOP_F.SKEY_PROTECTION;
}

/** Descriptor fields for an optional access key. */
export function keyFields(key: number | undefined): { flags: number; key: number } {
  return { flags: keyFlag(key), key: key ?? 0 };
}
