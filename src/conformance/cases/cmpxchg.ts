// ABSOLUTE_CMPXCHG: selftest T4, T10, T11 and docs/memop-semantics.md §6.
import { MEMOP, MEMOP_F, PGM } from '../../abi/constants.js';
import type { Vm } from '../../api/vm.js';
import { assert, expectBytes, expectErrno, expectFilled, expectResult } from '../assertions.js';
import type { CaseContext, ConformanceCase } from '../types.js';
import { keyed, setKeys } from './fixtures.js';

const A1 = 0x100000n;
const A2 = 0x200000n;
const X = MEMOP.ABSOLUTE_CMPXCHG;
const SKEY = MEMOP_F.SKEY_PROTECTION;
const SIZES = [1, 2, 4, 8, 16] as const;

function requireCmpxchg(ctx: CaseContext): void {
  ctx.requireExtension(2);
}

function fillKeys(vm: Vm, abs: bigint, pages: number, key: number): void {
  setKeys(vm, abs >> 12n, new Uint8Array(pages).fill(key));
}

const selftest: ConformanceCase[] = [
  {
    id: 'selftest/T4/cmpxchg-with-keys',
    topic: 'selftest',
    title: 'cmpxchg succeeds when old matches and writes back memory when it does not (keys none/0/9)',
    source: 'selftest T4',
    run(ctx) {
      requireCmpxchg(ctx);
      const vm = ctx.createVm();
      fillKeys(vm, A1, 16, 0x90);
      fillKeys(vm, A2, 16, 0x90);
      for (const k of [undefined, 0, 9]) {
        for (const size of SIZES) {
          for (let off = 0; off + size <= 16; off += size) {
            const what = `key ${k ?? 'none'} size ${size} offset ${off}`;
            const neu = new Uint8Array(16);
            const h1 = ctx.randomBytes(16);
            vm.write(A1, h1);
            const old = h1.slice();
            expectResult(vm.memop({ op: X, gaddr: A1 + BigInt(off), size, buf: neu.subarray(off), old: old.subarray(off), ...keyed(k) }), 0, `${what} exchange`);
            expectBytes(old, h1, `${what}: old untouched after a successful exchange`);
            vm.write(A2, vm.read(A1, 16));
            const exp = vm.read(A2, 16);
            const want = h1.slice();
            want.fill(0, off, off + size);
            expectBytes(exp, want, `${what}: memory after exchange`);
            old.set(exp);
            neu[off] = (neu[off]! + 1) & 0xff;
            old[off] = (old[off]! + 1) & 0xff;
            expectResult(vm.memop({ op: X, gaddr: A1 + BigInt(off), size, buf: neu.subarray(off), old: old.subarray(off), ...keyed(k) }), 0, `${what} failed compare`);
            expectBytes(old, exp, `${what}: old written back with memory`);
            vm.write(A2, vm.read(A1, 16));
            expectBytes(vm.read(A2, 16), exp, `${what}: memory unchanged by failed compare`);
          }
        }
      }
    },
  },
  {
    id: 'selftest/T10/cmpxchg-key-protection',
    topic: 'selftest',
    title: 'cmpxchg with a mismatching key gives PGM_PROTECTION, zeroes old, leaves memory',
    source: 'selftest T10',
    run(ctx) {
      requireCmpxchg(ctx);
      const vm = ctx.createVm();
      fillKeys(vm, A2, 16, 0x98);
      const content = ctx.randomBytes(16);
      vm.write(A2, content);
      const h2 = new Uint8Array(16).fill(0xaa);
      for (const size of SIZES) {
        const old = ctx.randomBytes(16);
        const tail = old.slice(size);
        expectResult(vm.memop({ op: X, gaddr: A2, size, buf: h2, old, flags: SKEY, key: 2 }), PGM.PROTECTION, `size ${size}`);
        expectFilled(old.subarray(0, size), 0, `size ${size}: old`);
        expectBytes(old.subarray(size), tail, `size ${size}: bytes of old beyond size`);
        expectBytes(vm.read(A2, 16), content, `size ${size}: memory`);
      }
    },
  },
  {
    id: 'selftest/T11/cmpxchg-errors',
    topic: 'selftest',
    title: 'cmpxchg refuses sizes other than 1/2/4/8/16, misalignment, and addresses outside memory',
    source: 'selftest T11',
    run(ctx) {
      requireCmpxchg(ctx);
      const vm = ctx.createVm();
      const h1 = ctx.randomBytes(64);
      const old = new Uint8Array(32);
      for (let size = 0; size < 32; size++) {
        if ((SIZES as readonly number[]).includes(size)) continue;
        expectErrno(() => vm.memop({ op: X, gaddr: A1, size, buf: h1, old }), 'EINVAL', `size ${size}`);
      }
      for (const size of SIZES) {
        const r = vm.memop({ op: X, gaddr: 0xfffffffffffff000n, size, buf: h1, old });
        assert.ok(r > 0, `size ${size} outside memory: expected a program code, got ${r}`);
        expectResult(r, PGM.ADDRESSING, `size ${size} outside memory`);
      }
      for (const size of [2, 4, 8, 16]) {
        expectErrno(() => vm.memop({ op: X, gaddr: A1 + 1n, size, buf: h1, old }), 'EINVAL', `size ${size} misaligned`);
      }
    },
  },
];

