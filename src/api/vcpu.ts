// The public vcpu: state, logical memops and SIDA through the contract, once for every backend.
import { MEMOP, MEMOP_F, MEM_OP_MAX_SIZE, NUM_ACRS, NUM_CRS, PAGE_SIZE } from '../abi/constants.js';
import type { ProgramInterrupt, Psw, ResetKind, VcpuHandle, VcpuState, VcpuStateUpdate } from '../contract.js';
import { ArgumentRangeError, ArgumentTypeError, type AccessException } from '../errors.js';
import { accessException } from './access-exception.js';
import { chunkAddress, splitAccess, type RefusedChunk } from './chunked.js';
import {
  checkAccessKey,
  checkBytes,
  checkLength,
  checkMemOpDesc,
  helperDescriptor,
  emptyMemOpRequest,
  checkU32,
  checkU64,
  checkOptions,
  checkU8,
  readOption,
  unreadable,
  type MemOpDesc,
} from './arguments.js';
import { byteLengthOf, plainView } from '../typed-arrays.js';
import type { MemOpTarget } from '../emulated/refusals.js';
import { Closable } from './handle-guard.js';
import { GUESSED_MODEL, memopRefused, type RefusalModel } from './refusal.js';
import { checkPrefix, checkPsw } from './vcpu-state-rules.js';

/**
 * Options of `Vm.createVcpu`.
 *
 * @example
 * ```ts
 * const pv = vm.createVcpu(1, { protected: true, sidaPages: 2 }); // emulated backend only
 * ```
 */
export interface VcpuCreateOptions {
  /** Emulated backend only: a protected (PV) vcpu, so SIDA ops succeed. */
  protected?: boolean;
  /** SIDA size in 4 KiB pages for a protected vcpu (1..256, default 1). */
  sidaPages?: number;
}

/**
 * Options of the logical helpers.
 *
 * @example
 * ```ts
 * vcpu.read(0x7f0000000000n, 8, { ar: 2, key: 3, inject: true });
 * ```
 */
export interface LogicalAccessOptions {
  /** Access register number 0..15 used in access-register mode. Default 0. */
  ar?: number;
  /** Access key 0..15 (sets SKEY_PROTECTION); absent = no key checking. */
  key?: number;
  /** Queue the program interrupt on failure (INJECT_EXCEPTION). */
  inject?: boolean;
}

interface LogicalFields {
  flags: number;
  /** The access register, undefined when not given (the descriptor then leaves it out). */
  ar: number | undefined;
  /** The access key as given (undefined: no key checking), for the exception's words. */
  accessKey: number | undefined;
}

/** The options of a logical access, each field read once, then checked. */
function logicalFields(opts: unknown): LogicalFields {
  const options = checkOptions(opts);
  const keyValue = readOption(options, 'key');
  const arValue = readOption(options, 'ar');
  const injectValue = readOption(options, 'inject');
  const accessKey = checkAccessKey(keyValue);
  const ar = arValue === undefined ? undefined : checkU8(arValue, 'options.ar');
  const flags = (accessKey === undefined ? 0 : MEMOP_F.SKEY_PROTECTION) | (injectValue === true ? MEMOP_F.INJECT_EXCEPTION : 0);
  return { flags, ar, accessKey };
}

/**
 * A register array snapshot: `value.length` and each element read once, by index (holes read
 * as undefined and are refused), never through map() or another method a subclass or Proxy
 * could redirect.
 */
function checkRegisterArray<T>(value: unknown, name: string, check: (v: unknown, n: string) => T, count: number): T[] {
  const elements: unknown[] = new Array<unknown>(count);
  let length: unknown;
  try {
    // Array.isArray throws for a revoked Proxy.
    if (!Array.isArray(value)) throw new ArgumentTypeError(`The "${name}" argument must be an array of ${count} values`);
    length = value.length;
    if (length === count) for (let i = 0; i < count; i++) elements[i] = value[i];
  } catch (err) {
    throw err instanceof ArgumentTypeError ? err : unreadable(name, err);
  }
  if (length !== count) throw new ArgumentRangeError('ERR_OUT_OF_RANGE', `"${name}" must hold exactly ${count} values, not ${String(length)}`);
  const checked: T[] = [];
  for (let i = 0; i < count; i++) checked.push(check(elements[i], `${name}[${i}]`));
  return checked;
}

