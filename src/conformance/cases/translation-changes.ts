// The kernel translates every logical memop from scratch (no TLB between memops): each change
// of an input of a translation must show in the very next memop, whatever path made it. The
// emulated backend keeps a translation buffer (src/emulated/tlb.ts); this case drives every
// path that must empty it right after the translation it changes was used (and so cached).
import { CAP, MEMOP, MEMOP_EXT, MEMOP_F, PGM } from '../../abi/constants.js';
import { PROFILES } from '../../emulated/profiles.js';
import { PageTableBuilder } from '../../guest-tables/page-table-builder.js';
import { assert, expectResult } from '../assertions.js';
import type { ConformanceCase } from '../types.js';
import { CR0_EDAT, PSW_DAT_64, absoluteMemory } from './fixtures.js';

const PSW_AS_AR = 1n << 46n;
const VA = 0x5000n;
/** A virtual page mapped onto the page table that maps VA (stores to tables through DAT). */
const TABLE_ALIAS = 0x9000n;
const u64 = (v: bigint): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, false);
  return b;
};
const u32 = (v: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, false);
  return b;
};

export const translationChangeCases: readonly ConformanceCase[] = [
  {
    id: 'logical/dat/every-change-applies-to-the-next-memop',
    topic: 'dat',
    title: 'a used translation never outlives a change of its inputs: table stores by every path, CRs, EDAT, prefix, ARs, access lists, keys',
    source: 'docs/memop-semantics.md §8.3, §8.4, §8.6 (the kernel walks on every memop)',
    run(ctx) {
      const vm = ctx.createVm({ memorySize: 32n << 20n });
      const mem = absoluteMemory(ctx, vm);
      const vcpu = vm.createVcpu(0);
      const t = new PageTableBuilder(mem, { tableArea: { start: 0x1000000n, end: 0x1400000n } });
      t.map(VA, 4096, 0x300000n).map(0x100000n, 1 << 20, 0x400000n, { frame: '1m' });
      const pte = t.entryAddress(VA, 'page');
      t.map(TABLE_ALIAS, 4096, pte & ~0xfffn);
      for (let i = 0; i < 4; i++) mem.write(0x300010n + BigInt(i) * 0x1000n, Uint8Array.of(0xa0 + i));
      const cr = new Array<bigint>(16).fill(0n);
      cr[0] = CR0_EDAT;
      cr[1] = t.asce;
      vcpu.setState({ psw: { mask: PSW_DAT_64, addr: 0n }, cr, prefix: 0 });
      /** Reads VA+0x10 twice: the second read is the one a translation buffer would answer. */
      const readTwice = (what: string): number => {
        const first = vcpu.memop({ op: MEMOP.LOGICAL_READ, gaddr: VA + 0x10n, size: 1, buf: new Uint8Array(1) });
        const buf = new Uint8Array(1);
        const again = vcpu.memop({ op: MEMOP.LOGICAL_READ, gaddr: VA + 0x10n, size: 1, buf });
        assert.equal(again, first, `${what}: the same answer twice`);
        return again === 0 ? buf[0]! : -again;
      };
      assert.equal(readTwice('first mapping'), 0xa0);

      // Stores into a page-table page: absolute, logical (through DAT), cmpxchg.
      mem.write(pte, u64(0x301000n));
      assert.equal(readTwice('after an absolute store into the page table'), 0xa1);
      vcpu.write(TABLE_ALIAS + (pte & 0xfffn), u64(0x302000n));
      assert.equal(readTwice('after a logical store into the page table'), 0xa2);
      if ((ctx.backend.checkExtension(CAP.S390_MEM_OP_EXTENSION) & MEMOP_EXT.CAP_CMPXCHG) !== 0) {
        const r = vm.compareAndExchange(pte, u64(0x302000n), u64(0x303000n));
        assert.ok(r.exchanged, 'cmpxchg of the page-table entry');
        assert.equal(readTwice('after a cmpxchg of the page-table entry'), 0xa3);
      }
      t.setEntry(VA, 'page', 0x300000n);
      assert.equal(readTwice('after restoring the entry'), 0xa0);

      // A store into a higher-level table, and back.
      const rfte = t.entryAddress(VA, 'region-first');
      const saved = mem.read(rfte, 8);
      t.invalidate(VA, 'region-first');
      assert.equal(readTwice('after invalidating the region-first entry'), -PGM.REGION_FIRST_TRANS);
      mem.write(rfte, saved);
      assert.equal(readTwice('after restoring the region-first entry'), 0xa0);

      // The first store into a table page that a walk read while it was never written (zeros):
      // a segment table at 0x1800000 whose entry 0 is zero designates a page table at 0.
      mem.write(0x28n, u64(0x301000n)); // page-table entry 5 at absolute 0: VA → 0x301000
      vcpu.setState({ cr: cr.map((v, i) => (i === 1 ? 0x1800000n | 3n : v)) });
      assert.equal(readTwice('through a segment table in a page never written'), 0xa1);
      mem.write(0x1800000n, u64(0x20n));
      assert.equal(readTwice('after the first store into that segment table'), -PGM.SEGMENT_TRANSLATION);
      vcpu.setState({ cr });
      assert.equal(readTwice('CR1 back to the five-level tables'), 0xa0);

      // EDAT-1 off in CR0: the 1 MiB entry is read as a segment-table entry designating a
      // page table at 0x400000, whose (zero) entry 0 maps frame 0.
      mem.write(0x400010n, Uint8Array.of(0xe2));
      mem.write(0x10n, Uint8Array.of(0xe1));
      const large = () => vcpu.read(0x100010n, 1)[0];
      assert.equal(large(), 0xe2, 'a 1 MiB frame with EDAT-1');
      assert.equal(large(), 0xe2, 'again');
      vcpu.setState({ cr: cr.map((v, i) => (i === 0 ? 0n : v)) });
      assert.equal(large(), 0xe1, 'the same entry without EDAT-1: a page table, frame 0');
      // The prefix relocates frame 0.
      mem.write(0x20010n, Uint8Array.of(0xe3));
      vcpu.setState({ prefix: 0x20000 });
      assert.equal(large(), 0xe3, 'frame 0 is prefixed after the prefix changed');
      vcpu.setState({ cr, prefix: 0 });

      // Access registers, access lists and ASN-second-table entries (AR mode), on kernels whose
      // memop translates the guest's access registers (before 6.9 it used the host thread's).
      if (!PROFILES[ctx.profile].memopUsesHostAccessRegisters) {
        const s = new PageTableBuilder(mem, { tableArea: { start: 0x1400000n, end: 0x1800000n } }).map(VA, 4096, 0x303000n);
        mem.write(0x500010n, u32(((0x510000 / 128) << 7) | 3)); // DUCT ALD: access list at 0x510000
        const ale = new Uint8Array(16);
        new DataView(ale.buffer).setUint32(0, 5 << 16, false); // valid, ALESN 5
        new DataView(ale.buffer).setUint32(8, 0x520000, false); // ASTE at 0x520000
        new DataView(ale.buffer).setUint32(12, 0x77, false); // ASTESN
        mem.write(0x510000n + 2n * 16n, ale);
        mem.write(0x520008n, u64(s.asce));
        mem.write(0x520014n, u32(0x77));
        const arCr = cr.slice();
        arCr[2] = 0x500000n;
        vcpu.setState({ psw: { mask: PSW_DAT_64 | PSW_AS_AR, addr: 0n }, cr: arCr, ar: [0, 0, 0x00050002, ...new Array<number>(13).fill(0)] });
        const viaAr2 = (what: string): number => {
          const buf = new Uint8Array(1);
          const r = vcpu.memop({ op: MEMOP.LOGICAL_READ, gaddr: VA + 0x10n, size: 1, buf, ar: 2 });
          const again = vcpu.memop({ op: MEMOP.LOGICAL_READ, gaddr: VA + 0x10n, size: 1, buf, ar: 2 });
          assert.equal(again, r, `${what}: the same answer twice`);
          return r === 0 ? buf[0]! : -r;
        };
        assert.equal(viaAr2('AR2 through the access list'), 0xa3);
        vcpu.setState({ ar: new Array<number>(16).fill(0) });
        assert.equal(viaAr2('AR2 = 0: primary space'), 0xa0);
        vcpu.setState({ ar: [0, 0, 0x00050002, ...new Array<number>(13).fill(0)] });
        assert.equal(viaAr2('AR2 set again'), 0xa3);
        mem.write(0x510000n + 2n * 16n, u32(0x80000000 | (5 << 16)));
        assert.equal(viaAr2('after a store invalidating the access-list entry'), -PGM.ALEN_TRANSLATION);
        mem.write(0x510000n + 2n * 16n, ale);
        mem.write(0x520000n, u32(0x80000000));
        assert.equal(viaAr2('after a store invalidating the ASTE'), -PGM.ASTE_VALIDITY);
        mem.write(0x520000n, u32(0));
        assert.equal(viaAr2('ASTE valid again'), 0xa3);
        vcpu.setState({ psw: { mask: PSW_DAT_64, addr: 0n }, cr, ar: new Array<number>(16).fill(0) });
      }

      // Storage keys (kernels with keyed memops): the frame's key decides the very next access.
      if (ctx.backend.checkExtension(CAP.S390_MEM_OP_EXTENSION) > 0) {
        const keyed = () => vcpu.memop({ op: MEMOP.LOGICAL_WRITE, gaddr: VA, size: 1, buf: new Uint8Array(1), flags: MEMOP_F.SKEY_PROTECTION, key: 3 });
        vm.setStorageKeys(0x300, Uint8Array.of(0x30));
        expectResult(keyed(), 0, 'key 3 stores into a frame of ACC 3');
        expectResult(keyed(), 0, 'again');
        vm.setStorageKeys(0x300, Uint8Array.of(0x50));
        expectResult(keyed(), PGM.PROTECTION, 'key 3 refused once the frame has ACC 5');
      }
    },
  },
];
