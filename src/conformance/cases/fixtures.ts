// Shared set-up for vcpu cases: absolute memory access on every kernel, and the memop
// selftest's environment (docs/selftest-vectors.md "Environment ENV") built with PageTableBuilder.
import { CAP, MEMOP, MEMOP_F } from '../../abi/constants.js';
import { PROFILES } from '../../emulated/profiles.js';
import type { MemOpDesc } from '../../api/arguments.js';
import { expectBytes, expectResult } from '../assertions.js';
import type { Vcpu } from '../../api/vcpu.js';
import type { Vm } from '../../api/vm.js';
import { PageTableBuilder } from '../../guest-tables/page-table-builder.js';
import type { CaseContext } from '../types.js';

export const S = 65536;
/** PSW of the selftest guest: DAT on, 64-bit, primary space. */
export const PSW_DAT_64 = 0x0400000180000000n;
/** PSW with DAT off and 64-bit addressing. */
export const PSW_REAL_64 = 0x0000000180000000n;
export const CR0_AFP = 0x40000n;
export const CR0_LAP = 0x10000000n;
export const CR0_FPO = 0x2000000n;
export const CR0_SPO = 0x1000000n;
export const CR0_EDAT = 0x800000n;

/** Absolute reads and writes: the vm fd when the kernel has it, else a DAT-off helper vcpu. */
export interface AbsoluteMemory {
  read(abs: bigint, length: number): Uint8Array;
  write(abs: bigint, data: Uint8Array): void;
}

export function absoluteMemory(ctx: CaseContext, vm: Vm): AbsoluteMemory {
  if (ctx.backend.checkExtension(CAP.S390_MEM_OP_EXTENSION) > 0) return vm;
  // Prefix 0 makes real and absolute addresses equal everywhere.
  const helper = vm.createVcpu(200);
  helper.setState({ psw: { mask: PSW_REAL_64, addr: 0n }, prefix: 0 });
  return {
    read: (abs, length) => helper.read(abs, length),
    write: (abs, data) => helper.write(abs, data),
  };
}

export interface SelftestEnv {
  vm: Vm;
  vcpu: Vcpu;
  mem: AbsoluteMemory;
  tables: PageTableBuilder;
  V1: bigint;
  V2: bigint;
  A1: bigint;
  A2: bigint;
  /** SSKE over the absolute pages backing [va, va+len) (as the selftest guest does). */
  setKeys(va: bigint, length: number, key: number): void;
  /** The selftest guest's copy of `length` bytes from V1 to V2. */
  guestCopy(length?: number): void;
  /** ORs bits into CR0, as the selftest does through sync regs. */
  setCr0Bits(bits: bigint): void;
}

const V1 = 0x00007fabcd000000n;
const V2 = V1 + 0x100000n;
const A1 = 0x400000n;
const A2 = 0x500000n;
/** VA 0 and the last page of the 64-bit space, mapped for the override tests (T8, T14, T15). */
export const VA_LAST = 0xfffffffffffff000n;
export const ABS_OF_VA0 = 0x700000n;
export const ABS_OF_VA_LAST = 0x701000n;

export function selftestEnv(ctx: CaseContext, opts: { lowPages?: boolean } = {}): SelftestEnv {
  const vm = ctx.createVm({ memorySize: 32 << 20 });
  const mem = absoluteMemory(ctx, vm);
  const tables = new PageTableBuilder(mem, { tableArea: { start: 0x1000000n, end: 0x1800000n } });
  tables.map(V1, S, A1).map(V2, S, A2);
  if (opts.lowPages) tables.map(0n, 4096, ABS_OF_VA0).map(VA_LAST, 4096, ABS_OF_VA_LAST);
  const vcpu = vm.createVcpu(0);
  const cr = new Array<bigint>(16).fill(0n);
  cr[0] = CR0_AFP;
  cr[1] = tables.asce;
  vcpu.setState({ psw: { mask: PSW_DAT_64, addr: 0n }, cr, prefix: 0 });
  const translateToAbs = (va: bigint): bigint => {
    if (va >= V1 && va < V1 + BigInt(S)) return A1 + (va - V1);
    if (va >= V2 && va < V2 + BigInt(S)) return A2 + (va - V2);
    if (va < 4096n) return ABS_OF_VA0 + va;
    if (va >= VA_LAST) return ABS_OF_VA_LAST + (va - VA_LAST);
    throw new Error(`not mapped: 0x${va.toString(16)}`);
  };
  return {
    vm,
    vcpu,
    mem,
    tables,
    V1,
    V2,
    A1,
    A2,
    setKeys(va, length, key) {
      for (let off = 0; off < length; off += 4096) setKeys(vm, translateToAbs(va + BigInt(off)) >> 12n, Uint8Array.of(key));
    },
    guestCopy(length = S) {
      mem.write(A2, mem.read(A1, length));
    },
    setCr0Bits(bits) {
      const state = vcpu.getState();
      state.cr[0] = state.cr[0]! | bits;
      vcpu.setState({ cr: state.cr });
    },
  };
}

export const LREAD = MEMOP.LOGICAL_READ;
export const LWRITE = MEMOP.LOGICAL_WRITE;

/** Descriptor fields for an optional access key (SKEY_PROTECTION when given). */
export function keyed(key: number | undefined): { flags?: number; key?: number } {
  return key === undefined ? {} : { flags: MEMOP_F.SKEY_PROTECTION, key };
}

/**
 * The selftest's CHECK+DO: the descriptor with CHECK_ONLY (which must leave buf untouched)
 * and then without; both must give `expected`.
 */
export function checkAndDo(target: { memop(d: MemOpDesc): number }, d: MemOpDesc, expected: number, what: string): void {
  const before = d.buf?.slice();
  expectResult(target.memop({ ...d, flags: BigInt(d.flags ?? 0) | BigInt(MEMOP_F.CHECK_ONLY) }), expected, `${what} (check-only)`);
  if (d.buf && before) expectBytes(d.buf, before, `${what}: check-only left buf`);
  expectResult(target.memop(d), expected, what);
}

/**
 * An AccessException names the rule that refused the access where the backend knows it (the
 * emulated one); a real kernel answers only the program code, and the exception says so.
 */
export function namesTheRule(ctx: CaseContext, err: unknown, rule: RegExp): boolean {
  const message = (err as Error).message;
  return ctx.backend.kind === 'emulated' ? rule.test(message) : /does not say which rule/.test(message);
}

/**
 * SET_SKEYS that lands on every kernel. Before the gmap rewrite SET_SKEYS drops a non-zero key
 * for a page whose 1 MiB host segment has no page table yet, while faulting the table in (errata;
 * stated by storage-keys/set/first-key-of-fresh-segment): the same call a second time sets what
 * the first dropped, and changes nothing else.
 */
export function setKeys(vm: Vm, gfn: number | bigint, keys: Uint8Array): void {
  vm.setStorageKeys(gfn, keys);
  vm.setStorageKeys(gfn, keys);
}

/**
 * Skips a case that needs the guest's access registers translated: before 6.9 an AR-mode memop
 * translates the calling host thread's ARs instead (errata; stated by
 * logical/access-registers/host-registers-before-6.9).
 */
export function requireGuestAccessRegisters(ctx: CaseContext): void {
  if (PROFILES[ctx.profile].memopUsesHostAccessRegisters) {
    ctx.skip('before 6.9 an access-register-mode memop translates the host thread\'s access registers, not the guest\'s ("KVM: s390: fix access register usage in ioctls")');
  }
}
