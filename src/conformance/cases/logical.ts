// Logical accesses through a vcpu, rule by rule (docs/memop-semantics.md §8): addressing modes and wrap,
// prefixing, low-address protection, every DAT level and exception, EDAT frames, access-
// register translation, key protection, injection with its TEID, check-only versus real access.
import { PROFILES } from '../../emulated/profiles.js';
import { MEMOP, MEMOP_F, PGM } from '../../abi/constants.js';
import type { Vcpu } from '../../api/vcpu.js';
import type { Vm } from '../../api/vm.js';
import { PageTableBuilder } from '../../guest-tables/page-table-builder.js';
import { assert, expectBytes, expectErrno, expectResult } from '../assertions.js';
import type { CaseContext, ConformanceCase } from '../types.js';
import { CR0_EDAT, CR0_LAP, LREAD, LWRITE, absoluteMemory, namesTheRule, type AbsoluteMemory, setKeys, requireGuestAccessRegisters } from './fixtures.js';

const INJECT = MEMOP_F.INJECT_EXCEPTION;
const CHECK = MEMOP_F.CHECK_ONLY;
const SKEY = MEMOP_F.SKEY_PROTECTION;
const PSW_DAT = 1n << 58n;
const PSW_EA = 1n << 32n;
const PSW_BA = 1n << 31n;
const PSW_AS_AR = 1n << 46n;
const PSW_AS_HOME = 3n << 46n;
const MODE = { 24: 0n, 31: PSW_BA, 64: PSW_EA | PSW_BA } as const;

interface Machine {
  vm: Vm;
  vcpu: Vcpu;
  mem: AbsoluteMemory;
}

function machine(ctx: CaseContext, memorySize = 32 << 20): Machine {
  const vm = ctx.createVm({ memorySize });
  const mem = absoluteMemory(ctx, vm);
  return { vm, vcpu: vm.createVcpu(0), mem };
}

function setRegs(vcpu: Vcpu, mask: bigint, crs: Record<number, bigint> = {}): void {
  const cr = new Array<bigint>(16).fill(0n);
  for (const [i, v] of Object.entries(crs)) cr[Number(i)] = v;
  vcpu.setState({ psw: { mask, addr: 0n }, cr });
}

/** Tables in 0x1000000.. with a top level; returns the builder. */
function tables(m: Machine, top: 'region-first' | 'region-second' | 'region-third' | 'segment' = 'region-first', privateSpace = false): PageTableBuilder {
  return new PageTableBuilder(m.mem, { tableArea: { start: 0x1000000n, end: 0x1800000n }, top, privateSpace });
}

function injected(vcpu: Vcpu): { code: number; teid: bigint; accessId: number } {
  const irq = vcpu.pendingProgramInterrupt();
  assert.ok(irq !== null, 'a program interrupt is pending');
  vcpu.clearPendingInterrupts();
  return irq;
}

const FSI_STORE = 0x400n;
const FSI_FETCH = 0x800n;

