// Reference (R) and change (C) bits after each kind of access, and KVM_S390_KEYOP (ISKE, RRBE,
// SSKE) of the newest kernels. Every case first enables key handling with SET_SKEYS on the
// pages it looks at: a VM that never enabled keys may see whatever key its host pages last had
// (observed on 7.2), so no case depends on a key it did not set itself.
import { CAP, KEYOP, MEMOP, MEMOP_F, PAGE_SIZE, PGM, STORAGE_KEY } from '../../abi/constants.js';
import type { Vm } from '../../api/vm.js';
import { AccessException, ArgumentRangeError } from '../../errors.js';
import { assert, expectBytes, expectErrno, expectResult } from '../assertions.js';
import type { CaseContext, ConformanceCase } from '../types.js';
import { PSW_DAT_64, PSW_REAL_64, absoluteMemory, setKeys } from './fixtures.js';

const R = STORAGE_KEY.REFERENCE;
const C = STORAGE_KEY.CHANGE;
const MIB = 1 << 20;
/** The pages the R/C cases use: absolute 0x100000.. (above the prefix area of any vcpu). */
const FIRST = 0x100;
const PAGES = 4;
const pageAddress = (gfn: number) => BigInt(gfn * PAGE_SIZE);

/** A VM with keys enabled and `key` stored on pages FIRST..FIRST+PAGES-1; returns what they read. */
function keyedVm(ctx: CaseContext, key: number): { vm: Vm; initial: number } {
  const vm = ctx.createVm({ memorySize: 2 * MIB });
  setKeys(vm, FIRST, new Uint8Array(PAGES).fill(key));
  const initial = key;
  expectBytes(vm.getStorageKeys(FIRST, PAGES)!, new Uint8Array(PAGES).fill(initial), 'keys right after SET_SKEYS');
  return { vm, initial };
}

/** Asserts the keys of pages FIRST.. are `expected` (one entry per page). */
function expectKeys(vm: Vm, expected: readonly number[], what: string): void {
  expectBytes(vm.getStorageKeys(FIRST, PAGES)!, Uint8Array.from(expected), what);
}

function requireKeyop(ctx: CaseContext): void {
  if (ctx.backend.checkExtension(CAP.S390_KEYOP) === 0) ctx.skip('no KVM_CAP_S390_KEYOP (247): the kernel predates the gmap rewrite');
}

/** A vcpu whose logical accesses are real = absolute (DAT off, 64-bit) above the prefix area. */
function realModeVcpu(vm: Vm) {
  const vcpu = vm.createVcpu(0);
  vcpu.setState({ psw: { mask: PSW_REAL_64, addr: 0n }, prefix: 0 });
  return vcpu;
}

const ABS = pageAddress(FIRST);