/** The PSW of an update, its two fields read once (their values are judged by checkPsw). */
function snapshotPsw(value: unknown): Psw {
  if (typeof value !== 'object' || value === null) throw new ArgumentTypeError('The "psw" argument must be { mask, addr }');
  let mask: unknown, addr: unknown;
  try {
    mask = (value as Record<string, unknown>).mask;
    addr = (value as Record<string, unknown>).addr;
  } catch (err) {
    throw unreadable('psw', err);
  }
  return { mask: checkU64(mask, 'psw.mask'), addr: checkU64(addr, 'psw.addr') };
}

/**
 * What `Vcpu.setState` takes: `VcpuStateUpdate` with numbers or bigints for the 64-bit fields.
 *
 * @example
 * ```ts
 * const change: VcpuStateChange = { psw: { mask: 0x0000000180000000n, addr: 0x1000 }, prefix: 0x10000 };
 * vcpu.setState(change);
 * ```
 */
export interface VcpuStateChange {
  /** The program-status word: mask and instruction address. */
  psw?: {
    /** The PSW's first doubleword. */
    mask: number | bigint;
    /** The instruction address. */
    addr: number | bigint;
  };
  /** CR0..CR15, all 16. */
  cr?: readonly (number | bigint)[];
  /** AR0..AR15, all 16 (u32 each). */
  ar?: readonly number[];
  /** Prefix register (8 KiB aligned). */
  prefix?: number;
}

/**
 * A vcpu: logical accesses through its PSW, control registers, access registers and prefix,
 * and the SIDA of a protected vcpu. Created by `Vm.createVcpu`; close it when done (or `using`).
 *
 * @example
 * ```ts
 * const vcpu = vm.createVcpu(0);
 * try {
 *   vcpu.setState({ prefix: 0x10000 });
 *   console.log(vcpu.read(0x0, 8)); // the prefix page's first 8 bytes
 * } finally {
 *   vcpu.close();
 * }
 * ```
 */
export class Vcpu extends Closable {
  readonly #handle: VcpuHandle;
  /** Filled by every memop (see checkMemOpDesc): the hot path allocates nothing. */
  readonly #request = emptyMemOpRequest();
  readonly #model: RefusalModel;
  readonly #target: MemOpTarget;
  readonly #memorySize: bigint;

  /** @internal */
  constructor(handle: VcpuHandle, memorySize: bigint, model: Omit<RefusalModel, 'memorySize'> = GUESSED_MODEL, isProtected = false, sidaSize = PAGE_SIZE) {
    super();
    this.#handle = handle;
    this.#memorySize = memorySize;
    this.#model = { ...model, memorySize };
    this.#target = { fd: 'vcpu', profile: model.profile, protectedVcpu: isProtected, sidaSize };
  }

  /**
   * The vcpu id given to `createVcpu`.
   */
  get id(): number {
    return this.#handle.id;
  }