export const logicalCases: readonly ConformanceCase[] = [
  {
    id: 'logical/fresh-vcpu/24-bit-real',
    topic: 'logical',
    title: 'a fresh vcpu has PSW 0: DAT off, 24-bit, so addresses wrap at 16 MiB',
    source: 'docs/memop-semantics.md §11 consequences, §8.2',
    run(ctx) {
      const m = machine(ctx);
      const state = m.vcpu.getState();
      assert.equal(state.psw.mask, 0n);
      assert.equal(state.prefix, 0);
      const data = Uint8Array.of(1, 2, 3, 4);
      m.vcpu.write(0xfffffen, data);
      expectBytes(m.mem.read(0xfffffen, 2), data.subarray(0, 2), 'bytes below 16 MiB');
      expectBytes(m.mem.read(0n, 2), data.subarray(2), 'bytes wrapped to 0');
      m.vcpu.write(0x1234567n, Uint8Array.of(9));
      assert.equal(m.mem.read(0x234567n, 1)[0], 9, 'bits above 24 are dropped');
    },
  },
  {
    id: 'logical/addressing/31-bit-wrap',
    topic: 'logical',
    title: 'in 31-bit mode a range wraps at 2 GiB to real 0',
    source: 'docs/memop-semantics.md §8.2',
    run(ctx) {
      const m = machine(ctx);
      setRegs(m.vcpu, MODE[31]);
      const r = m.vcpu.memop({ op: LWRITE, gaddr: 0x7ffffffen, size: 4, buf: Uint8Array.of(1, 2, 3, 4) });
      expectResult(r, PGM.ADDRESSING, 'the first byte at 2 GiB - 2 is outside a 32 MiB guest');
      m.vcpu.write(0x80001000n, Uint8Array.of(7));
      assert.equal(m.mem.read(0x1000n, 1)[0], 7, 'bit 32 dropped in 31-bit mode');
    },
  },
  {
    id: 'logical/addressing/64-bit-real-outside',
    topic: 'logical',
    title: 'in 64-bit mode with DAT off a high address is outside memory (PGM_ADDRESSING, TEID 0)',
    source: 'docs/memop-semantics.md §8.5, §8.9',
    run(ctx) {
      const m = machine(ctx);
      setRegs(m.vcpu, MODE[64]);
      expectResult(m.vcpu.memop({ op: LREAD, gaddr: 0x80001000n, size: 8, buf: new Uint8Array(8), flags: INJECT }), PGM.ADDRESSING);
      const irq = injected(m.vcpu);
      assert.equal(irq.code, PGM.ADDRESSING);
      assert.equal(irq.teid, 0n, 'addressing exceptions carry no TEID');
      assert.equal(irq.accessId, 0);
    },
  },
  {
    id: 'logical/prefixing/swap',
    topic: 'logical',
    title: 'prefixing swaps real 0..8191 and the prefix area, both ways',
    source: 'docs/memop-semantics.md §8.6.1',
    run(ctx) {
      const m = machine(ctx);
      setRegs(m.vcpu, MODE[64]);
      m.vcpu.setState({ prefix: 0x10000 });
      m.vcpu.write(0x10n, Uint8Array.of(0xa1));
      m.vcpu.write(0x10010n, Uint8Array.of(0xb2));
      m.vcpu.write(0x2000n, Uint8Array.of(0xc3));
      assert.equal(m.mem.read(0x10010n, 1)[0], 0xa1, 'real 0x10 → absolute prefix + 0x10');
      assert.equal(m.mem.read(0x10n, 1)[0], 0xb2, 'real prefix + 0x10 → absolute 0x10');
      assert.equal(m.mem.read(0x2000n, 1)[0], 0xc3, 'real 0x2000 is outside both areas');
      expectBytes(m.vcpu.read(0x1fffn, 2), Uint8Array.of(m.mem.read(0x11fffn, 1)[0]!, 0xc3), 'a read across the area end');
      assert.equal(m.vcpu.getState().prefix, 0x10000);
    },
  },
  {
    id: 'logical/lap/store-refused',
    topic: 'protection',
    title: 'low-address protection refuses stores to 0..511 and 4096..4607, not fetches, with TEID bit 56',
    source: 'docs/memop-semantics.md §8.5, §8.9; errata: the TEID exists before 5.18 too (gaccess.c trans_exc)',
    run(ctx) {
      const m = machine(ctx);
      setRegs(m.vcpu, MODE[64], { 0: CR0_LAP });
      for (const gaddr of [0n, 0x1ffn, 0x1000n, 0x11ffn]) {
        expectResult(m.vcpu.check(gaddr, 1, 'write'), PGM.PROTECTION, `store to 0x${gaddr.toString(16)}`);
      }
      for (const gaddr of [0x200n, 0xfffn, 0x1200n, 0x2000n]) {
        expectResult(m.vcpu.check(gaddr, 1, 'write'), 0, `store to 0x${gaddr.toString(16)}`);
      }
      expectResult(m.vcpu.check(0n, 16, 'read'), 0, 'fetch from 0');
      expectResult(m.vcpu.memop({ op: LWRITE, gaddr: 0x1100n, size: 4, buf: new Uint8Array(4), flags: INJECT, ar: 3 }), PGM.PROTECTION);
      const irq = injected(m.vcpu);
      // trans_exc builds this TEID for LAP on every kernel since 4.8 (gaccess.c guest_page_range).
      assert.equal(irq.teid, 0x1000n | FSI_STORE | 0x80n, 'TEID: page, FSI store, bit 56');
      assert.equal(irq.accessId, 3);
      assert.throws(() => m.vcpu.write(0x100n, new Uint8Array(1)), (e: unknown) => namesTheRule(ctx, e, /low-address protection/));
    },
  },
  {
    id: 'logical/lap/before-translation',
    topic: 'protection',
    title: 'LAP is checked before translation: a store to 0x100 with an invalid page gives 4, not 0x11',
    source: 'docs/memop-semantics.md §14',
    run(ctx) {
      const m = machine(ctx);
      const t = tables(m).map(0x2000n, 4096, 0x300000n).invalidate(0n, 'page');
      setRegs(m.vcpu, PSW_DAT | MODE[64], { 0: CR0_LAP, 1: t.asce });
      expectResult(m.vcpu.check(0x100n, 8, 'write'), PGM.PROTECTION, 'store');
      expectResult(m.vcpu.check(0x100n, 8, 'read'), PGM.PAGE_TRANSLATION, 'fetch');
    },
  },
  {
    id: 'logical/lap/private-space',
    topic: 'protection',
    title: 'a private-space ASCE turns low-address protection off',
    source: 'docs/memop-semantics.md §8.5',
    run(ctx) {
      const m = machine(ctx);
      const t = tables(m, 'region-first', true).map(0n, 8192, 0x300000n);
      setRegs(m.vcpu, PSW_DAT | MODE[64], { 0: CR0_LAP, 1: t.asce });
      expectResult(m.vcpu.check(0x100n, 8, 'write'), 0, 'store with a private ASCE');
    },
  },
  {
    id: 'logical/dat/every-level',
    topic: 'dat',
    title: 'translation through region-first, -second, -third and segment top levels lands on the mapped frame',
    source: 'docs/memop-semantics.md §8.6',
    run(ctx) {
      for (const [top, va] of [['region-first', 0x7f0012345000n], ['region-second', 0x3f012345000n], ['region-third', 0x3f2345000n], ['segment', 0x12345000n]] as const) {
        const m = machine(ctx);
        const t = tables(m, top).map(va, 8192, 0x300000n);
        setRegs(m.vcpu, PSW_DAT | MODE[64], { 1: t.asce });
        const data = ctx.randomBytes(8192);
        m.vcpu.write(va, data);
        expectBytes(m.mem.read(0x300000n, 8192), data, `${top}: absolute frame`);
        expectBytes(m.vcpu.read(va + 100n, 5000), data.subarray(100, 5100), `${top}: read back`);
      }
    },
  },
  {
    id: 'logical/dat/exceptions',
    topic: 'dat',
    title: 'each translation exception: 0x10, 0x11, 0x12, 0x38, 0x39, 0x3a, 0x3b and 5, with the TEID of each',
    source: 'docs/memop-semantics.md §8.6, §8.9',
    run(ctx) {
      const va = 0x7f0012345000n;
      const run = (top: 'region-first' | 'region-second' | 'region-third' | 'segment', edit: (t: PageTableBuilder) => void, gaddr: bigint, code: number, what: string) => {
        const m = machine(ctx);
        const t = tables(m, top).map(va & ((1n << 31n) - 1n), 4096, 0x300000n);
        if (top === 'region-first') t.map(va, 4096, 0x301000n);
        edit(t);
        setRegs(m.vcpu, PSW_DAT | MODE[64], { 1: t.asce });
        expectResult(m.vcpu.memop({ op: LREAD, gaddr, size: 8, buf: new Uint8Array(8), flags: INJECT, ar: 2 }), code, what);
        const irq = injected(m.vcpu);
        const withAddress = [PGM.SEGMENT_TRANSLATION, PGM.PAGE_TRANSLATION, PGM.ASCE_TYPE, PGM.REGION_FIRST_TRANS, PGM.REGION_SECOND_TRANS, PGM.REGION_THIRD_TRANS] as number[];
        const expectedTeid = withAddress.includes(code) ? (gaddr & ~0xfffn) | FSI_FETCH : 0n;
        assert.equal(irq.teid, expectedTeid, `${what}: TEID`);
        assert.equal(irq.accessId, withAddress.includes(code) ? 2 : 0, `${what}: access id`);
      };
      run('region-first', (t) => t.invalidate(va, 'page'), va, PGM.PAGE_TRANSLATION, 'page invalid');
      run('region-first', (t) => t.invalidate(va, 'segment'), va, PGM.SEGMENT_TRANSLATION, 'segment invalid');
      run('region-first', (t) => t.invalidate(va, 'region-third'), va, PGM.REGION_THIRD_TRANS, 'region-third invalid');
      run('region-first', (t) => t.invalidate(va, 'region-second'), va, PGM.REGION_SECOND_TRANS, 'region-second invalid');
      run('region-first', (t) => t.invalidate(va, 'region-first'), va, PGM.REGION_FIRST_TRANS, 'region-first invalid');
      run('region-first', (t) => t.setEntry(va, 'page', 0x301000n | 0x800n), va, PGM.TRANSLATION_SPEC, 'page entry with bit 52');
      run('region-first', (t) => t.setEntry(va, 'segment', t.entryAddress(va, 'page') & ~0x7ffn | 0x4n), va, PGM.TRANSLATION_SPEC, 'segment entry with table type 1');
      run('region-first', (t) => t.setEntry(va, 'page', 0x7f000000n), va, PGM.ADDRESSING, 'page frame outside memory');
      run('region-first', (t) => t.setEntry(va, 'segment', 0x7f000000n), va, PGM.ADDRESSING, 'page table outside memory');
      run('segment', () => {}, 0x80000000n, PGM.ASCE_TYPE, 'address above 2 GiB with a segment-table ASCE');
      run('region-third', () => {}, 1n << 42n, PGM.ASCE_TYPE, 'address above 4 TiB with a region-third ASCE');
      run('region-second', () => {}, 1n << 53n, PGM.ASCE_TYPE, 'address above 8 PiB with a region-second ASCE');
    },
  },
  {
    id: 'logical/dat/table-length',
    topic: 'dat',
    title: 'an ASCE or entry table length too short for the index gives the next level\'s exception',
    source: 'docs/memop-semantics.md §8.6',
    run(ctx) {
      const m = machine(ctx);
      const va = 0xc000000000000000n;
      const t = tables(m).map(va, 4096, 0x300000n);
      setRegs(m.vcpu, PSW_DAT | MODE[64], { 1: (t.asce & ~3n) | 2n });
      expectResult(m.vcpu.check(va, 8, 'read'), PGM.REGION_FIRST_TRANS, 'RFX01 3 > ASCE TL 2');
      setRegs(m.vcpu, PSW_DAT | MODE[64], { 1: t.asce });
      expectResult(m.vcpu.check(va, 8, 'read'), 0, 'full length');
      const rfte = new DataView(m.mem.read(t.entryAddress(va, 'region-first'), 8).buffer).getBigUint64(0, false);
      t.setEntry(va, 'region-first', (rfte & ~0xc0n) | (1n << 6n));
      expectResult(m.vcpu.check(va, 8, 'read'), PGM.REGION_SECOND_TRANS, 'RSX01 0 below the entry table offset 1');
      t.setEntry(va, 'region-first', rfte);
      const segmentVa = 0x7fff000n;
      t.map(segmentVa, 4096, 0x301000n);
      const rtte = new DataView(m.mem.read(t.entryAddress(segmentVa, 'region-third'), 8).buffer).getBigUint64(0, false);
      t.setEntry(segmentVa, 'region-third', (rtte & ~3n) | 0n);
      expectResult(m.vcpu.check(0x60000000n, 8, 'read'), PGM.SEGMENT_TRANSLATION, 'SX01 3 beyond the region-third entry table length 0');
    },
  },
  {
    id: 'logical/dat/protection',
    topic: 'dat',
    title: 'a protected page or segment refuses stores (TEID bit 61) and allows fetches',
    source: 'docs/memop-semantics.md §8.6, §8.9',
    run(ctx) {
      const m = machine(ctx);
      const t = tables(m).map(0x10000n, 4096, 0x300000n, { protect: true });
      setRegs(m.vcpu, PSW_DAT | MODE[64], { 1: t.asce });
      expectResult(m.vcpu.check(0x10000n, 8, 'read'), 0, 'fetch');
      expectResult(m.vcpu.memop({ op: LWRITE, gaddr: 0x10008n, size: 8, buf: new Uint8Array(8), flags: INJECT }), PGM.PROTECTION, 'store');
      const irq = injected(m.vcpu);
      assert.equal(irq.teid, 0x10000n | FSI_STORE | 0x4n, 'TEID: page, FSI store, bit 61');
    },
  },
  {
    id: 'logical/dat/edat-frames',
    topic: 'dat',
    title: 'EDAT-1 1 MiB and EDAT-2 2 GiB frames translate as absolute addresses; without CR0 EDAT the entry is a table pointer',
    source: 'docs/memop-semantics.md §8.6',
    run(ctx) {
      const m = machine(ctx, 64 << 20);
      const t = tables(m).map(0x40000000000n, 0x100000, 0x2000000n, { frame: '1m' });
      setRegs(m.vcpu, PSW_DAT | MODE[64], { 0: CR0_EDAT, 1: t.asce });
      m.vcpu.write(0x40000012345n, Uint8Array.of(0x5c));
      assert.equal(m.mem.read(0x2012345n, 1)[0], 0x5c, '1 MiB frame');
      setRegs(m.vcpu, PSW_DAT | MODE[64], { 1: t.asce });
      // Without CR0 EDAT the entry designates a page table at 0x2000000, whose zero entries map
      // page frame 0: the read comes from absolute 0x345, not from the 1 MiB frame.
      m.mem.write(0x345n, Uint8Array.of(0x77));
      assert.equal(m.vcpu.read(0x40000012345n, 1)[0], 0x77, 'without EDAT');
      const m2 = machine(ctx);
      const t2 = tables(m2).map(0x80000000n, 0x80000000n, 0n, { frame: '2g' });
      setRegs(m2.vcpu, PSW_DAT | MODE[64], { 0: CR0_EDAT, 1: t2.asce });
      if (!m2.vm.facilities.edat2) {
        // A machine without facility 78 (the Hercules test bed): the entry with FC set
        // designates a segment table at absolute 0, whose zero entries are valid and lead to
        // a page table at 0 whose zero entries map page frame 0.
        m2.vcpu.write(0x80000000n + 0x123456n, Uint8Array.of(0x6d));
        assert.equal(m2.mem.read(0x456n, 1)[0], 0x6d, 'no EDAT-2: the 2 GiB entry is a table pointer');
        assert.equal(m2.mem.read(0x123456n, 1)[0], 0, 'no EDAT-2: nothing reaches the would-be frame');
        return;
      }
      m2.vcpu.write(0x80000000n + 0x123456n, Uint8Array.of(0x6d));
      assert.equal(m2.mem.read(0x123456n, 1)[0], 0x6d, '2 GiB frame at absolute 0');
      expectResult(m2.vcpu.check(0x80000000n + 0x2000000n, 1, 'read'), PGM.ADDRESSING, '2 GiB frame beyond memory');
    },
  },
  {
    id: 'logical/dat/edat-facilities',
    topic: 'dat',
    title: 'without facility 8 a segment entry with FC set is a page-table pointer even with CR0 EDAT; without 78 so is a 2 GiB entry',
    source: 'docs/memop-semantics.md §8.6 (edat1 := CR0 bit 40 && facility 8)',
    run(ctx) {
      let created: Vm | undefined;
      try {
        created = ctx.createVm({ memorySize: 32 << 20, facilities: { edat1: false } });
      } catch (err) {
        ctx.skip(`this backend cannot remove guest facilities: ${(err as Error).message}`);
      }
      const vm = created!;
      const m: Machine = { vm, vcpu: vm.createVcpu(0), mem: absoluteMemory(ctx, vm) };
      const t = tables(m).map(0x40000000000n, 0x100000, 0x1000000n, { frame: '1m' });
      setRegs(m.vcpu, PSW_DAT | MODE[64], { 0: CR0_EDAT, 1: t.asce });
      m.mem.write(0x345n, Uint8Array.of(0x66));
      assert.equal(m.vcpu.read(0x40000012345n, 1)[0], 0x66, 'the 1 MiB entry designates a page table of zero entries');
      const vm2 = ctx.createVm({ memorySize: 32 << 20, facilities: { edat2: false } });
      const m2: Machine = { vm: vm2, vcpu: vm2.createVcpu(0), mem: absoluteMemory(ctx, vm2) };
      const t2 = tables(m2).map(0x80000000n, 0x80000000n, 0n, { frame: '2g' });
      setRegs(m2.vcpu, PSW_DAT | MODE[64], { 0: CR0_EDAT, 1: t2.asce });
      // Without facility 78 the entry designates a segment table at absolute 0; its zero
      // entry designates a page table at 0, whose entry 1 (absolute 8) we point at 0x300000.
      const pte = new Uint8Array(8);
      new DataView(pte.buffer).setBigUint64(0, 0x300000n, false);
      m2.mem.write(8n, pte);
      m2.mem.write(0x300123n, Uint8Array.of(0x44));
      m2.mem.write(0x1123n, Uint8Array.of(0x55));
      assert.equal(m2.vcpu.read(0x80001123n, 1)[0], 0x44, 'walked as region-third → segment → page');
    },
  },
  {
    id: 'logical/dat/table-updates-visible',
    topic: 'dat',
    title: 'the kernel walks the guest tables on every memop: an edited entry or a new prefix applies at once',
    source: 'docs/memop-semantics.md §8.6 (no TLB between memops)',
    run(ctx) {
      const m = machine(ctx);
      const t = tables(m).map(0x5000n, 4096, 0x300000n).map(0x6000n, 4096, 0n);
      setRegs(m.vcpu, PSW_DAT | MODE[64], { 1: t.asce });
      m.mem.write(0x300010n, Uint8Array.of(1));
      m.mem.write(0x301010n, Uint8Array.of(2));
      assert.equal(m.vcpu.read(0x5010n, 1)[0], 1, 'first mapping');
      t.setEntry(0x5000n, 'page', 0x301000n);
      assert.equal(m.vcpu.read(0x5010n, 1)[0], 2, 'after the page-table entry changed');
      t.invalidate(0x5000n, 'page');
      expectResult(m.vcpu.check(0x5010n, 1, 'read'), PGM.PAGE_TRANSLATION, 'after invalidation');
      t.setEntry(0x5000n, 'page', 0x301000n | 0x200n);
      expectResult(m.vcpu.check(0x5010n, 1, 'read'), 0, 'protected page: fetch');
      expectResult(m.vcpu.check(0x5010n, 1, 'write'), PGM.PROTECTION, 'protected page: store');
      m.mem.write(0x20010n, Uint8Array.of(3));
      assert.equal(m.vcpu.read(0x6010n, 1)[0], m.mem.read(0x10n, 1)[0], 'frame 0 with prefix 0');
      m.vcpu.setState({ prefix: 0x20000 });
      assert.equal(m.vcpu.read(0x6010n, 1)[0], 3, 'frame 0 is prefixed after the prefix changed');
    },
  },
  {
    id: 'logical/dat/large-frames-not-prefixed',
    topic: 'dat',
    title: 'frame addresses from large-frame entries are absolute: no prefixing',
    source: 'docs/memop-semantics.md §14',
    run(ctx) {
      const m = machine(ctx);
      const t = tables(m).map(0x100000n, 0x100000, 0n, { frame: '1m' }).map(0x300000n, 4096, 0n);
      setRegs(m.vcpu, PSW_DAT | MODE[64], { 0: CR0_EDAT, 1: t.asce });
      m.vcpu.setState({ prefix: 0x20000 });
      m.vcpu.write(0x100010n, Uint8Array.of(0x11));
      assert.equal(m.mem.read(0x10n, 1)[0], 0x11, '1 MiB frame at 0 is absolute 0');
      m.vcpu.write(0x300020n, Uint8Array.of(0x22));
      assert.equal(m.mem.read(0x20020n, 1)[0], 0x22, 'a 4 KiB frame at real 0 is prefixed');
    },
  },
  {
    id: 'logical/address-spaces/secondary-home',
    topic: 'dat',
    title: 'PSW AS selects CR1 (primary), CR7 (secondary) or CR13 (home)',
    source: 'docs/memop-semantics.md §8.3',
    run(ctx) {
      const m = machine(ctx);
      const p = tables(m).map(0x5000n, 4096, 0x300000n);
      const s = new PageTableBuilder(m.mem, { tableArea: { start: 0x1800000n, end: 0x1a00000n } }).map(0x5000n, 4096, 0x301000n);
      const h = new PageTableBuilder(m.mem, { tableArea: { start: 0x1a00000n, end: 0x1c00000n } }).map(0x5000n, 4096, 0x302000n);
      const crs = { 1: p.asce, 7: s.asce, 13: h.asce };
      for (const [as, abs] of [[0n, 0x300000n], [2n, 0x301000n], [3n, 0x302000n]] as const) {
        setRegs(m.vcpu, PSW_DAT | MODE[64] | (as << 46n), crs);
        m.vcpu.write(0x5000n, Uint8Array.of(Number(as) + 1));
        assert.equal(m.mem.read(abs, 1)[0], Number(as) + 1, `AS ${as}`);
      }
      setRegs(m.vcpu, PSW_DAT | MODE[64] | PSW_AS_HOME, crs);
      expectResult(m.vcpu.memop({ op: LREAD, gaddr: 0x5000n, size: 8, buf: new Uint8Array(8), flags: INJECT }), 0);
      assert.equal(m.vcpu.pendingProgramInterrupt(), null, 'no interrupt after success');
    },
  },
  {
    id: 'logical/access-registers/exceptions',
    topic: 'access-registers',
    title: 'AR mode: ALET 1 is secondary, reserved bits 0x28, invalid ALE 0x29, sequence 0x2a, ASTE 0x2b/0x2c, fetch-only ALE 4',
    source: 'docs/memop-semantics.md §8.4, §8.9',
    run(ctx) {
      requireGuestAccessRegisters(ctx);
      const m = machine(ctx);
      const p = tables(m).map(0x5000n, 4096, 0x300000n);
      const s = new PageTableBuilder(m.mem, { tableArea: { start: 0x1800000n, end: 0x1a00000n } }).map(0x5000n, 4096, 0x301000n);
      const o = new PageTableBuilder(m.mem, { tableArea: { start: 0x1a00000n, end: 0x1c00000n } }).map(0x5000n, 4096, 0x302000n);
      // DUCT at 0x400000: ALD word at +16 (ALO 0x410000/128, ALL 1 → entries 0..15).
      const word = (v: number) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, false); return b; };
      const u64 = (v: bigint) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, v, false); return b; };
      m.mem.write(0x400010n, word(((0x410000 / 128) << 7) | 3));
      // ALE 2: valid, ALESN 5, ASTE at 0x420000, ASTESN 0x77.
      const ale = (flags: number, alesn: number, asteAddr: number, astesn: number) => {
        const b = new Uint8Array(16);
        const v = new DataView(b.buffer);
        v.setUint32(0, flags | (alesn << 16), false);
        v.setUint32(8, (asteAddr / 64) << 6, false);
        v.setUint32(12, astesn, false);
        return b;
      };
      m.mem.write(0x410000n + 2n * 16n, ale(0, 5, 0x420000, 0x77));
      m.mem.write(0x410000n + 3n * 16n, ale(0x80000000, 5, 0x420000, 0x77));
      m.mem.write(0x410000n + 4n * 16n, ale(0, 5, 0x420000, 0x78));
      m.mem.write(0x410000n + 5n * 16n, ale(0x02000000, 5, 0x420000, 0x77));
      m.mem.write(0x410000n + 6n * 16n, ale(0, 5, 0x420040, 0x77));
      // ALE 10: private, ALEAX 5; with EAX 7 and authority-table byte 0 the access is refused.
      m.mem.write(0x410000n + 10n * 16n, ale(0x01000005, 5, 0x420000, 0x77));
      m.mem.write(0x420000n + 8n, u64(o.asce));
      m.mem.write(0x420000n + 20n, word(0x77));
      m.mem.write(0x420040n, word(0x80000000));
      const acrs = [0, 1, 0x00050002, 0x00050003, 0x00050004, 0x00050005, 0x00050006, 0x00060002, 0x80000002, 0, 0x0005000a, 0, 0, 0, 0, 0];
      const cr = new Array<bigint>(16).fill(0n);
      cr[1] = p.asce;
      cr[7] = s.asce;
      cr[2] = 0x400000n;
      cr[8] = 7n << 16n;
      m.vcpu.setState({ psw: { mask: PSW_DAT | MODE[64] | PSW_AS_AR, addr: 0n }, cr, ar: acrs });
      const probe = (ar: number, mode: 'read' | 'write') => m.vcpu.memop({ op: mode === 'read' ? LREAD : LWRITE, gaddr: 0x5000n, size: 4, buf: new Uint8Array(4), flags: INJECT, ar });
      m.vcpu.write(0x5000n, Uint8Array.of(0xa0), { ar: 0 });
      assert.equal(m.mem.read(0x300000n, 1)[0], 0xa0, 'AR0 always means primary');
      m.vcpu.write(0x5000n, Uint8Array.of(0xa1), { ar: 1 });
      assert.equal(m.mem.read(0x301000n, 1)[0], 0xa1, 'ALET 1 means secondary');
      m.vcpu.write(0x5000n, Uint8Array.of(0xa2), { ar: 2 });
      assert.equal(m.mem.read(0x302000n, 1)[0], 0xa2, 'ALET 0x00050002 through the ASTE');
      const expectCode = (ar: number, mode: 'read' | 'write', code: number, teid: bigint, accessId: number, what: string) => {
        expectResult(probe(ar, mode), code, what);
        const irq = injected(m.vcpu);
        assert.equal(irq.teid, teid, `${what}: TEID`);
        assert.equal(irq.accessId, accessId, `${what}: access id`);
      };
      expectCode(8, 'read', PGM.ALET_SPECIFICATION, 0n, 0, 'ALET reserved bits');
      expectCode(3, 'read', PGM.ALEN_TRANSLATION, 0n, 3, 'invalid ALE');
      expectCode(7, 'read', PGM.ALE_SEQUENCE, 0n, 7, 'ALE sequence');
      expectCode(4, 'read', PGM.ASTE_SEQUENCE, 0n, 4, 'ASTE sequence');
      expectCode(6, 'read', PGM.ASTE_VALIDITY, 0n, 6, 'invalid ASTE');
      expectResult(probe(5, 'read'), 0, 'fetch through a fetch-only ALE');
      expectCode(5, 'write', PGM.PROTECTION, 0x5000n | FSI_STORE | 0xcn | 1n, 5, 'store through a fetch-only ALE (TEID AS bits = 01, AR mode)');
      expectCode(10, 'read', PGM.EXTENDED_AUTHORITY, 0n, 10, 'private ALE without authority');
      m.vcpu.setState({ ar: acrs.map((v, i) => (i === 9 ? 0x00050000 | 40 : v)) });
      expectCode(9, 'read', PGM.ALEN_TRANSLATION, 0n, 9, 'ALEN beyond the access-list length');
    },
  },
  {
    id: 'logical/keys/check-only-differs-from-real',
    topic: 'protection',
    title: 'key-protected first page, untranslatable second: check-only says 4, the real access the translation code',
    source: 'docs/memop-semantics.md §8.8',
    run(ctx) {
      ctx.requireExtension(1);
      const m = machine(ctx);
      const t = tables(m).map(0x10000n, 4096, 0x300000n);
      setKeys(m.vm, 0x300, Uint8Array.of(0x30));
      setRegs(m.vcpu, PSW_DAT | MODE[64], { 1: t.asce });
      expectResult(m.vcpu.memop({ op: LWRITE, gaddr: 0x10000n, size: 8192, flags: CHECK | SKEY, key: 5 }), PGM.PROTECTION, 'check-only');
      expectResult(m.vcpu.memop({ op: LWRITE, gaddr: 0x10000n, size: 8192, buf: new Uint8Array(8192), flags: SKEY, key: 5 }), PGM.PAGE_TRANSLATION, 'real access');
      expectBytes(m.mem.read(0x300000n, 8), new Uint8Array(8), 'nothing stored');
    },
  },
  {
    id: 'logical/keys/reason-and-teid',
    topic: 'protection',
    title: 'a key refusal injects TEID bit 60 and the exception says which key and storage key',
    source: 'docs/memop-semantics.md §8.7, §8.9',
    run(ctx) {
      ctx.requireExtension(1);
      const m = machine(ctx);
      setRegs(m.vcpu, MODE[64]);
      setKeys(m.vm, 3, Uint8Array.of(0x38));
      expectResult(m.vcpu.memop({ op: LREAD, gaddr: 0x3010n, size: 8, buf: new Uint8Array(8), flags: SKEY | INJECT, key: 5, ar: 1 }), PGM.PROTECTION);
      const irq = injected(m.vcpu);
      assert.equal(irq.teid, 0x3000n | FSI_FETCH | 0x8n, 'TEID: page, FSI fetch, bit 60');
      assert.equal(irq.accessId, 1);
      const storageKey = `0x${m.vm.getStorageKeys(3, 1)![0]!.toString(16)}`;
      assert.throws(() => m.vcpu.read(0x3010n, 8, { key: 5 }), (e: unknown) =>
        namesTheRule(ctx, e, new RegExp(`key 5.*${storageKey}`)),
      );
    },
  },
  {
    id: 'logical/keys/absent-before-5.18',
    topic: 'protection',
    title: 'before 5.18 the SKEY flag is unknown (EINVAL) and keys are never checked',
    source: 'docs/memop-semantics.md §4.1, §0.1',
    run(ctx) {
      if (ctx.backend.checkExtension(211) !== 0) ctx.skip('this kernel checks keys on logical accesses');
      const m = machine(ctx);
      expectErrno(() => m.vcpu.memop({ op: LREAD, gaddr: 0n, size: 8, buf: new Uint8Array(8), flags: SKEY, key: 1 }), 'EINVAL', 'SKEY flag');
      setKeys(m.vm, 0, Uint8Array.of(0xf8));
      expectResult(m.vcpu.check(0n, 8, 'write'), 0, 'no key checks');
    },
  },
  {
    id: 'logical/validation/order',
    topic: 'logical',
    title: 'several bad fields at once: E2BIG before ar ≥ 16 from 6.3 on, one EINVAL before',
    source: 'docs/memop-semantics.md §4.1 [diff]',
    run(ctx) {
      const m = machine(ctx);
      const expected = PROFILES[ctx.profile].commonValidation ? 'E2BIG' : 'EINVAL';
      expectErrno(() => m.vcpu.memop({ op: LREAD, size: 0x20000, buf: null, ar: 17 }), expected, 'size 0x20000 and ar 17');
      expectErrno(() => m.vcpu.memop({ op: LREAD, size: 8, buf: new Uint8Array(8), ar: 16 }), 'EINVAL', 'ar 16 in primary mode');
      expectErrno(() => m.vcpu.memop({ op: MEMOP.ABSOLUTE_READ, size: 8, buf: new Uint8Array(8) }), 'EINVAL', 'absolute op on a vcpu');
      expectErrno(() => m.vcpu.memop({ op: LREAD, size: 8, buf: null }), 'EFAULT', 'a successful read into NULL');
      expectResult(m.vcpu.memop({ op: LREAD, size: 8, buf: null, flags: CHECK }), 0, 'check-only with NULL');
    },
  },
  {
    id: 'sida/protected-vcpu',
    topic: 'sida',
    title: 'SIDA read/write on a protected vcpu, and every SIDA errno',
    source: 'docs/memop-semantics.md §7',
    run(ctx) {
      const vm = ctx.createVm();
      let created: Vcpu | undefined;
      try {
        created = vm.createVcpu(1, { protected: true, sidaPages: 2 });
      } catch (err) {
        ctx.skip(`no protected vcpu on this backend: ${(err as Error).message}`);
      }
      const vcpu = created!;
      const data = ctx.randomBytes(64);
      vcpu.writeSida(8000, data);
      expectBytes(vcpu.readSida(8000, 64), data, 'SIDA round trip');
      expectErrno(() => vcpu.memop({ op: MEMOP.SIDA_READ, size: 8, buf: new Uint8Array(8), flags: 1, sidaOffset: 0 }), 'EINVAL', 'flags');
      expectErrno(() => vcpu.memop({ op: MEMOP.SIDA_READ, size: 0, buf: new Uint8Array(8), sidaOffset: 0 }), 'EINVAL', 'size 0');
      expectErrno(() => vcpu.memop({ op: MEMOP.SIDA_READ, size: 8, buf: null, sidaOffset: 0xfffffffc }), 'EINVAL', 'offset + size overflows u32');
      expectErrno(() => vcpu.memop({ op: MEMOP.SIDA_READ, size: 8, buf: new Uint8Array(8), sidaOffset: 8190 }), 'E2BIG', 'beyond the SIDA');
      expectErrno(() => vcpu.memop({ op: MEMOP.SIDA_WRITE, size: 8, buf: null, sidaOffset: 0 }), 'EFAULT', 'NULL buf');
      expectErrno(() => vcpu.memop({ op: LREAD, size: 8, buf: new Uint8Array(8) }), 'EINVAL', 'logical access on a protected vcpu');
    },
  },
  {
    id: 'logical/vcpu/reset-and-interrupts',
    topic: 'injection',
    title: 'initial reset sets CR0 0xE0, CR14 0xC2000000, PSW and prefix 0, and drops the pending interrupt',
    source: 'docs/memop-semantics.md §11',
    run(ctx) {
      const m = machine(ctx);
      setRegs(m.vcpu, MODE[64], { 0: CR0_LAP, 5: 0x1234n });
      m.vcpu.setState({ prefix: 0x8000, ar: new Array(16).fill(7) });
      expectResult(m.vcpu.memop({ op: LWRITE, gaddr: 0n, size: 1, buf: new Uint8Array(1), flags: INJECT }), PGM.PROTECTION);
      assert.ok(m.vcpu.pendingProgramInterrupt() !== null);
      m.vcpu.reset('initial');
      const s = m.vcpu.getState();
      assert.equal(s.psw.mask, 0n);
      assert.equal(s.prefix, 0);
      assert.deepEqual(s.cr, [0xe0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0xc2000000n, 0n]);
      assert.equal(s.ar[3], 7, 'initial reset keeps the access registers');
      assert.equal(m.vcpu.pendingProgramInterrupt(), null);
      m.vcpu.reset('clear');
      assert.deepEqual(m.vcpu.getState().ar, new Array(16).fill(0), 'clear reset zeroes the access registers');
    },
  },
  {
    id: 'logical/injection/last-one-wins',
    topic: 'injection',
    title: 'a second injected exception replaces the pending one; a successful memop leaves it pending',
    source: 'interrupt.c __inject_prog (non-PER code, TEID and access ids are overwritten)',
    run(ctx) {
      const m = machine(ctx);
      const t = tables(m).map(0x5000n, 4096, 0x300000n).invalidate(0x5000n, 'page');
      setRegs(m.vcpu, PSW_DAT | MODE[64], { 0: CR0_LAP, 1: t.asce });
      expectResult(m.vcpu.memop({ op: LREAD, gaddr: 0x5000n, size: 8, buf: new Uint8Array(8), flags: INJECT, ar: 4 }), PGM.PAGE_TRANSLATION);
      expectResult(m.vcpu.memop({ op: LWRITE, gaddr: 0x1000n, size: 8, buf: new Uint8Array(8), flags: INJECT, ar: 6 }), PGM.PROTECTION);
      expectResult(m.vcpu.memop({ op: LREAD, gaddr: 0x5000n, size: 8, flags: CHECK, ar: 9 }), PGM.PAGE_TRANSLATION, 'a failing memop without INJECT');
      const irq = m.vcpu.pendingProgramInterrupt();
      assert.ok(irq !== null);
      assert.equal(irq.code, PGM.PROTECTION, 'the later code');
      assert.equal(irq.teid, 0x1000n | FSI_STORE | 0x80n, 'the later TEID');
      assert.equal(irq.accessId, 6, 'the later access id');
      m.vcpu.setState({ psw: { mask: MODE[64], addr: 0n } });
      expectResult(m.vcpu.memop({ op: LREAD, gaddr: 0x3000n, size: 8, buf: new Uint8Array(8), flags: INJECT }), 0, 'a successful memop');
      assert.equal(m.vcpu.pendingProgramInterrupt()?.code, PGM.PROTECTION, 'still pending after a success');
    },
  },
];
