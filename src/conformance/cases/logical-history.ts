// Logical accesses whose answer depends on the kernel version, read from the kernel sources
// rather than the spec (docs/spec-errata.md): the check-only walk before the 5.18 rewrite,
// access-register tables outside guest memory, and the address a check-only access-register
// exception names in its TEID.
import { PROFILES } from '../../emulated/profiles.js';
import { MEMOP_F, PGM, STORAGE_KEY } from '../../abi/constants.js';
import type { Vcpu } from '../../api/vcpu.js';
import type { Vm } from '../../api/vm.js';
import { PageTableBuilder } from '../../guest-tables/page-table-builder.js';
import { assert, expectErrno, expectResult } from '../assertions.js';
import type { CaseContext, ConformanceCase } from '../types.js';
import { CR0_LAP, LREAD, LWRITE, absoluteMemory, type AbsoluteMemory, requireGuestAccessRegisters, setKeys } from './fixtures.js';

const INJECT = MEMOP_F.INJECT_EXCEPTION;
const CHECK = MEMOP_F.CHECK_ONLY;
const PSW_DAT = 1n << 58n;
const PSW_64 = (1n << 32n) | (1n << 31n);
const PSW_31 = 1n << 31n;
const PSW_AS_AR = 1n << 46n;
const FSI_STORE = 0x400n;
const FSI_FETCH = 0x800n;
const MEMORY = 32 << 20;

interface Machine {
  vm: Vm;
  vcpu: Vcpu;
  mem: AbsoluteMemory;
}

function machine(ctx: CaseContext): Machine {
  const vm = ctx.createVm({ memorySize: MEMORY });
  return { vm, vcpu: vm.createVcpu(0), mem: absoluteMemory(ctx, vm) };
}

function state(vcpu: Vcpu, mask: bigint, crs: Record<number, bigint> = {}, ar: readonly number[] = new Array<number>(16).fill(0)): void {
  const cr = new Array<bigint>(16).fill(0n);
  for (const [i, v] of Object.entries(crs)) cr[Number(i)] = v;
  vcpu.setState({ psw: { mask, addr: 0n }, cr, ar });
}

function takeInterrupt(vcpu: Vcpu): { code: number; teid: bigint; accessId: number } {
  const irq = vcpu.pendingProgramInterrupt();
  assert.ok(irq !== null, 'a program interrupt is pending');
  vcpu.clearPendingInterrupts();
  return irq;
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, false);
  return b;
}

/** An access-list entry: flags word (I, FO, P bits), ALESN, ASTE origin, ASTESN. */
function ale(flags: number, alesn: number, asteAddr: number, astesn: number): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint32(0, (flags | (alesn << 16)) >>> 0, false);
  v.setUint32(8, (asteAddr / 64) << 6, false);
  v.setUint32(12, astesn, false);
  return b;
}

/**
 * The access list CR2 = 0x400000 designates, with entry 5 (ALET 0x00050005) of `aleFlags`
 * pointing at an ASTE at 0x420000 (sequence 0x77) whose ASCE is `asce` (left 0 when absent).
 */
function accessListEntry5(mem: AbsoluteMemory, aleFlags: number, asce?: Uint8Array): void {
  mem.write(0x400010n, u32(((0x410000 / 128) << 7) | 1));
  mem.write(0x410000n + 5n * 16n, ale(aleFlags, 5, 0x420000, 0x77));
  if (asce) mem.write(0x420008n, asce);
  mem.write(0x420014n, u32(0x77));
}

const before518 = (ctx: CaseContext): boolean => ctx.profile === 'pre-5.18';

