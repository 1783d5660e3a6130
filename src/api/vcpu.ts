// The public vcpu: state, logical memops and SIDA through the contract, once for every backend.
import { MEMOP, MEMOP_F, MEM_OP_MAX_SIZE, NUM_ACRS, NUM_CRS } from '../abi/constants.js';
import type { ProgramInterrupt, ResetKind, VcpuHandle, VcpuState, VcpuStateUpdate } from '../contract.js';
import { ArgumentRangeError, ArgumentTypeError, type AccessException } from '../errors.js';
import { accessException } from './access-exception.js';
import { chunkAddress, splitAccess, type RefusedChunk } from './chunked.js';
import {
  checkAccessKey,
  checkBytes,
  checkLength,
  checkMemOpDesc,
  checkU32,
  checkU64,
  checkU8,
  type MemOpDesc,
} from './arguments.js';
import type { MemOpTarget } from '../emulated/refusals.js';
import { Closable } from './handle-guard.js';
import { memopRefused, type RefusalModel } from './refusal.js';

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
  readonly #model: RefusalModel;
  readonly #target: MemOpTarget;

  /** @internal */
  constructor(handle: VcpuHandle, model: RefusalModel, isProtected: boolean, sidaSize: number) {
    super();
    this.#handle = handle;
    this.#model = model;
    this.#target = { fd: 'vcpu', profile: model.profile, protectedVcpu: isProtected, sidaSize };
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
    if (r < 0) throw memopRefused(this.#model, this.#target, req, -r);
    return r;
  }

  getState(): VcpuState {
    this.assertOpen('KVM_GET_SREGS');
    return this.#handle.getState();
  }

  /** Sets PSW, control registers, access registers and/or prefix for the very next memop. */
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

  /**
   * LOGICAL_READ; throws AccessException on a program-interruption code. Above 65536 bytes it
   * runs one LOGICAL_READ per 65536-byte chunk (see `splitAccess`).
   */
  read(gaddr: number | bigint, length: number, opts: LogicalAccessOptions = {}): Uint8Array {
    const addr = checkU64(gaddr, 'gaddr');
    const size = checkLength(length);
    const fields = logicalFields(opts);
    const buf = new Uint8Array(size);
    if (size <= MEM_OP_MAX_SIZE) {
      const r = this.memop({ op: MEMOP.LOGICAL_READ, gaddr: addr, size, buf, ...fields });
      if (r > 0) throw accessException(r, this.#handle.lastFault(), { mode: 'fetch', gaddr: addr, length: size, key: opts.key, space: 'logical' });
      return buf;
    }
    const refused = splitAccess(size, (offset, n) =>
      this.memop({ op: MEMOP.LOGICAL_READ, gaddr: chunkAddress(addr, offset), size: n, buf: buf.subarray(offset, offset + n), ...fields }),
    );
    if (refused) throw this.#chunkRefused(refused, addr, 'fetch', opts.key);
    return buf;
  }

  /**
   * LOGICAL_WRITE; throws AccessException on a program-interruption code. Above 65536 bytes
   * it runs one LOGICAL_WRITE per 65536-byte chunk (see `splitAccess`).
   */
  write(gaddr: number | bigint, data: Uint8Array, opts: LogicalAccessOptions = {}): void {
    const addr = checkU64(gaddr, 'gaddr');
    const buf = checkBytes(data, 'data');
    const fields = logicalFields(opts);
    const size = buf.length;
    if (size <= MEM_OP_MAX_SIZE) {
      const r = this.memop({ op: MEMOP.LOGICAL_WRITE, gaddr: addr, size, buf, ...fields });
      if (r > 0) throw accessException(r, this.#handle.lastFault(), { mode: 'store', gaddr: addr, length: size, key: opts.key, space: 'logical' });
      return;
    }
    const refused = splitAccess(size, (offset, n) =>
      this.memop({ op: MEMOP.LOGICAL_WRITE, gaddr: chunkAddress(addr, offset), size: n, buf: buf.subarray(offset, offset + n), ...fields }),
    );
    if (refused) throw this.#chunkRefused(refused, addr, 'store', opts.key);
  }

  #chunkRefused(refused: RefusedChunk, addr: bigint, mode: 'fetch' | 'store', key: number | undefined): AccessException {
    const what = { mode, gaddr: chunkAddress(addr, refused.offset), length: refused.size, key, space: 'logical' } as const;
    return accessException(refused.code, this.#handle.lastFault(), what, refused.offset);
  }

  /**
   * CHECK_ONLY: 0 when the access would succeed, else its program-interruption code. Above
   * 65536 bytes, one check per chunk; the first non-zero code.
   */
  check(gaddr: number | bigint, length: number, mode: 'read' | 'write', opts: LogicalAccessOptions = {}): number {
    const op = mode === 'read' ? MEMOP.LOGICAL_READ : mode === 'write' ? MEMOP.LOGICAL_WRITE : undefined;
    if (op === undefined) throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `mode must be 'read' or 'write'`);
    const fields = logicalFields(opts);
    const addr = checkU64(gaddr, 'gaddr');
    const size = checkLength(length);
    const flags = fields.flags | MEMOP_F.CHECK_ONLY;
    if (size <= MEM_OP_MAX_SIZE) return this.memop({ op, gaddr: addr, size, ...fields, flags });
    return splitAccess(size, (offset, n) => this.memop({ op, gaddr: chunkAddress(addr, offset), size: n, ...fields, flags }))?.code ?? 0;
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