  /**
   * KVM_S390_MEM_OP on the vcpu fd (logical ops 0, 1 and SIDA ops 2, 3), exactly as the ioctl.
   *
   * @param d - The `struct kvm_s390_mem_op` fields; `buf` stands for the user pointer.
   * @returns 0, or a positive program-interruption code: the kernel's result. With
   *   INJECT_EXCEPTION the interrupt is then pending (`pendingProgramInterrupt()`).
   * @throws {@link KvmError} on an errno, with `reason` (`EINVAL` flags, size 0, key or ar above 15,
  a protected vcpu; `E2BIG` above 65536 bytes for `memop`; `EFAULT` NULL buffer or, before
  Linux 6.12, an access-register table outside memory; `EBADF` after `close()`); for SIDA: `EINVAL` (not protected, flags, offset overflow), `E2BIG` (beyond
   *   the SIDA); {@link ArgumentTypeError} `ERR_INVALID_ARG_TYPE` / {@link ArgumentRangeError} `ERR_OUT_OF_RANGE` / `ERR_BUFFER_TOO_SMALL` / `ERR_INVALID_ARG_VALUE` for a descriptor that
   *   does not fit the struct.
   * @example
   * ```ts
   * vcpu.memop({ op: MEMOP.LOGICAL_READ, gaddr: 0x100, size: 8, buf: new Uint8Array(8), flags: MEMOP_F.INJECT_EXCEPTION });
   * ```
   */
  memop(d: MemOpDesc): number {
    const req = checkMemOpDesc(d, this.#request);
    this.assertOpen('KVM_S390_MEM_OP');
    const r = this.#handle.memop(req);
    if (r < 0) {
      const refused = memopRefused(this.#model, this.#target, req, -r);
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
   * The PSW, control registers, access registers and prefix a memop uses.
   *
   * @returns A copy of the state.
   * @throws {@link KvmError} `EBADF` after `close()`; on real KVM the errno of KVM_GET_SREGS.
   */
  getState(): VcpuState {
    this.assertOpen('KVM_GET_SREGS');
    return this.#handle.getState();
  }

  /**
   * Sets the PSW, control registers, access registers and/or prefix for the very next memop
   * (real KVM: committed with one KVM_RUN in a disabled wait). A PSW that a real CPU would
   * refuse to load, or a prefix whose two pages are not guest memory, is refused before
   * anything changes.
   *
   * @param update - The parts to change; the others stay.
   * @throws {@link ArgumentTypeError} `ERR_INVALID_ARG_TYPE` / {@link ArgumentRangeError}
   *   `ERR_OUT_OF_RANGE` / `ERR_INVALID_ARG_VALUE` for values that do not fit their registers,
   *   an invalid PSW or a prefix outside memory; {@link KvmError} `EBADF` after `close()`, or
   *   the errno of the kernel's state ioctls.
   */
  setState(update: VcpuStateChange): void {
    if (typeof update !== 'object' || update === null) throw new ArgumentTypeError('The "update" argument must be an object');
    // Each field once, then every check, then the one call: a failed check changes nothing.
    const psw = readOption(update, 'psw', 'update');
    const cr = readOption(update, 'cr', 'update');
    const ar = readOption(update, 'ar', 'update');
    const prefix = readOption(update, 'prefix', 'update');
    const checked: VcpuStateUpdate = {};
    if (psw !== undefined) checked.psw = snapshotPsw(psw);
    if (cr !== undefined) checked.cr = checkRegisterArray(cr, 'cr', checkU64, NUM_CRS);
    if (ar !== undefined) checked.ar = checkRegisterArray(ar, 'ar', checkU32, NUM_ACRS);
    if (prefix !== undefined) checked.prefix = checkU32(prefix, 'prefix');
    if (checked.psw !== undefined) checkPsw(checked.psw.mask, checked.psw.addr);
    if (checked.prefix !== undefined) checkPrefix(checked.prefix, this.#memorySize);
    this.assertOpen('KVM_SET_SREGS');
    this.#handle.setState(checked);
  }

  /**
   * KVM_S390_INITIAL_RESET or KVM_S390_CLEAR_RESET.
   *
   * @param kind - 'initial' or 'clear'.
   * @throws {@link ArgumentRangeError} `ERR_INVALID_ARG_VALUE` for another kind;
   *   {@link KvmError} `EBADF` after `close()`.
   */
  reset(kind: ResetKind): void {
    if (kind !== 'initial' && kind !== 'clear') throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `reset kind must be 'initial' or 'clear'`);
    this.assertOpen(kind === 'initial' ? 'KVM_S390_INITIAL_RESET' : 'KVM_S390_CLEAR_RESET');
    this.#handle.reset(kind);
  }

  /**
   * The program interrupt queued by INJECT_EXCEPTION and not yet delivered.
   *
   * @returns Its code, TEID and access id, or null when none is pending.
   * @throws {@link KvmError} `EBADF` after `close()`; on real KVM the errno of
   *   KVM_S390_GET_IRQ_STATE.
   */
  pendingProgramInterrupt(): ProgramInterrupt | null {
    this.assertOpen('KVM_S390_GET_IRQ_STATE');
    return this.#handle.pendingProgramInterrupt();
  }

  /**
   * Drops pending interrupts (KVM_S390_NORMAL_RESET on real KVM; PSW, CRs and prefix stay).
   *
   * @throws {@link KvmError} `EBADF` after `close()`.
   */
  clearPendingInterrupts(): void {
    this.assertOpen('KVM_S390_NORMAL_RESET');
    this.#handle.clearPendingInterrupts();
  }

  /**
   * LOGICAL_READ through the vcpu's translation. Above 65536 bytes it runs one LOGICAL_READ
   * per 64 KiB chunk, as a VMM does; a refused chunk ends the read (nothing is returned).
   *
   * @param gaddr - The logical address (wraps in 24- and 31-bit mode as the kernel does).
   * @param length - Bytes to read (any u32).
   * @param opts - `ar`, `key`, and `inject` to queue the interrupt on failure.
   * @returns The bytes read.
   * @throws {@link AccessException} on a program-interruption code (translation, protection,
   *   addressing), with `bytesCompleted` for split reads; {@link KvmError} on an errno, with `reason` (`EINVAL` flags, size 0, key or ar above 15,
  a protected vcpu; `E2BIG` above 65536 bytes for `memop`; `EFAULT` NULL buffer or, before
  Linux 6.12, an access-register table outside memory; `EBADF` after `close()`); {@link ArgumentTypeError} `ERR_INVALID_ARG_TYPE` / {@link ArgumentRangeError} `ERR_OUT_OF_RANGE`.
   * @example
   * ```ts
   * const bytes = vcpu.read(0x7f0000000010n, 3);
   * ```
   */
  read(gaddr: number | bigint, length: number, opts?: LogicalAccessOptions): Uint8Array {
    const { accessKey, flags, ar } = logicalFields(opts);
    const addr = checkU64(gaddr, 'gaddr');
    const size = checkLength(length);
    const buf = new Uint8Array(size);
    if (size <= MEM_OP_MAX_SIZE) {
      const r = this.memop(helperDescriptor(MEMOP.LOGICAL_READ, addr, size, buf, flags, accessKey, ar));
      if (r > 0) throw accessException(r, this.#handle.lastFault(), { mode: 'fetch', gaddr: addr, length: size, key: accessKey, space: 'logical' });
      return buf;
    }
    const refused = splitAccess(size, (offset, n) =>
      this.memop(helperDescriptor(MEMOP.LOGICAL_READ, chunkAddress(addr, offset), n, plainView(buf, offset, n), flags, accessKey, ar)),
    );
    if (refused) throw this.#chunkRefused(refused, addr, 'fetch', accessKey);
    return buf;
  }

  /**
   * LOGICAL_WRITE through the vcpu's translation. Above 65536 bytes it runs one LOGICAL_WRITE
   * per 64 KiB chunk: the chunks before a refused one are stored, the refused one behaves as one
   * memop (its pages before the refused page are stored), nothing after it is attempted.
   *
   * @param gaddr - The logical address.
   * @param data - The bytes to store.
   * @param opts - `ar`, `key`, and `inject` to queue the interrupt on failure.
   * @throws {@link AccessException} on a program-interruption code, with `bytesCompleted` for
   *   split writes; {@link KvmError} on an errno, with `reason` (`EINVAL` flags, size 0, key or ar above 15,
  a protected vcpu; `E2BIG` above 65536 bytes for `memop`; `EFAULT` NULL buffer or, before
  Linux 6.12, an access-register table outside memory; `EBADF` after `close()`); {@link ArgumentTypeError} `ERR_INVALID_ARG_TYPE` / {@link ArgumentRangeError} `ERR_OUT_OF_RANGE`.
   * @example
   * ```ts
   * vcpu.write(0x7f0000000010n, Uint8Array.of(1, 2, 3));
   * ```
   */
  write(gaddr: number | bigint, data: Uint8Array, opts?: LogicalAccessOptions): void {
    const { accessKey, flags, ar } = logicalFields(opts);
    const addr = checkU64(gaddr, 'gaddr');
    const buf = checkBytes(data, 'data');
    const size = byteLengthOf(buf);
    if (size <= MEM_OP_MAX_SIZE) {
      const r = this.memop(helperDescriptor(MEMOP.LOGICAL_WRITE, addr, size, buf, flags, accessKey, ar));
      if (r > 0) throw accessException(r, this.#handle.lastFault(), { mode: 'store', gaddr: addr, length: size, key: accessKey, space: 'logical' });
      return;
    }
    // plainView, not buf.subarray: a subclass's species constructor would run our caller's code.
    const refused = splitAccess(size, (offset, n) =>
      this.memop(helperDescriptor(MEMOP.LOGICAL_WRITE, chunkAddress(addr, offset), n, plainView(buf, offset, n), flags, accessKey, ar)),
    );
    if (refused) throw this.#chunkRefused(refused, addr, 'store', accessKey);
  }

  #chunkRefused(refused: RefusedChunk, addr: bigint, mode: 'fetch' | 'store', key: number | undefined): AccessException {
    const what = { mode, gaddr: chunkAddress(addr, refused.offset), length: refused.size, key, space: 'logical' } as const;
    return accessException(refused.code, this.#handle.lastFault(), what, refused.offset);
  }

  /**
   * CHECK_ONLY: would this logical access succeed? Above 65536 bytes, one check per chunk.
   *
   * @param gaddr - The logical address.
   * @param length - Bytes of the access.
   * @param mode - 'read' or 'write'.
   * @param opts - `ar`, `key`, and `inject` to queue the interrupt on failure.
   * @returns 0 when it would succeed, else its program-interruption code.
   * @throws {@link KvmError} on an errno, with `reason` (`EINVAL` flags, size 0, key or ar above 15,
  a protected vcpu; `E2BIG` above 65536 bytes for `memop`; `EFAULT` NULL buffer or, before
  Linux 6.12, an access-register table outside memory; `EBADF` after `close()`); {@link ArgumentRangeError} `ERR_INVALID_ARG_VALUE` for another mode; {@link ArgumentTypeError} `ERR_INVALID_ARG_TYPE` / {@link ArgumentRangeError} `ERR_OUT_OF_RANGE`.
   * @example
   * ```ts
   * vcpu.check(0x80000000n, 8, 'write'); // 4 on a DAT-protected page
   * ```
   */
  check(gaddr: number | bigint, length: number, mode: 'read' | 'write', opts?: LogicalAccessOptions): number {
    const { flags, accessKey, ar } = logicalFields(opts);
    const op = mode === 'read' ? MEMOP.LOGICAL_READ : mode === 'write' ? MEMOP.LOGICAL_WRITE : undefined;
    if (op === undefined) throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `mode must be 'read' or 'write'`);
    const addr = checkU64(gaddr, 'gaddr');
    const size = checkLength(length);
    const checkFlags = flags | MEMOP_F.CHECK_ONLY;
    if (size <= MEM_OP_MAX_SIZE) return this.memop(helperDescriptor(op, addr, size, null, checkFlags, accessKey, ar));
    return splitAccess(size, (offset, n) => this.memop(helperDescriptor(op, chunkAddress(addr, offset), n, null, checkFlags, accessKey, ar)))?.code ?? 0;
  }

  /**
   * SIDA_READ of a protected vcpu.
   *
   * @param offset - Byte offset into the SIDA.
   * @param length - Bytes to read.
   * @returns The bytes read.
   * @throws {@link KvmError} `EINVAL` (not protected, size 0, offset overflow), `E2BIG` (beyond
   *   the SIDA), `EBADF` after `close()`; {@link ArgumentTypeError} `ERR_INVALID_ARG_TYPE` / {@link ArgumentRangeError} `ERR_OUT_OF_RANGE`.
   * @example
   * ```ts
   * const sida = vm.createVcpu(1, { protected: true }).readSida(0, 16);
   * ```
   */
  readSida(offset: number, length: number): Uint8Array {
    const size = checkLength(length);
    const buf = new Uint8Array(size);
    this.memop(helperDescriptor(MEMOP.SIDA_READ, undefined, size, buf, 0, undefined, undefined, checkU32(offset, 'offset')));
    return buf;
  }

  /**
   * SIDA_WRITE of a protected vcpu.
   *
   * @param offset - Byte offset into the SIDA.
   * @param data - The bytes to store.
   * @throws {@link KvmError} `EINVAL` (not protected, size 0, offset overflow), `E2BIG` (beyond
   *   the SIDA), `EBADF` after `close()`; {@link ArgumentTypeError} `ERR_INVALID_ARG_TYPE` / {@link ArgumentRangeError} `ERR_OUT_OF_RANGE`.
   * @example
   * ```ts
   * pvVcpu.writeSida(0, Uint8Array.of(1, 2));
   * ```
   */
  writeSida(offset: number, data: Uint8Array): void {
    const buf = checkBytes(data, 'data');
    this.memop(helperDescriptor(MEMOP.SIDA_WRITE, undefined, byteLengthOf(buf), buf, 0, undefined, undefined, checkU32(offset, 'offset')));
  }

  /**
   * Closes the vcpu fd (idempotent).
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
