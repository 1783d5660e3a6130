// The public VM: argument checks, errno mapping and the ergonomic helpers, once for every backend.
import { GET_SKEYS_NONE, KEYOP, MEMOP, MEMOP_F, MEM_OP_MAX_SIZE, PAGE_SIZE, SKEYS_MAX, STORAGE_KEY } from '../abi/constants.js';
import type { GuestFacilities, VmHandle } from '../contract.js';
import { ArgumentRangeError, type AccessException } from '../errors.js';
import { accessException } from './access-exception.js';
import { chunkAddress, splitAccess, type RefusedChunk } from './chunked.js';
import {
  checkAccessKey,
  checkBytes,
  checkInteger,
  checkLength,
  checkMemOpDesc,
  helperDescriptor,
  checkOptionalBoolean,
  checkOptions,
  emptyMemOpRequest,
  checkU32,
  checkU64,
  readOption,
  snapshotBytes,
  checkU8,
  type MemOpDesc,
} from './arguments.js';
import { byteLengthOf, copyInto, plainView } from '../typed-arrays.js';
import { Closable } from './handle-guard.js';
import { GUESSED_MODEL, keyopRefused, memopRefused, skeysRefused, type RefusalModel } from './refusal.js';
import { Vcpu, type VcpuCreateOptions } from './vcpu.js';

/** A protected vcpu's SIDA holds 1..256 pages (the SIE block's sidad size field is a byte). */
const MAX_SIDA_PAGES = 256;

/**
 * Options of the absolute helpers.
 *
 * @example
 * ```ts
 * vm.write(0x2000, data, { key: 3 }); // key-checked with access key 3
 * ```
 */
export interface KeyOption {
  /** Access key 0..15 (sets SKEY_PROTECTION); absent = no key checking. */
  key?: number;
}

/**
 * Options of `getStorageKeys` / `setStorageKeys`.
 *
 * @example
 * ```ts
 * vm.getStorageKeys(0, 16, { flags: 0 });
 * ```
 */
export interface SkeysOptions {
  /** `struct kvm_s390_skeys.flags`; the kernel accepts only 0. */
  flags?: number;
}

/**
 * What `Vm.compareAndExchange` found.
 *
 * @example
 * ```ts
 * const { exchanged, actual } = vm.compareAndExchange(0x1000, Uint8Array.of(0, 0, 0, 0), Uint8Array.of(1, 2, 3, 4));
 * ```
 */
export interface CompareAndExchangeResult {
  /** True when memory held `expected` and now holds `replacement`. */
  exchanged: boolean;
  /** What memory held before the call. */
  actual: Uint8Array;
}

/**
 * A guest VM: absolute storage from 0 to `memorySize`, its storage keys, and its vcpus.
 * Created by `Backend.createVm`; close it when done (or `using`). Every call checks its
 * arguments first (`ERR_*` codes) and answers what the kernel answers on every backend.
 *
 * @example
 * ```ts
 * const vm = backend.createVm({ memorySize: 64 << 20 });
 * try {
 *   vm.write(0x1000, Uint8Array.of(1, 2, 3));
 *   console.log(vm.read(0x1000, 3)); // Uint8Array [1, 2, 3]
 * } finally {
 *   vm.close();
 * }
 * ```
 */
export class Vm extends Closable {
  readonly #handle: VmHandle;
  /** Filled by every memop (see checkMemOpDesc): the hot path allocates nothing. */
  readonly #request = emptyMemOpRequest();
  readonly #model: RefusalModel;
  /** Bytes of guest memory (the memslot at absolute 0). */
  readonly memorySize: bigint;

  /** @internal */
  constructor(handle: VmHandle, memorySize: bigint, model: Omit<RefusalModel, 'memorySize'> = GUESSED_MODEL) {
    super();
    this.#handle = handle;
    this.memorySize = memorySize;
    this.#model = { ...model, memorySize };
  }

  /**
   * KVM_CHECK_EXTENSION on the vm fd.
   *
   * @param cap - A capability number, e.g. `CAP.S390_MEM_OP_EXTENSION` (211).
   * @returns 0 when absent, else the capability's value.
   * @throws {@link ArgumentTypeError} `ERR_INVALID_ARG_TYPE` / {@link ArgumentRangeError} `ERR_OUT_OF_RANGE` for a cap that is not a u32; {@link KvmError} `EBADF` after `close()`.
   */
  checkExtension(cap: number): number {
    this.assertOpen('KVM_CHECK_EXTENSION');
    return this.#handle.checkExtension(checkInteger(cap, 'cap', 0, 0xffff_ffff));
  }