export const logicalHistoryCases: readonly ConformanceCase[] = [
  {
    id: 'logical/check-only/real-addressing-before-5.18',
    topic: 'logical',
    title: 'check-only over real addresses outside memory: 5 from 5.18 on, 0 before (addressing built with code 0)',
    source: 'gaccess.c guest_translate_address before 5.18 passes rc (0) as the code; 5.18+ guest_range_to_gpas; errata',
    run(ctx) {
      const m = machine(ctx);
      const expected = before518(ctx) ? 0 : PGM.ADDRESSING;
      state(m.vcpu, PSW_64);
      expectResult(m.vcpu.memop({ op: LREAD, gaddr: 0x80001000n, size: 8, flags: CHECK | INJECT, ar: 1 }), expected, 'DAT off, check-only fetch');
      expectResult(m.vcpu.memop({ op: LWRITE, gaddr: BigInt(MEMORY) - 8n, size: 16, flags: CHECK }), expected, 'DAT off, check-only store across the end of memory');
      assert.equal(m.vcpu.pendingProgramInterrupt() !== null, expected !== 0, 'an interrupt is queued only with a nonzero code');
      m.vcpu.clearPendingInterrupts();
      expectResult(m.vcpu.memop({ op: LREAD, gaddr: 0x80001000n, size: 8, buf: new Uint8Array(8) }), PGM.ADDRESSING, 'the real access always says 5');
      // A real-space ASCE (R bit) with DAT on takes the same real path.
      state(m.vcpu, PSW_DAT | PSW_64, { 1: 0x20n });
      expectResult(m.vcpu.memop({ op: LREAD, gaddr: 0x80001000n, size: 8, flags: CHECK }), expected, 'real-space ASCE, check-only');
      expectResult(m.vcpu.memop({ op: LREAD, gaddr: 0x80001000n, size: 8, buf: new Uint8Array(8) }), PGM.ADDRESSING, 'real-space ASCE, real access');
    },
  },
  {
    id: 'logical/check-only/access-id-before-5.18',
    topic: 'injection',
    title: 'a check-only LAP or DAT exception injects access id 0 before 5.18 and `ar` after; real accesses always `ar`',
    source: 'gaccess.c guest_translate_address (trans_exc with ar 0) before 5.18; guest_range_to_gpas after; errata',
    run(ctx) {
      const m = machine(ctx);
      const t = new PageTableBuilder(m.mem, { tableArea: { start: 0x1000000n, end: 0x1800000n } }).map(0x5000n, 4096, 0x300000n).invalidate(0x5000n, 'page');
      state(m.vcpu, PSW_DAT | PSW_64, { 0: CR0_LAP, 1: t.asce });
      const checkId = before518(ctx) ? 0 : 2;
      expectResult(m.vcpu.memop({ op: LREAD, gaddr: 0x5010n, size: 8, flags: CHECK | INJECT, ar: 2 }), PGM.PAGE_TRANSLATION, 'check-only fetch, invalid page');
      let irq = takeInterrupt(m.vcpu);
      assert.equal(irq.teid, 0x5000n | FSI_FETCH, 'TEID of the page-translation exception');
      assert.equal(irq.accessId, checkId, 'check-only access id');
      expectResult(m.vcpu.memop({ op: LREAD, gaddr: 0x5010n, size: 8, buf: new Uint8Array(8), flags: INJECT, ar: 2 }), PGM.PAGE_TRANSLATION, 'real fetch');
      assert.equal(takeInterrupt(m.vcpu).accessId, 2, 'real access id');
      expectResult(m.vcpu.memop({ op: LWRITE, gaddr: 0x100n, size: 8, flags: CHECK | INJECT, ar: 2 }), PGM.PROTECTION, 'check-only store to 0x100 (LAP)');
      irq = takeInterrupt(m.vcpu);
      assert.equal(irq.teid, FSI_STORE | 0x80n, 'LAP TEID: page 0, FSI store, bit 56');
      assert.equal(irq.accessId, checkId, 'check-only LAP access id');
    },
  },
  {
    id: 'logical/access-registers/tables-outside-memory',
    topic: 'access-registers',
    title: 'an access-list designation or entry outside memory: 5 (6.12+ and the gmap rewrite), -EFAULT on older kernels',
    source: 'gaccess.c ar_translation → read_guest_real; "KVM: s390: gaccess: Check if guest address is in memslot" (2024); errata',
    run(ctx) {
      requireGuestAccessRegisters(ctx);
      const m = machine(ctx);
      const t = new PageTableBuilder(m.mem, { tableArea: { start: 0x1000000n, end: 0x1800000n } }).map(0x5000n, 4096, 0x300000n);
      // AR2: ALET with ALEN 2; CR2 points at an ALD beyond the 32 MiB of memory.
      state(m.vcpu, PSW_DAT | PSW_64 | PSW_AS_AR, { 1: t.asce, 2: 0x7fff0000n }, [0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
      const newer = !PROFILES[ctx.profile].arTablesFaultOutsideMemory;
      const probe = (what: string) => {
        const d = { op: LREAD, gaddr: 0x5000n, size: 8, buf: new Uint8Array(8), flags: INJECT, ar: 2 };
        if (newer) {
          expectResult(m.vcpu.memop(d), PGM.ADDRESSING, what);
          const irq = takeInterrupt(m.vcpu);
          assert.equal(irq.teid, 0n, `${what}: addressing exceptions carry no TEID`);
          assert.equal(irq.accessId, 0, `${what}: access id`);
        } else {
          expectErrno(() => m.vcpu.memop(d), 'EFAULT', what);
          assert.equal(m.vcpu.pendingProgramInterrupt(), null, `${what}: nothing injected for -EFAULT`);
        }
      };
      probe('ALD outside memory');
      // ALD inside memory (ALO → 0x7fff0000 beyond memory, ALL 1): the entry is outside.
      m.mem.write(0x400010n, u32(((0x7fff0000 / 128) << 7) | 1));
      m.vcpu.setState({ cr: [0n, t.asce, 0x400000n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n] });
      probe('ALE outside memory');
    },
  },
  {
    id: 'logical/access-registers/check-only-teid-address',
    topic: 'injection',
    title: 'a check-only store through a fetch-only ALE names the caller\'s address (not yet effective) in its TEID from 5.18 on',
    source: 'gaccess.c check_gva_range hands the raw gva to get_vcpu_asce; access_guest_with_key the effective one; errata',
    run(ctx) {
      requireGuestAccessRegisters(ctx);
      const m = machine(ctx);
      accessListEntry5(m.mem, 0x02000000);
      const ar = new Array<number>(16).fill(0);
      ar[5] = 0x00050005;
      state(m.vcpu, PSW_DAT | PSW_31 | PSW_AS_AR, { 2: 0x400000n }, ar);
      const gaddr = 0x80005010n;
      const asAr = 1n;
      const bits = FSI_STORE | 0x8n | 0x4n | asAr;
      expectResult(m.vcpu.memop({ op: LWRITE, gaddr, size: 8, flags: CHECK | INJECT, ar: 5 }), PGM.PROTECTION, 'check-only store');
      let irq = takeInterrupt(m.vcpu);
      assert.equal(irq.teid, (before518(ctx) ? 0x5000n : 0x80005000n) | bits, 'check-only TEID address');
      assert.equal(irq.accessId, 5);
      expectResult(m.vcpu.memop({ op: LWRITE, gaddr, size: 8, buf: new Uint8Array(8), flags: INJECT, ar: 5 }), PGM.PROTECTION, 'real store');
      irq = takeInterrupt(m.vcpu);
      assert.equal(irq.teid, 0x5000n | bits, 'real access TEID: effective (31-bit) address');
    },
  },
  {
    id: 'logical/access-registers/table-fetches-mark-reference',
    topic: 'storage-keys',
    title: 'the access-list designation, entry and ASTE fetches set R on their pages: the kernel reads them through the host mapping',
    source: 'gaccess.c ar_translation → read_guest_real; the walk of storage-keys/rc/table-fetches; test bed 6.12, 7.2',
    run(ctx) {
      requireGuestAccessRegisters(ctx);
      const m = machine(ctx);
      // ALD on page 0x400, ALE 5 on page 0x410, its ASTE on page 0x420 designating a real space.
      accessListEntry5(m.mem, 0, Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0x20));
      const pages = [0x400, 0x410, 0x420, 0x5];
      const key = 0x30;
      // The table writes marked R and C; set the keys again so that only the fetches can mark.
      for (const gfn of pages) setKeys(m.vm, gfn, Uint8Array.of(key));
      const ar = new Array<number>(16).fill(0);
      ar[5] = 0x00050005;
      state(m.vcpu, PSW_DAT | PSW_64 | PSW_AS_AR, { 2: 0x400000n }, ar);
      expectResult(m.vcpu.memop({ op: LREAD, gaddr: 0x5010n, size: 8, buf: new Uint8Array(8), ar: 5 }), 0, 'read through AR5');
      const keys = pages.map((gfn) => m.vm.getStorageKeys(gfn, 1)![0]);
      const marked = key | STORAGE_KEY.REFERENCE;
      assert.deepEqual(keys, [marked, marked, marked, marked], 'keys of ALD, ALE, ASTE and data pages after a read through AR5');
    },
  },
  {
    id: 'logical/access-registers/host-registers-before-6.9',
    topic: 'access-registers',
    title: "before 6.9 an AR-mode memop translates the host thread's access registers (AR 2-15: 0, the primary space) and leaves them in the vcpu",
    source: 'gaccess.c ar_translation: save_access_regs(vcpu->run->s.regs.acrs) outside SIE; fixed by "KVM: s390: fix access register usage in ioctls" (6.9); test bed 6.1',
    run(ctx) {
      const hostRegisters = PROFILES[ctx.profile].memopUsesHostAccessRegisters;
      const m = machine(ctx);
      const t = new PageTableBuilder(m.mem, { tableArea: { start: 0x1000000n, end: 0x1800000n } }).map(0x5000n, 4096, 0x300000n);
      // AR2 holds an ALET with reserved bits: the guest's own translation refuses it.
      const ars = [0, 0, 0xff000000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
      state(m.vcpu, PSW_DAT | PSW_64 | PSW_AS_AR, { 1: t.asce }, ars);
      const d = { op: LREAD, gaddr: 0x5000n, size: 8, buf: new Uint8Array(8), ar: 2 };
      expectResult(m.vcpu.memop(d), hostRegisters ? 0 : PGM.ALET_SPECIFICATION, 'AR2 with a reserved ALET');
      assert.equal(m.vcpu.getState().ar[2], hostRegisters ? 0 : 0xff000000, 'AR2 afterwards');
    },
  },
];