const rules: ConformanceCase[] = [
  {
    id: 'cmpxchg/validation/flags',
    topic: 'cmpxchg',
    title: 'cmpxchg accepts only SKEY_PROTECTION: CHECK_ONLY and INJECT are EINVAL',
    source: 'docs/memop-semantics.md §6.1 step 2',
    run(ctx) {
      requireCmpxchg(ctx);
      const vm = ctx.createVm();
      const b = new Uint8Array(8);
      expectErrno(() => vm.memop({ op: X, gaddr: A1, size: 8, buf: b, old: b.slice(), flags: MEMOP_F.CHECK_ONLY }), 'EINVAL', 'CHECK_ONLY');
      expectErrno(() => vm.memop({ op: X, gaddr: A1, size: 8, buf: b, old: b.slice(), flags: MEMOP_F.INJECT_EXCEPTION }), 'EINVAL', 'INJECT');
      expectErrno(() => vm.memop({ op: X, gaddr: A1, size: 8, buf: b, old: b.slice(), flags: SKEY, key: 16 }), 'EINVAL', 'key 16');
      expectErrno(() => vm.memop({ op: X, gaddr: A1, size: 0x10001, buf: null, old: null }), 'E2BIG', 'size 65537');
    },
  },
  {
    id: 'cmpxchg/validation/null-pointers',
    topic: 'cmpxchg',
    title: 'cmpxchg with a NULL new or old pointer is EFAULT, checked before alignment',
    source: 'docs/memop-semantics.md §6.1 step 4',
    run(ctx) {
      requireCmpxchg(ctx);
      const vm = ctx.createVm();
      const b = new Uint8Array(8);
      expectErrno(() => vm.memop({ op: X, gaddr: A1, size: 8, buf: null, old: b }), 'EFAULT', 'NULL new');
      expectErrno(() => vm.memop({ op: X, gaddr: A1, size: 8, buf: b, old: null }), 'EFAULT', 'NULL old');
      expectErrno(() => vm.memop({ op: X, gaddr: A1 + 1n, size: 8, buf: b, old: null }), 'EFAULT', 'NULL old, misaligned');
      expectErrno(() => vm.memop({ op: X, gaddr: A1, size: 17, buf: null, old: null }), 'EINVAL', 'size 17 before pointers');
    },
  },
  {
    id: 'cmpxchg/validation/misaligned-outside-memory',
    topic: 'cmpxchg',
    title: 'misaligned and outside memory: EINVAL on newest, PGM_ADDRESSING on classic',
    source: 'docs/memop-semantics.md §6.1 [diff]',
    run(ctx) {
      requireCmpxchg(ctx);
      const vm = ctx.createVm({ memorySize: 1n << 20n });
      const b = new Uint8Array(8);
      const gaddr = (1n << 20n) + 4n;
      if (ctx.profile === 'newest') {
        expectErrno(() => vm.memop({ op: X, gaddr, size: 8, buf: b, old: b.slice() }), 'EINVAL', 'newest checks alignment first');
      } else {
        expectResult(vm.memop({ op: X, gaddr, size: 8, buf: b, old: b.slice() }), PGM.ADDRESSING, 'classic checks the memslot first');
      }
    },
  },
  {
    id: 'cmpxchg/keys/store-rule',
    topic: 'cmpxchg',
    title: 'cmpxchg is a store: F is irrelevant, only key 0 or the ACC match may exchange',
    source: 'docs/memop-semantics.md §6.1 step 8',
    run(ctx) {
      requireCmpxchg(ctx);
      const vm = ctx.createVm();
      for (const storageKey of [0x50, 0x58]) {
        setKeys(vm, A1 >> 12n, Uint8Array.of(storageKey));
        for (let key = 0; key < 16; key++) {
          const what = `storage key 0x${storageKey.toString(16)} access key ${key}`;
          vm.write(A1, new Uint8Array(8));
          const old = new Uint8Array(8);
          const r = vm.memop({ op: X, gaddr: A1, size: 8, buf: Uint8Array.of(key + 1, 0, 0, 0, 0, 0, 0, 0), old, flags: SKEY, key });
          const allowed = key === 0 || key === 5;
          expectResult(r, allowed ? 0 : PGM.PROTECTION, what);
          assert.equal(vm.read(A1, 1)[0], allowed ? key + 1 : 0, `${what}: memory`);
        }
      }
    },
  },
  {
    id: 'cmpxchg/keys/protected-even-when-compare-fails',
    topic: 'cmpxchg',
    title: 'protection is raised whether or not the comparison would succeed',
    source: 'docs/memop-semantics.md §6.1 step 8',
    run(ctx) {
      requireCmpxchg(ctx);
      const vm = ctx.createVm();
      setKeys(vm, A1 >> 12n, Uint8Array.of(0x50));
      vm.write(A1, Uint8Array.of(1, 2, 3, 4));
      for (const key of [1, 4, 6, 15]) {
        const old = Uint8Array.of(9, 9, 9, 9);
        expectResult(vm.memop({ op: X, gaddr: A1, size: 4, buf: new Uint8Array(4), old, flags: SKEY, key }), PGM.PROTECTION, `key ${key}`);
        expectFilled(old, 0, `key ${key}: old zeroed`);
      }
      expectBytes(vm.read(A1, 4), Uint8Array.of(1, 2, 3, 4), 'memory');
    },
  },
  {
    id: 'cmpxchg/helper/compare-and-exchange',
    topic: 'cmpxchg',
    title: 'vm.compareAndExchange reports exchanged and the value memory held',
    source: 'API over docs/memop-semantics.md §6.2',
    run(ctx) {
      requireCmpxchg(ctx);
      const vm = ctx.createVm();
      const first = ctx.randomBytes(16);
      vm.write(A1, first);
      const next = ctx.randomBytes(16);
      const ok = vm.compareAndExchange(A1, first, next);
      assert.equal(ok.exchanged, true);
      expectBytes(ok.actual, first, 'actual after exchange');
      expectBytes(vm.read(A1, 16), next, 'memory after exchange');
      const miss = vm.compareAndExchange(A1, first, ctx.randomBytes(16));
      assert.equal(miss.exchanged, false);
      expectBytes(miss.actual, next, 'actual after a failed compare');
      expectBytes(vm.read(A1, 16), next, 'memory after a failed compare');
    },
  },
  {
    id: 'cmpxchg/untouched-memory-is-zero',
    topic: 'cmpxchg',
    title: 'cmpxchg against never-written memory compares with zeros',
    source: 'docs/memop-semantics.md §10',
    run(ctx) {
      requireCmpxchg(ctx);
      const vm = ctx.createVm();
      const old = Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0);
      expectResult(vm.memop({ op: X, gaddr: A2 + 8n, size: 8, buf: new Uint8Array(8).fill(3), old }), 0, 'compare with zeros');
      expectFilled(old, 0, 'old written back with zeros');
      assert.equal(vm.compareAndExchange(A2 + 8n, new Uint8Array(8), new Uint8Array(8).fill(3)).exchanged, true);
    },
  },
  {
    id: 'cmpxchg/absent-before-6.3',
    topic: 'cmpxchg',
    title: 'without the CMPXCHG extension bit, op 6 is an unknown op (EINVAL)',
    source: 'docs/memop-semantics.md §0.1',
    run(ctx) {
      const ext = ctx.backend.checkExtension(211);
      if (ext & 2) ctx.skip('this kernel has cmpxchg');
      if (ext === 0) ctx.skip('this kernel has no vm-fd memop at all');
      const vm = ctx.createVm();
      const b = new Uint8Array(8);
      expectErrno(() => vm.memop({ op: X, gaddr: A1, size: 8, buf: b, old: b.slice() }), 'EINVAL', 'op 6');
    },
  },
];

export const cmpxchgCases: readonly ConformanceCase[] = [...selftest, ...rules];