  /**
   * KVM_S390_MEM_OP on the vm fd (absolute ops 4, 5 and 6), exactly as the ioctl.
   *
   * @param d - The `struct kvm_s390_mem_op` fields; `buf`/`old` stand for the user pointers.
   * @returns 0, or a positive program-interruption code (`PGM.*`): the kernel's result.
   * @throws {@link KvmError} for an errno result, with `reason` naming the rule (`EINVAL` op not
   *   valid on the vm fd, size 0, key above 15, unknown flags, misaligned cmpxchg; `E2BIG` size
   *   above 65536; `EFAULT` NULL `buf`; `ENOTTY` before Linux 5.18; `EBADF` after `close()`);
   *   {@link ArgumentTypeError} `ERR_INVALID_ARG_TYPE` / {@link ArgumentRangeError} `ERR_OUT_OF_RANGE` / `ERR_BUFFER_TOO_SMALL` / `ERR_INVALID_ARG_VALUE` for a descriptor that does not fit
   *   the struct.
   * @example
   * ```ts
   * const buf = new Uint8Array(8);
   * vm.memop({ op: MEMOP.ABSOLUTE_READ, gaddr: 0x1000, size: 8, buf }); // 0
   * ```
   */
  memop(d: MemOpDesc): number {
    const req = checkMemOpDesc(d, this.#request);
    this.assertOpen('KVM_S390_MEM_OP');
    const r = this.#handle.memop(req);
    if (r < 0) {
      const refused = memopRefused(this.#model, { fd: 'vm', profile: this.#model.profile }, req, -r);
      req.buf = null;
      req.old = null;
      throw refused;
    }
    // The request must not keep the caller's buffers alive until the next call.
    req.buf = null;
    req.old = null;
    return r;
  }

  /**
   * KVM_S390_GET_SKEYS: the storage keys of `count` pages from `startGfn` on.
   *
   * @param startGfn - The first guest frame number (address / 4096).
   * @param count - How many keys, 1..1,048,576.
   * @param opts - `flags`, which the kernel requires to be 0.
   * @returns One key byte per page, or null while the VM does not use storage keys
   *   (`KVM_S390_GET_SKEYS_NONE`: no key was ever set).
   * @throws {@link KvmError} `EINVAL` (flags, count), `EFAULT` (pages beyond guest memory),
   *   `EBADF` after `close()`, each with its `reason`; {@link ArgumentTypeError} `ERR_INVALID_ARG_TYPE` / {@link ArgumentRangeError} `ERR_OUT_OF_RANGE` for arguments that are not integers
   *   in range.
   * @example
   * ```ts
   * vm.setStorageKeys(0x100, Uint8Array.of(0x38));
   * vm.getStorageKeys(0x100, 1); // Uint8Array [0x38]
   * ```
   */
  getStorageKeys(startGfn: number | bigint, count: number, opts?: SkeysOptions): Uint8Array | null {
    const flagsValue = readOption(checkOptions(opts), 'flags');
    const gfn = checkU64(startGfn, 'startGfn');
    checkInteger(count, 'count', 0, Number.MAX_SAFE_INTEGER);
    const flags = flagsValue === undefined ? 0 : checkU32(flagsValue, 'options.flags');
    this.assertOpen('KVM_S390_GET_SKEYS');
    const out = new Uint8Array(count >= 1 && count <= SKEYS_MAX ? count : 0);
    const r = this.#handle.getStorageKeys(gfn, count, out, flags);
    if (r < 0) throw skeysRefused(this.#model, 'get', { startGfn: gfn, count, flags }, -r);
    return r === GET_SKEYS_NONE ? null : out;
  }

  /**
   * KVM_S390_SET_SKEYS: one key byte per 4 KiB page from `startGfn` on (ACC in bits 0–3, F
   * in bit 4, R and C in bits 5–6; bit 7 is reserved).
   *
   * @param startGfn - The first guest frame number (address / 4096).
   * @param keys - The key bytes, 1..1,048,576 of them.
   * @param opts - `flags`, which the kernel requires to be 0.
   * @throws {@link KvmError} `EINVAL` (flags, count, a reserved bit), `EFAULT` (pages beyond
   *   guest memory; the keys before them are set, as the kernel does), `EBADF` after `close()`;
   *   {@link ArgumentTypeError} `ERR_INVALID_ARG_TYPE` / {@link ArgumentRangeError} `ERR_OUT_OF_RANGE` for arguments of the wrong type.
   * @example
   * ```ts
   * vm.setStorageKeys(0x100, Uint8Array.of(0x38)); // page 0x100000: ACC 3, fetch-protected
   * ```
   */
  setStorageKeys(startGfn: number | bigint, keys: Uint8Array, opts?: SkeysOptions): void {
    const flagsValue = readOption(checkOptions(opts), 'flags');
    const gfn = checkU64(startGfn, 'startGfn');
    // Taken after the options were read: a getter there cannot change the keys' length.
    const keyBytes = snapshotBytes(checkBytes(keys, 'keys'));
    const flags = flagsValue === undefined ? 0 : checkU32(flagsValue, 'options.flags');
    this.assertOpen('KVM_S390_SET_SKEYS');
    const r = this.#handle.setStorageKeys(gfn, keyBytes, flags);
    if (r < 0) throw skeysRefused(this.#model, 'set', { startGfn: gfn, count: byteLengthOf(keyBytes), flags, keys: keyBytes }, -r);
  }

  /**
   * KVM_S390_KEYOP (newest kernels, KVM_CAP_S390_KEYOP 247) as the ioctl takes it: `operation`
   * (KEYOP.ISKE/RRBE/SSKE) on the 4 KiB page holding absolute `guestAddr`. The helpers
   * `insertStorageKey`, `resetReferenceBit` and `setStorageKey` name each operation.
   *
   * @param operation - `KEYOP.ISKE`, `KEYOP.RRBE` or `KEYOP.SSKE` (the kernel answers EINVAL to others).
   * @param guestAddr - An absolute guest address on the page.
   * @param key - The key SSKE stores; ignored by the others.
   * @returns The key byte the kernel writes back.
   * @throws {@link KvmError} with its `reason`: `ENOTTY` where the kernel lacks the ioctl, `EINVAL`
   *   for another operation, `EFAULT` outside guest memory, `EBADF` after `close()`; {@link ArgumentTypeError} `ERR_INVALID_ARG_TYPE` / {@link ArgumentRangeError} `ERR_OUT_OF_RANGE`.
   * @example
   * ```ts
   * vm.keyop(KEYOP.ISKE, 0x100000);
   * ```
   */
  keyop(operation: number, guestAddr: number | bigint, key = 0): number {
    const op = checkU8(operation, 'operation');
    const addr = checkU64(guestAddr, 'guestAddr');
    const keyByte = checkU8(key, 'key');
    this.assertOpen('KVM_S390_KEYOP');
    const r = this.#handle.keyop(op, addr, keyByte);
    if (r < 0) throw keyopRefused(this.#model, op, addr, -r);
    return r;
  }

  /**
   * ISKE: the storage key of the page holding `guestAddr` (ACC, F, R and C).
   *
   * @param guestAddr - An absolute guest address on the page.
   * @returns The key byte.
   * @throws {@link KvmError} as `keyop`.
   * @example
   * ```ts
   * const key = vm.insertStorageKey(0x100000);
   * ```
   */
  insertStorageKey(guestAddr: number | bigint): number {
    return this.keyop(KEYOP.ISKE, guestAddr);
  }

  /**
   * RRBE: clears the page's reference bit and keeps its change bit.
   *
   * @param guestAddr - An absolute guest address on the page.
   * @returns The old R and C in their key positions (STORAGE_KEY.REFERENCE 0x04,
   *   STORAGE_KEY.CHANGE 0x02); the guest's condition code is that value >> 1.
   * @throws {@link KvmError} as `keyop`.
   * @example
   * ```ts
   * const wasReferenced = (vm.resetReferenceBit(0x100000) & STORAGE_KEY.REFERENCE) !== 0;
   * ```
   */
  resetReferenceBit(guestAddr: number | bigint): number {
    return this.keyop(KEYOP.RRBE, guestAddr);
  }

  /**
   * SSKE: sets the page's whole key (ACC, F, R, C).
   *
   * @param guestAddr - An absolute guest address on the page.
   * @param key - The key byte; the reserved bit 0x01 is refused here, since the kernel would drop it silently.
   * @returns The previous key.
   * @throws {@link ArgumentRangeError} `ERR_INVALID_ARG_VALUE` for the reserved bit; {@link KvmError} as `keyop`.
   * @example
   * ```ts
   * vm.setStorageKey(0x100000, 0x38);
   * ```
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

  /**
   * KVM_CREATE_VCPU.
   *
   * @param id - The vcpu id, 0..247.
   * @param opts - Emulated backend only: a protected (PV) vcpu and its SIDA size.
   * @returns The new vcpu, in the kernel's fresh state (PSW 0: DAT off, 24-bit addressing).
   * @throws {@link KvmError} `EEXIST` (id in use), `EINVAL` (id above 247, protected without
   *   KVM_CAP_S390_PROTECTED), `EBADF` after `close()`; {@link ArgumentTypeError} `ERR_INVALID_ARG_TYPE` / {@link ArgumentRangeError} `ERR_OUT_OF_RANGE` for an id that is not a u32.
   * @example
   * ```ts
   * const vcpu = vm.createVcpu(0);
   * ```
   */
  createVcpu(id: number, opts?: VcpuCreateOptions): Vcpu {
    const options = checkOptions(opts);
    const protectedValue = readOption(options, 'protected');
    const sidaPagesValue = readOption(options, 'sidaPages');
    checkInteger(id, 'id', 0, 0xffff_ffff);
    const isProtected = checkOptionalBoolean(protectedValue, 'options.protected') === true;
    const sidaPages = sidaPagesValue === undefined ? undefined : checkInteger(sidaPagesValue, 'options.sidaPages', 1, MAX_SIDA_PAGES);
    this.assertOpen('KVM_CREATE_VCPU');
    const vcpu = this.#handle.createVcpu(id, { protected: isProtected, sidaPages });
    return new Vcpu(vcpu, this.memorySize, this.#model, isProtected, (sidaPages ?? 1) * PAGE_SIZE);
  }

  /**
   * Reads `length` bytes of absolute storage. Above 65536 bytes it runs one ABSOLUTE_READ per
   * 64 KiB chunk, as a VMM does; a refused chunk ends the read (nothing is returned).
   *
   * @param gaddr - The absolute guest address.
   * @param length - Bytes to read (any u32).
   * @param opts - `key`: the access key, for key-controlled protection.
   * @returns The bytes read.
   * @throws {@link AccessException} on a program-interruption code (`PGM_ADDRESSING`,
   *   `PGM_PROTECTION`) with the rule in `reason` and, for split reads, `bytesCompleted`;
   *   {@link KvmError} on an errno (see `memop`); {@link ArgumentTypeError} `ERR_INVALID_ARG_TYPE` / {@link ArgumentRangeError} `ERR_OUT_OF_RANGE` for bad arguments.
   * @example
   * ```ts
   * const bytes = vm.read(0x100000, 5, { key: 3 });
   * ```
   */
  read(gaddr: number | bigint, length: number, opts?: KeyOption): Uint8Array {
    const key = keyOption(opts);
    const addr = checkU64(gaddr, 'gaddr');
    const size = checkLength(length);
    const buf = new Uint8Array(size);
    if (size <= MEM_OP_MAX_SIZE) {
      const r = this.memop(helperDescriptor(MEMOP.ABSOLUTE_READ, addr, size, buf, keyFlag(key), key));
      if (r > 0) throw accessException(r, this.#handle.lastFault(), { mode: 'fetch', gaddr: addr, length: size, key, space: 'absolute' });
      return buf;
    }
    const refused = splitAccess(size, (offset, n) =>
      this.memop(helperDescriptor(MEMOP.ABSOLUTE_READ, chunkAddress(addr, offset), n, plainView(buf, offset, n), keyFlag(key), key)),
    );
    if (refused) throw this.#chunkRefused(refused, addr, 'fetch', key);
    return buf;
  }

  /**
   * Writes `data` to absolute storage. Above 65536 bytes it runs one ABSOLUTE_WRITE per 64 KiB
   * chunk, as a VMM does: when a chunk is refused, the chunks before it are stored, the refused
   * chunk has stored its pages before the refused page, and nothing after it is attempted.
   *
   * @param gaddr - The absolute guest address.
   * @param data - The bytes to store.
   * @param opts - `key`: the access key, for key-controlled protection.
   * @throws {@link AccessException} on a program-interruption code (`PGM_ADDRESSING`,
   *   `PGM_PROTECTION`), with `bytesCompleted` for split writes; {@link KvmError} on an errno
   *   (see `memop`); {@link ArgumentTypeError} `ERR_INVALID_ARG_TYPE` / {@link ArgumentRangeError} `ERR_OUT_OF_RANGE` for bad arguments.
   * @example
   * ```ts
   * vm.write(0x100000, new TextEncoder().encode('hello'), { key: 3 });
   * ```
   */
  write(gaddr: number | bigint, data: Uint8Array, opts?: KeyOption): void {
    const key = keyOption(opts);
    const addr = checkU64(gaddr, 'gaddr');
    const buf = checkBytes(data, 'data');
    const size = byteLengthOf(buf);
    if (size <= MEM_OP_MAX_SIZE) {
      const r = this.memop(helperDescriptor(MEMOP.ABSOLUTE_WRITE, addr, size, buf, keyFlag(key), key));
      if (r > 0) throw accessException(r, this.#handle.lastFault(), { mode: 'store', gaddr: addr, length: size, key, space: 'absolute' });
      return;
    }
    // plainView, not buf.subarray: a subclass's species constructor would run our caller's code.
    const refused = splitAccess(size, (offset, n) =>
      this.memop(helperDescriptor(MEMOP.ABSOLUTE_WRITE, chunkAddress(addr, offset), n, plainView(buf, offset, n), keyFlag(key), key)),
    );
    if (refused) throw this.#chunkRefused(refused, addr, 'store', key);
  }

  #chunkRefused(refused: RefusedChunk, addr: bigint, mode: 'fetch' | 'store', key: number | undefined): AccessException {
    const what = { mode, gaddr: chunkAddress(addr, refused.offset), length: refused.size, key, space: 'absolute' } as const;
    return accessException(refused.code, this.#handle.lastFault(), what, refused.offset);
  }

  /**
   * CHECK_ONLY: would this absolute access succeed? Above 65536 bytes, one check per 64 KiB chunk.
   *
   * @param gaddr - The absolute guest address.
   * @param length - Bytes of the access.
   * @param mode - 'read' or 'write'.
   * @param opts - `key`: the access key, for key-controlled protection.
   * @returns 0 when it would succeed, else its program-interruption code (first refused chunk).
   * @throws {@link KvmError} on an errno (see `memop`); {@link ArgumentRangeError}
   *   `ERR_INVALID_ARG_VALUE` for another mode; {@link ArgumentTypeError} `ERR_INVALID_ARG_TYPE` / {@link ArgumentRangeError} `ERR_OUT_OF_RANGE` for bad arguments.
   * @example
   * ```ts
   * vm.check(0x100000, 5, 'read', { key: 5 }); // 4 when the page is fetch-protected for key 5
   * ```
   */
  check(gaddr: number | bigint, length: number, mode: 'read' | 'write', opts?: KeyOption): number {
    const key = keyOption(opts);
    const op = mode === 'read' ? MEMOP.ABSOLUTE_READ : mode === 'write' ? MEMOP.ABSOLUTE_WRITE : undefined;
    if (op === undefined) throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `mode must be 'read' or 'write'`);
    const addr = checkU64(gaddr, 'gaddr');
    const size = checkLength(length);
    const flags = MEMOP_F.CHECK_ONLY | keyFlag(key);
    if (size <= MEM_OP_MAX_SIZE) return this.memop(helperDescriptor(op, addr, size, null, flags, key));
    return splitAccess(size, (offset, n) => this.memop(helperDescriptor(op, chunkAddress(addr, offset), n, null, flags, key)))?.code ?? 0;
  }

  /**
   * ABSOLUTE_CMPXCHG: stores `replacement` where memory holds `expected`, atomically.
   *
   * @param gaddr - The absolute guest address, aligned to the size.
   * @param expected - The value memory must hold: 1, 2, 4, 8 or 16 bytes.
   * @param replacement - The value to store, as long as `expected`.
   * @param opts - `key`: the access key, for key-controlled protection.
   * @returns Whether it exchanged, and what memory held.
   * @throws {@link AccessException} on a program-interruption code; {@link KvmError} `EINVAL`
   *   (size, alignment, no cmpxchg before Linux 6.3) and the other errnos of `memop`;
   *   {@link ArgumentRangeError} `ERR_INVALID_ARG_VALUE` when the lengths differ; {@link ArgumentTypeError} `ERR_INVALID_ARG_TYPE` / {@link ArgumentRangeError} `ERR_OUT_OF_RANGE`.
   * @example
   * ```ts
   * const { exchanged } = vm.compareAndExchange(0x1000, new Uint8Array(8), Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 1));
   * ```
   */
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
    const r = this.memop(helperDescriptor(MEMOP.ABSOLUTE_CMPXCHG, addr, expectedLength, replacement, keyFlag(key), key, undefined, undefined, old));
    if (r > 0) throw accessException(r, this.#handle.lastFault(), { mode: 'store', gaddr: addr, length: expectedLength, key, space: 'absolute' });
    let exchanged = true;
    for (let i = 0; i < expectedLength; i++) if (old[i] !== expected[i]) exchanged = false;
    return { exchanged, actual: old };
  }

  /**
   * Closes the vm fd (idempotent). Vcpus stay usable until closed, as in the kernel.
   *
   * @throws Nothing.
   */
  close(): void {
    if (this.markClosed()) this.#handle.close();
  }

  /**
   * `close()`, for `using`.
   *
   * @throws Nothing.
   */
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