export const storageKeyBitCases: readonly ConformanceCase[] = [
  {
    id: 'storage-keys/rc/absolute-read',
    topic: 'storage-keys',
    title: 'an absolute read sets R on the pages it reads and nothing else (0x30 → 0x34)',
    source: 'issue 13 (7.2.12: 0x30 → 0x34); z/Architecture reference recording',
    run(ctx) {
      ctx.requireExtension(1);
      const { vm, initial } = keyedVm(ctx, 0x30);
      vm.read(ABS + 0xff8n, 16); // the last 8 bytes of the first page, the first 8 of the second
      expectKeys(vm, [initial | R, initial | R, initial, initial], 'keys after reading across two pages');
    },
  },
  {
    id: 'storage-keys/rc/absolute-write',
    topic: 'storage-keys',
    title: 'an absolute write sets R and C on the pages it stores into (0x30 → 0x36)',
    source: 'issue 13 (7.2.12: 0x30 → 0x36); z/Architecture change recording',
    run(ctx) {
      ctx.requireExtension(1);
      const { vm, initial } = keyedVm(ctx, 0x30);
      vm.write(ABS + pageAddress(2), Uint8Array.of(1, 2, 3), { key: 3 });
      expectKeys(vm, [initial, initial, initial | R | C, initial], 'keys after a 3-byte write into the third page');
    },
  },
  {
    id: 'storage-keys/rc/check-only',
    topic: 'storage-keys',
    title: 'a check-only access (absolute and logical, read and write) references nothing',
    source: 'docs/memop-semantics.md §5.2, §8.8: CHECK_ONLY accesses no data',
    run(ctx) {
      const { vm, initial } = keyedVm(ctx, 0x30);
      const vcpu = realModeVcpu(vm);
      if (ctx.backend.checkExtension(CAP.S390_MEM_OP_EXTENSION) > 0) {
        expectResult(vm.check(ABS, 2 * PAGE_SIZE, 'read', { key: 3 }), 0, 'absolute check read');
        expectResult(vm.check(ABS, 2 * PAGE_SIZE, 'write', { key: 3 }), 0, 'absolute check write');
      }
      expectResult(vcpu.check(ABS + pageAddress(2), 2 * PAGE_SIZE, 'read'), 0, 'logical check read');
      expectResult(vcpu.check(ABS + pageAddress(2), 2 * PAGE_SIZE, 'write'), 0, 'logical check write');
      expectKeys(vm, [initial, initial, initial, initial], 'keys after four check-only accesses');
    },
  },
  {
    id: 'storage-keys/rc/refused-access',
    topic: 'storage-keys',
    title: 'a key-refused access marks no page it refused; pages before the refused one were accessed',
    source: 'docs/memop-semantics.md §5.1, §8.8: the kernel copies page by page up to the refused page',
    run(ctx) {
      ctx.requireExtension(1);
      const vm = ctx.createVm({ memorySize: 2 * MIB });
      // Page 0 ACC 5, page 1 ACC 3 with fetch protection, pages 2, 3 ACC 3.
      const keys = Uint8Array.of(0x50, 0x38, 0x30, 0x30);
      setKeys(vm, FIRST, keys);
      const initial = Array.from(keys);
      const buf = new Uint8Array(2 * PAGE_SIZE);
      expectResult(vm.memop({ op: MEMOP.ABSOLUTE_READ, gaddr: ABS + pageAddress(1), size: 8, buf, flags: MEMOP_F.SKEY_PROTECTION, key: 5 }), PGM.PROTECTION, 'fetch-protected read');
      expectResult(vm.memop({ op: MEMOP.ABSOLUTE_WRITE, gaddr: ABS + pageAddress(2), size: 8, buf, flags: MEMOP_F.SKEY_PROTECTION, key: 5 }), PGM.PROTECTION, 'store to ACC 3');
      expectKeys(vm, initial, 'keys after two refused single-page accesses');
      expectResult(vm.memop({ op: MEMOP.ABSOLUTE_READ, gaddr: ABS, size: 2 * PAGE_SIZE, buf, flags: MEMOP_F.SKEY_PROTECTION, key: 5 }), PGM.PROTECTION, 'read over ACC 5 then fetch-protected');
      expectKeys(vm, [initial[0]! | R, initial[1]!, initial[2]!, initial[3]!], 'the page before the refused one was read');
      expectResult(vm.memop({ op: MEMOP.ABSOLUTE_WRITE, gaddr: ABS, size: 2 * PAGE_SIZE, buf, flags: MEMOP_F.SKEY_PROTECTION, key: 5 }), PGM.PROTECTION, 'write over ACC 5 then ACC 3');
      expectKeys(vm, [initial[0]! | R | C, initial[1]!, initial[2]!, initial[3]!], 'the page before the refused one was stored');
    },
  },
  {
    id: 'storage-keys/rc/cmpxchg',
    topic: 'storage-keys',
    title: 'ABSOLUTE_CMPXCHG is a store-type access: an exchange and an unequal comparison both set R and C, a refusal nothing',
    source: 'docs/memop-semantics.md §6; z/Architecture COMPARE AND SWAP stores only when equal',
    run(ctx) {
      ctx.requireExtension(2);
      const { vm, initial } = keyedVm(ctx, 0x30);
      const zero = new Uint8Array(8);
      assert.equal(vm.compareAndExchange(ABS, zero, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), { key: 3 }).exchanged, true, 'exchange on page 0');
      assert.equal(vm.compareAndExchange(ABS + pageAddress(1), Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9), zero, { key: 3 }).exchanged, false, 'no exchange on page 1');
      assert.throws(() => vm.compareAndExchange(ABS + pageAddress(2), zero, zero, { key: 6 }), (e: unknown) => e instanceof AccessException && e.pgmCode === PGM.PROTECTION);
      expectKeys(vm, [initial | R | C, initial | R | C, initial, initial], 'keys after exchanged, unequal and refused');
    },
  },
  {
    id: 'storage-keys/rc/logical',
    topic: 'storage-keys',
    title: 'logical reads set R, logical writes R and C, on the absolute pages behind the real addresses',
    source: 'docs/memop-semantics.md §8.8; z/Architecture reference and change recording',
    run(ctx) {
      const { vm, initial } = keyedVm(ctx, 0x30);
      const vcpu = realModeVcpu(vm);
      vcpu.read(ABS + 0x10n, 16);
      vcpu.write(ABS + pageAddress(1) + 0xffcn, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
      expectKeys(vm, [initial | R, initial | R | C, initial | R | C, initial], 'keys after a logical read and a page-crossing write');
    },
  },
  {
    id: 'storage-keys/rc/table-fetches',
    topic: 'storage-keys',
    title: "a DAT walk's table fetches set R on the tables' pages: the kernel reads them through the host mapping",
    source: 'deref_table → kvm_get_guest (before the gmap rewrite get_guest_storage_key reports the real R); test bed 6.1, 6.12 (a segment table at absolute 0), 7.2',
    run(ctx) {
      const { vm, initial } = keyedVm(ctx, 0x30);
      // A segment table on page FIRST, a page table on FIRST+1, virtual page 0 → frame FIRST+2.
      const entry = (value: bigint) => {
        const bytes = new Uint8Array(8);
        new DataView(bytes.buffer).setBigUint64(0, value);
        return bytes;
      };
      const memory = absoluteMemory(ctx, vm);
      memory.write(ABS, entry(ABS + pageAddress(1)));
      memory.write(ABS + pageAddress(1), entry(ABS + pageAddress(2)));
      // Those writes marked R and C; the keys are set again so that only the walk can mark.
      setKeys(vm, FIRST, new Uint8Array(PAGES).fill(initial));
      const vcpu = vm.createVcpu(0);
      const cr = new Array<bigint>(16).fill(0n);
      cr[0] = 0xe0n;
      cr[1] = ABS; // segment-table designation, table length 0 (one 4 KiB table)
      vcpu.setState({ psw: { mask: PSW_DAT_64, addr: 0n }, cr, prefix: 0 });
      vcpu.read(0x10n, 8);
      expectKeys(vm, [initial | R, initial | R, initial | R, initial], 'keys of segment table, page table, data page and an untouched page after a logical read');
    },
  },
  {
    id: 'storage-keys/rc/after-set',
    topic: 'storage-keys',
    title: 'SET_SKEYS stores R and C as given: a key it set reads back unchanged until an access',
    source: 'set_guest_storage_key / get_guest_storage_key (PGSTE guest R/C, real key set from the PGSTE at fault-in); dat_set_storage_key after the gmap rewrite; test bed 6.1, 6.12, 7.2',
    run(ctx) {
      const vm = ctx.createVm({ memorySize: 2 * MIB });
      setKeys(vm, FIRST, Uint8Array.of(0x00, 0x06, 0x14, 0xfe));
      expectKeys(vm, [0x00, 0x06, 0x14, 0xfe], `keys read back (${ctx.profile})`);
    },
  },
  {
    id: 'keyop/unavailable',
    topic: 'storage-keys',
    title: 'without KVM_CAP_S390_KEYOP the vm fd does not know the ioctl: ENOTTY',
    source: 'kernel: kvm_arch_vm_ioctl default case (-ENOTTY)',
    run(ctx) {
      if (ctx.backend.checkExtension(CAP.S390_KEYOP) !== 0) ctx.skip('this kernel has KVM_S390_KEYOP');
      const vm = ctx.createVm({ memorySize: MIB });
      for (const op of [KEYOP.ISKE, KEYOP.RRBE, KEYOP.SSKE]) expectErrno(() => vm.keyop(op, 0n, 0x10), 'ENOTTY', `operation ${op}`);
    },
  },
  {
    id: 'keyop/sske',
    topic: 'storage-keys',
    title: 'SSKE stores the whole key (ACC, F, R, C) and returns the previous key; ISKE and GET_SKEYS read it',
    source: 'api.rst 4.144 KVM_S390_KEYOP; selftest keyop.c test_sske',
    run(ctx) {
      requireKeyop(ctx);
      const vm = ctx.createVm({ memorySize: MIB });
      setKeys(vm, 0, new Uint8Array(256).fill(0x30));
      assert.equal(vm.setStorageKey(pageAddress(7), 0x5e), 0x30, 'previous key');
      assert.equal(vm.setStorageKey(pageAddress(7) + 0xfffn, 0xc8), 0x5e, 'any address inside the page names it');
      assert.equal(vm.insertStorageKey(pageAddress(7)), 0xc8, 'ISKE');
      expectBytes(vm.getStorageKeys(6, 3)!, Uint8Array.of(0x30, 0xc8, 0x30), 'GET_SKEYS around the page');
    },
  },
  {
    id: 'keyop/sske-reserved-bit',
    topic: 'storage-keys',
    title: 'SSKE of a key with the reserved bit stores it without that bit and succeeds; the API refuses it',
    source: 'issue 13 (7.2.12); selftest keyop.c sets expected | 1',
    run(ctx) {
      requireKeyop(ctx);
      const vm = ctx.createVm({ memorySize: MIB });
      setKeys(vm, 3, Uint8Array.of(0x10));
      assert.equal(vm.keyop(KEYOP.SSKE, pageAddress(3), 0x57), 0x10, 'raw SSKE returns the previous key');
      assert.equal(vm.insertStorageKey(pageAddress(3)), 0x56, 'stored without bit 0x01');
      assert.throws(() => vm.setStorageKey(pageAddress(3), 0x21), (e: unknown) => e instanceof ArgumentRangeError && e.code === 'ERR_INVALID_ARG_VALUE');
      assert.equal(vm.insertStorageKey(pageAddress(3)), 0x56, 'the refused call changed nothing');
    },
  },
  {
    id: 'keyop/iske',
    topic: 'storage-keys',
    title: 'ISKE returns each page key exactly, R and C included, and changes none',
    source: 'selftest keyop.c test_iske',
    run(ctx) {
      requireKeyop(ctx);
      const vm = ctx.createVm({ memorySize: MIB });
      const keys = Uint8Array.from({ length: 128 }, (_, i) => (i << 1) & 0xff);
      setKeys(vm, 128, keys);
      const seen = Uint8Array.from(keys, (_, i) => vm.insertStorageKey(pageAddress(128 + i)));
      expectBytes(seen, keys, 'ISKE of every page');
      expectBytes(vm.getStorageKeys(128, 128)!, keys, 'keys unchanged');
    },
  },
  {
    id: 'keyop/rrbe',
    topic: 'storage-keys',
    title: 'RRBE returns the old R and C in their key positions, clears R and keeps C',
    source: 'issue 13 (7.2.12); selftest keyop.c test_rrbe',
    run(ctx) {
      requireKeyop(ctx);
      const vm = ctx.createVm({ memorySize: MIB });
      const keys = Uint8Array.of(0x30, 0x34, 0x32, 0x36, 0xfe);
      setKeys(vm, 20, keys);
      const old = Array.from(keys, (_, i) => vm.resetReferenceBit(pageAddress(20 + i)));
      assert.deepEqual(old, [0, R, C, R | C, R | C], 'old R/C bits');
      expectBytes(vm.getStorageKeys(20, keys.length)!, Uint8Array.of(0x30, 0x30, 0x32, 0x32, 0xfa), 'R cleared, C kept');
      assert.equal(vm.resetReferenceBit(pageAddress(21)), 0, 'a second RRBE finds R clear');
    },
  },
  {
    id: 'keyop/rrbe-after-access',
    topic: 'storage-keys',
    title: 'RRBE sees the R a read set and the R and C a write set',
    source: 'issue 13 (7.2.12)',
    run(ctx) {
      requireKeyop(ctx);
      const { vm, initial } = keyedVm(ctx, 0x30);
      vm.read(ABS, 8);
      vm.write(ABS + pageAddress(1), Uint8Array.of(7));
      assert.equal(vm.resetReferenceBit(ABS), R, 'after a read');
      assert.equal(vm.resetReferenceBit(ABS + pageAddress(1)), R | C, 'after a write');
      assert.equal(vm.resetReferenceBit(ABS + pageAddress(2)), initial & (R | C), 'untouched');
      expectKeys(vm, [initial, initial | C, initial, initial], 'R reset, C kept');
    },
  },
  {
    id: 'keyop/errors',
    topic: 'storage-keys',
    title: 'KEYOP: an unknown operation is EINVAL (checked first), an address outside memory EFAULT',
    source: 'kernel: kvm_s390_keyop (switch default -EINVAL); issue 13 (7.2.12: EFAULT, no program codes)',
    run(ctx) {
      requireKeyop(ctx);
      const vm = ctx.createVm({ memorySize: MIB });
      for (const op of [0, 4, 0xff]) expectErrno(() => vm.keyop(op, 0n), 'EINVAL', `operation ${op}`);
      expectErrno(() => vm.keyop(4, BigInt(MIB)), 'EINVAL', 'operation 4 outside memory');
      for (const op of [KEYOP.ISKE, KEYOP.RRBE, KEYOP.SSKE]) {
        expectErrno(() => vm.keyop(op, BigInt(MIB), 0x10), 'EFAULT', `operation ${op} on the first page outside`);
        expectErrno(() => vm.keyop(op, BigInt(MIB) + 0xfffn, 0x10), 'EFAULT', `operation ${op} inside that page`);
      }
      assert.throws(() => vm.keyop(256, 0n), (e: unknown) => e instanceof RangeError && (e as { code?: string }).code === 'ERR_OUT_OF_RANGE');
      assert.throws(() => vm.keyop(KEYOP.SSKE, 0n, 256), (e: unknown) => e instanceof RangeError && (e as { code?: string }).code === 'ERR_OUT_OF_RANGE');
    },
  },
  {
    id: 'keyop/keys-not-enabled',
    topic: 'storage-keys',
    title: 'KEYOP does not enable key handling: GET_SKEYS stays NONE, and ISKE reads back what SSKE set',
    source: 'kvm_s390_keyop (no gmap_enable_skeys); issue 13 and the test bed (7.2.12). Memop key checks in a VM that never enabled keys are not predictable there (errata), so none is asserted',
    run(ctx) {
      requireKeyop(ctx);
      const vm = ctx.createVm({ memorySize: MIB });
      vm.setStorageKey(pageAddress(5), 0x50);
      assert.equal(vm.getStorageKeys(0, 1), null, 'GET_SKEYS_NONE after SSKE');
      assert.equal(vm.insertStorageKey(pageAddress(5)) & STORAGE_KEY.ACC_MASK, 0x50, 'ACC 5 after SSKE');
    },
  },
];
