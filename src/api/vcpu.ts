// The public vcpu: state, logical memops and SIDA through the contract, once for every backend.
import { MEMOP, MEMOP_F, NUM_ACRS, NUM_CRS } from '../abi/constants.js';
import type { ProgramInterrupt, ResetKind, VcpuHandle, VcpuState, VcpuStateUpdate } from '../contract.js';
import { ArgumentRangeError, ArgumentTypeError, KvmError } from '../errors.js';
import { accessException } from './access-exception.js';
import {
  checkAccessKey,
  checkBytes,
  checkLength,
  checkMemOpDesc,
  emptyMemOpRequest,
  checkU32,
  checkU64,
  checkU8,
  type MemOpDesc,
} from './arguments.js';
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

function logicalFields(opts: LogicalAccessOptions): { flags: number; key: number; ar: number } {
  const key = checkAccessKey(opts.key);
  const ar = opts.ar === undefined ? 0 : checkU8(opts.ar, 'options.ar');
  const flags = (key === undefined ? 0 : MEMOP_F.SKEY_PROTECTION) | (opts.inject === true ? MEMOP_F.INJECT_EXCEPTION : 0);
  return { flags, key: key ?? 0, ar };
}

function checkRegisterArray<T>(value: unknown, name: string, check: (v: unknown, n: string) => T, count: number): T[] {
  if (!Array.isArray(value)) throw new ArgumentTypeError(`The "${name}" argument must be an array of ${count} values`);
  if (value.length !== count) throw new ArgumentRangeError('ERR_OUT_OF_RANGE', `"${name}" must hold exactly ${count} values, not ${value.length}`);
  return value.map((v, i) => check(v, `${name}[${i}]`));
}

export class Vcpu extends Closable {
  readonly #handle: VcpuHandle;
  /** Filled by every memop (see checkMemOpDesc): the hot path allocates nothing. */
  readonly #request = emptyMemOpRequest();
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
    const req = checkMemOpDesc(d, this.#request);
    this.assertOpen('KVM_S390_MEM_OP');
    const r = this.#handle.memop(req);
    // The request must not keep the caller's buffers alive until the next call.
    req.buf = null;
    req.old = null;
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
    const checked: VcpuStateUpdate = {};
    if (update.psw !== undefined) {
      if (typeof update.psw !== 'object' || update.psw === null) throw new ArgumentTypeError('The "psw" argument must be { mask, addr }');
      checked.psw = { mask: checkU64(update.psw.mask, 'psw.mask'), addr: checkU64(update.psw.addr, 'psw.addr') };
    }
    if (update.cr !== undefined) checked.cr = checkRegisterArray(update.cr, 'cr', checkU64, NUM_CRS);
    if (update.ar !== undefined) checked.ar = checkRegisterArray(update.ar, 'ar', checkU32, NUM_ACRS);
    if (update.prefix !== undefined) checked.prefix = checkU32(update.prefix, 'prefix');
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
  read(gaddr: number | bigint, length: number, opts: LogicalAccessOptions = {}): Uint8Array {
    const addr = checkU64(gaddr, 'gaddr');
    const size = checkLength(length);
    const fields = logicalFields(opts);
    const buf = new Uint8Array(size);
    const r = this.memop({ op: MEMOP.LOGICAL_READ, gaddr: addr, size, buf, ...fields });
    if (r > 0) throw accessException(r, this.#handle.lastFault(), { mode: 'fetch', gaddr: addr, length: size, key: opts.key, space: 'logical' });
    return buf;
  }

  /** LOGICAL_WRITE; throws AccessException on a program-interruption code. */
  write(gaddr: number | bigint, data: Uint8Array, opts: LogicalAccessOptions = {}): void {
    const addr = checkU64(gaddr, 'gaddr');
    const buf = checkBytes(data, 'data');
    const fields = logicalFields(opts);
    const r = this.memop({ op: MEMOP.LOGICAL_WRITE, gaddr: addr, size: buf.length, buf, ...fields });
    if (r > 0) throw accessException(r, this.#handle.lastFault(), { mode: 'store', gaddr: addr, length: buf.length, key: opts.key, space: 'logical' });
  }

  /** CHECK_ONLY: 0 when the access would succeed, else its program-interruption code. */
  check(gaddr: number | bigint, length: number, mode: 'read' | 'write', opts: LogicalAccessOptions = {}): number {
    const op = mode === 'read' ? MEMOP.LOGICAL_READ : mode === 'write' ? MEMOP.LOGICAL_WRITE : undefined;
    if (op === undefined) throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `mode must be 'read' or 'write'`);
    const fields = logicalFields(opts);
    return this.memop({ op, gaddr: checkU64(gaddr, 'gaddr'), size: checkLength(length), ...fields, flags: fields.flags | MEMOP_F.CHECK_ONLY });
  }

  readSida(offset: number, length: number): Uint8Array {
    const size = checkLength(length);
    const buf = new Uint8Array(size);
    this.memop({ op: MEMOP.SIDA_READ, size, buf, sidaOffset: checkU32(offset, 'offset') });
    return buf;
  }

  writeSida(offset: number, data: Uint8Array): void {
    const buf = checkBytes(data, 'data');
    this.memop({ op: MEMOP.SIDA_WRITE, size: buf.length, buf, sidaOffset: checkU32(offset, 'offset') });
  }

  close(): void {
    if (this.markClosed()) this.#handle.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
