// The public vcpu: state, logical memops and SIDA through the contract, once for every backend.
import { MEMOP, MEMOP_F, NUM_ACRS, NUM_CRS } from '../abi/constants.js';
import type { ProgramInterrupt, Psw, ResetKind, VcpuHandle, VcpuState, VcpuStateUpdate } from '../contract.js';
import { ArgumentRangeError, ArgumentTypeError, KvmError } from '../errors.js';
import { accessException } from './access-exception.js';
import {
  checkAccessKey,
  checkBytes,
  checkLength,
  checkMemOpDesc,
  checkU32,
  checkU64,
  checkOptions,
  checkU8,
  readOption,
  unreadable,
  type MemOpDesc,
} from './arguments.js';
import { byteLengthOf } from '../typed-arrays.js';
import { Closable } from './handle-guard.js';
import { checkPrefix, checkPsw } from './vcpu-state-rules.js';

export interface VcpuCreateOptions {
  /** Emulated backend only: a protected (PV) vcpu, so SIDA ops succeed. */
  protected?: boolean;
  /** SIDA size in 4 KiB pages for a protected vcpu (1..256, default 1). */
  sidaPages?: number;
}

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
  key: number;
  ar: number;
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
  const ar = arValue === undefined ? 0 : checkU8(arValue, 'options.ar');
  const flags = (accessKey === undefined ? 0 : MEMOP_F.SKEY_PROTECTION) | (injectValue === true ? MEMOP_F.INJECT_EXCEPTION : 0);
  return { flags, key: accessKey ?? 0, ar, accessKey };
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

export class Vcpu extends Closable {
  readonly #handle: VcpuHandle;
  readonly #memorySize: bigint;

  /** @internal */
  constructor(handle: VcpuHandle, memorySize: bigint) {
    super();
    this.#handle = handle;
    this.#memorySize = memorySize;
  }

  get id(): number {
    return this.#handle.id;
  }

  /**
   * KVM_S390_MEM_OP on the vcpu fd: returns exactly the kernel's result, 0 or a positive
   * program-interruption code; a negative result is thrown as KvmError.
   */
  memop(d: MemOpDesc): number {
    const req = checkMemOpDesc(d);
    this.assertOpen('KVM_S390_MEM_OP');
    const r = this.#handle.memop(req);
    if (r < 0) throw new KvmError(-r, 'KVM_S390_MEM_OP');
    return r;
  }

  getState(): VcpuState {
    this.assertOpen('KVM_GET_SREGS');
    return this.#handle.getState();
  }

  /**
   * Sets PSW, control registers, access registers and/or prefix for the very next memop. A PSW
   * that a real CPU would refuse to load, or a prefix whose two pages are not guest memory, is
   * refused with ERR_INVALID_ARG_VALUE / ERR_OUT_OF_RANGE before anything changes.
   */
  setState(update: VcpuStateUpdate): void {
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

  /** KVM_S390_INITIAL_RESET or KVM_S390_CLEAR_RESET. */
  reset(kind: ResetKind): void {
    if (kind !== 'initial' && kind !== 'clear') throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `reset kind must be 'initial' or 'clear'`);
    this.assertOpen(kind === 'initial' ? 'KVM_S390_INITIAL_RESET' : 'KVM_S390_CLEAR_RESET');
    this.#handle.reset(kind);
  }

  /** The program interrupt queued by INJECT_EXCEPTION and not yet delivered, if any. */
  pendingProgramInterrupt(): ProgramInterrupt | null {
    this.assertOpen('KVM_S390_GET_IRQ_STATE');
    return this.#handle.pendingProgramInterrupt();
  }

  clearPendingInterrupts(): void {
    this.assertOpen('KVM_S390_NORMAL_RESET');
    this.#handle.clearPendingInterrupts();
  }

  /** LOGICAL_READ; throws AccessException on a program-interruption code. */
  read(gaddr: number | bigint, length: number, opts?: LogicalAccessOptions): Uint8Array {
    const { accessKey, ...fields } = logicalFields(opts);
    const addr = checkU64(gaddr, 'gaddr');
    const size = checkLength(length);
    const buf = new Uint8Array(size);
    const r = this.memop({ op: MEMOP.LOGICAL_READ, gaddr: addr, size, buf, ...fields });
    if (r > 0) throw accessException(r, this.#handle.lastFault(), { mode: 'fetch', gaddr: addr, length: size, key: accessKey, space: 'logical' });
    return buf;
  }

  /** LOGICAL_WRITE; throws AccessException on a program-interruption code. */
  write(gaddr: number | bigint, data: Uint8Array, opts?: LogicalAccessOptions): void {
    const { accessKey, ...fields } = logicalFields(opts);
    const addr = checkU64(gaddr, 'gaddr');
    const buf = checkBytes(data, 'data');
    const size = byteLengthOf(buf);
    const r = this.memop({ op: MEMOP.LOGICAL_WRITE, gaddr: addr, size, buf, ...fields });
    if (r > 0) throw accessException(r, this.#handle.lastFault(), { mode: 'store', gaddr: addr, length: size, key: accessKey, space: 'logical' });
  }

  /** CHECK_ONLY: 0 when the access would succeed, else its program-interruption code. */
  check(gaddr: number | bigint, length: number, mode: 'read' | 'write', opts?: LogicalAccessOptions): number {
    const { flags, key, ar } = logicalFields(opts);
    const op = mode === 'read' ? MEMOP.LOGICAL_READ : mode === 'write' ? MEMOP.LOGICAL_WRITE : undefined;
    if (op === undefined) throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `mode must be 'read' or 'write'`);
    return this.memop({ op, gaddr: checkU64(gaddr, 'gaddr'), size: checkLength(length), key, ar, flags: flags | MEMOP_F.CHECK_ONLY });
  }

  readSida(offset: number, length: number): Uint8Array {
    const size = checkLength(length);
    const buf = new Uint8Array(size);
    this.memop({ op: MEMOP.SIDA_READ, size, buf, sidaOffset: checkU32(offset, 'offset') });
    return buf;
  }

  writeSida(offset: number, data: Uint8Array): void {
    const buf = checkBytes(data, 'data');
    this.memop({ op: MEMOP.SIDA_WRITE, size: byteLengthOf(buf), buf, sidaOffset: checkU32(offset, 'offset') });
  }

  close(): void {
    if (this.markClosed()) this.#handle.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
