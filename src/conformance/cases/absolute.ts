// ABSOLUTE_READ / ABSOLUTE_WRITE on the vm fd: selftest T2 (vm parts), T3 (vm parts), T9, T13,
// and every rule of docs/memop-semantics.md §5.
import { PROFILES } from '../../emulated/profiles.js';
import { MEMOP, MEMOP_F, MEM_OP_MAX_SIZE, PGM } from '../../abi/constants.js';
import type { Vm } from '../../api/vm.js';
import { assert, expectBytes, expectErrno, expectFilled, expectResult } from '../assertions.js';
import type { CaseContext, ConformanceCase } from '../types.js';
import { checkAndDo, keyed, setKeys } from './fixtures.js';

const S = MEM_OP_MAX_SIZE;
/** Absolute homes of the selftest's two 64 KiB arrays (the vm parts need no translation). */
const A1 = 0x100000n;
const A2 = 0x200000n;
const MIB = 1n << 20n;
const R = MEMOP.ABSOLUTE_READ;
const W = MEMOP.ABSOLUTE_WRITE;
const CHECK = MEMOP_F.CHECK_ONLY;
const SKEY = MEMOP_F.SKEY_PROTECTION;

/** The vm-fd memop exists from 5.18 on; older kernels do not know the ioctl on a vm fd. */
function requireVmMemop(ctx: CaseContext): void {
  ctx.requireExtension(1);
}

/** Sets the storage key of every 4 KiB page in [abs, abs+len). */
function fillKeys(vm: Vm, abs: bigint, len: number, key: number): void {
  setKeys(vm, abs >> 12n, new Uint8Array(Math.ceil(len / 4096)).fill(key));
}

/** The selftest's "guest copies V1 → V2", done as the guest would on absolute storage. */
function guestCopy(vm: Vm, from: bigint, to: bigint, len: number): void {
  vm.write(to, vm.read(from, len));
}

/** WR(vm, n, k) of selftest T3: write with key, guest copies, read back with key. */
function writeCopyRead(ctx: CaseContext, vm: Vm, n: number, key: number | undefined): void {
  const h1 = ctx.randomBytes(n);
  const keyFields = keyed(key);
  checkAndDo(vm, { op: W, gaddr: A1, size: n, buf: h1, ...keyFields }, 0, `write ${n} bytes key ${key ?? 'none'}`);
  guestCopy(vm, A1, A2, n);
  const out = new Uint8Array(n);
  checkAndDo(vm, { op: R, gaddr: A2, size: n, buf: out, ...keyFields }, 0, `read ${n} bytes key ${key ?? 'none'}`);
  expectBytes(out, h1, 'read back');
}

function readAfterPlainWrite(ctx: CaseContext, vm: Vm, n: number, key: number): Uint8Array {
  const h1 = ctx.randomBytes(n);
  vm.memop({ op: W, gaddr: A1, size: n, buf: h1 });
  guestCopy(vm, A1, A2, n);
  const out = new Uint8Array(n);
  checkAndDo(vm, { op: R, gaddr: A2, size: n, buf: out, flags: SKEY, key }, 0, `read with key ${key}`);
  expectBytes(out, h1, 'read back');
  return out;
}

const selftest: ConformanceCase[] = [
  {
    id: 'selftest/T2/vm/errors',
    topic: 'selftest',
    title: 'generic error checks on the vm fd (E1–E7, E9)',
    source: 'selftest T2',
    run(ctx) {
      requireVmMemop(ctx);
      const vm = ctx.createVm();
      const h1 = ctx.randomBytes(S);
      const snapshot = vm.read(A1, S);
      // E1 passes a 64 KiB buffer with size 0xffffffff; the API refuses that before the ioctl,
      // so the kernel's answer is asked for with a NULL buffer, which it never reaches.
      expectErrno(() => vm.memop({ op: W, gaddr: A1, size: 0xffffffff, buf: null }), 'E2BIG', 'E1 size 0xffffffff');
      expectErrno(() => vm.memop({ op: W, gaddr: A1, size: 0, buf: h1 }), ['EINVAL', 'ENOMEM'], 'E2 size 0');
      expectErrno(() => vm.memop({ op: W, gaddr: A1, size: S, buf: h1, flags: 0xffffffffffffffffn }), 'EINVAL', 'E3 all flags');
      expectResult(vm.memop({ op: W, gaddr: 0xfffffffffffff000n, size: S, buf: h1, flags: CHECK }), PGM.ADDRESSING, 'E4 check-only outside memory');
      expectResult(vm.memop({ op: W, gaddr: 0xfffffffffffff000n, size: S, buf: h1 }), PGM.ADDRESSING, 'E5 write outside memory');
      expectErrno(() => vm.memop({ op: W, gaddr: A1, size: S, buf: null }), 'EFAULT', 'E6 NULL buf');
      expectErrno(() => vm.memop({ op: W, gaddr: A1, size: S, buf: h1, flags: SKEY, key: 17 }), 'EINVAL', 'E7 key 17');
      expectBytes(vm.read(A1, S), snapshot, 'guest memory after E1–E7');
      expectErrno(() => vm.memop({ op: 0xffffffff, gaddr: 0n, size: 4096, buf: h1 }), 'EINVAL', 'E9 op 0xffffffff');
    },
  },
  {
    id: 'selftest/T3/vm/copy-with-keys',
    topic: 'selftest',
    title: 'copy with storage keys through the vm fd (WR and RD with keys none/0/9/2)',
    source: 'selftest T3 steps 1, 4, 5, 8, 9, 11',
    run(ctx) {
      requireVmMemop(ctx);
      const vm = ctx.createVm();
      fillKeys(vm, A1, S, 0x90);
      fillKeys(vm, A2, S, 0x90);
      writeCopyRead(ctx, vm, S, undefined);
      writeCopyRead(ctx, vm, S, 0);
      writeCopyRead(ctx, vm, S, 9);
      writeCopyRead(ctx, vm, 1, 0);
      writeCopyRead(ctx, vm, 1, 9);
      readAfterPlainWrite(ctx, vm, S, 2);
    },
  },
  {
    id: 'selftest/T7/vm/fetch-protection-acc-match',
    topic: 'selftest',
    title: 'fetch-protected pages (0x98) can be read with the matching key 9',
    source: 'selftest T7 step 2',
    run(ctx) {
      requireVmMemop(ctx);
      const vm = ctx.createVm();
      fillKeys(vm, A1, S, 0x98);
      fillKeys(vm, A2, S, 0x98);
      readAfterPlainWrite(ctx, vm, S, 9);
    },
  },
  {
    id: 'selftest/T9/vm/errors-with-key',
    topic: 'selftest',
    title: 'key-protected absolute write and fetch-protected read give PGM_PROTECTION',
    source: 'selftest T9 steps 3, 4',
    run(ctx) {
      requireVmMemop(ctx);
      const vm = ctx.createVm();
      fillKeys(vm, A1, 4096, 0x18);
      fillKeys(vm, A1 + 4096n, S - 4096, 0x98);
      const before = vm.read(A1, S);
      const h1 = ctx.randomBytes(S);
      checkAndDo(vm, { op: W, gaddr: A1, size: S, buf: h1, flags: SKEY, key: 2 }, PGM.PROTECTION, 'T9.3 write key 2');
      expectBytes(vm.read(A1, S), before, 'memory after refused write');
      const out = new Uint8Array(S).fill(0x5a);
      checkAndDo(vm, { op: R, gaddr: A1, size: S, buf: out, flags: SKEY, key: 2 }, PGM.PROTECTION, 'T9.4 read key 2');
      expectFilled(out, 0x5a, 'buf after refused read');
    },
  },
  {
    id: 'selftest/T13/vm/no-storage-protection-override',
    topic: 'selftest',
    title: 'storage-protection override never applies to absolute accesses',
    source: 'selftest T13',
    run(ctx) {
      requireVmMemop(ctx);
      const vm = ctx.createVm();
      fillKeys(vm, A1, S, 0x98);
      fillKeys(vm, A2, S, 0x98);
      // CR0 bit 39 lives in a vcpu; set it to show that a vm op does not look at it.
      const vcpu = vm.createVcpu(0);
      const cr = vcpu.getState().cr;
      cr[0] = cr[0]! | 0x1000000n;
      vcpu.setState({ cr });
      checkAndDo(vm, { op: W, gaddr: A1, size: S, buf: ctx.randomBytes(S), flags: SKEY, key: 2 }, PGM.PROTECTION, 'write key 2 to ACC 9');
      checkAndDo(vm, { op: R, gaddr: A2, size: S, buf: new Uint8Array(S), flags: SKEY, key: 2 }, PGM.PROTECTION, 'read key 2 from ACC 9 F');
      vcpu.close();
    },
  },
  {
    id: 'selftest/T15/vm/no-fetch-protection-override',
    topic: 'selftest',
    title: 'fetch-protection override never applies to absolute accesses at 0..2047',
    source: 'selftest T15 steps 3, 4',
    run(ctx) {
      requireVmMemop(ctx);
      const vm = ctx.createVm();
      setKeys(vm, 0, Uint8Array.of(0x18));
      const vcpu = vm.createVcpu(0);
      const cr = vcpu.getState().cr;
      cr[0] = cr[0]! | 0x2000000n;
      vcpu.setState({ cr });
      checkAndDo(vm, { op: R, gaddr: 0n, size: 2048, buf: new Uint8Array(2048), flags: SKEY, key: 2 }, PGM.PROTECTION, 'read 0..2047 key 2');
      vcpu.close();
    },
  },
];

const rules: ConformanceCase[] = [
  {
    id: 'absolute/validation/op-checked-before-size',
    topic: 'absolute',
    title: 'an unknown op with an oversized size: EINVAL from 6.3 on, E2BIG on 5.18–6.2',
    source: 'docs/memop-semantics.md §5.1 [diff]',
    run(ctx) {
      requireVmMemop(ctx);
      const vm = ctx.createVm();
      const expected = ctx.profile === 'v5.18' ? 'E2BIG' : 'EINVAL';
      expectErrno(() => vm.memop({ op: 7, gaddr: 0n, size: 0x20000, buf: null }), expected, 'op 7 size 0x20000');
    },
  },
  {
    id: 'absolute/validation/order',
    topic: 'absolute',
    title: 'flags before size, size 0 and E2BIG before the key range, key byte ignored without SKEY',
    source: 'docs/memop-semantics.md §5.1',
    run(ctx) {
      requireVmMemop(ctx);
      const vm = ctx.createVm();
      const buf = new Uint8Array(16);
      expectErrno(() => vm.memop({ op: R, size: 0x20000, flags: MEMOP_F.INJECT_EXCEPTION }), 'EINVAL', 'INJECT is not a vm flag');
      expectErrno(() => vm.memop({ op: R, size: 0x10001, flags: SKEY, key: 16 }), 'E2BIG', 'E2BIG wins over key 16');
      expectErrno(() => vm.memop({ op: R, size: 16, buf, flags: SKEY, key: 16 }), 'EINVAL', 'key 16');
      expectErrno(() => vm.memop({ op: R, size: 16, buf, flags: SKEY, key: 255 }), 'EINVAL', 'key 255');
      expectResult(vm.memop({ op: R, size: 16, buf, key: 255 }), 0, 'key byte without SKEY flag is ignored');
      expectResult(vm.memop({ op: R, size: S, buf: new Uint8Array(S) }), 0, 'exactly 65536 bytes');
      expectErrno(() => vm.memop({ op: R, size: S + 1, buf: new Uint8Array(S + 1) }), 'E2BIG', '65537 bytes');
    },
  },
  {
    id: 'absolute/write/partial-at-memslot-end',
    topic: 'absolute',
    title: 'a write across the end of memory stores the pages inside and returns PGM_ADDRESSING',
    source: 'docs/memop-semantics.md §5.2',
    run(ctx) {
      requireVmMemop(ctx);
      const vm = ctx.createVm({ memorySize: MIB });
      const data = ctx.randomBytes(8192);
      const start = MIB - 4096n;
      expectResult(vm.memop({ op: W, gaddr: start, size: 8192, buf: data }), PGM.ADDRESSING, 'write across the end');
      expectBytes(vm.read(start, 4096), data.subarray(0, 4096), 'the page inside memory was stored');
    },
  },
  {
    id: 'absolute/read/failure-leaves-buf',
    topic: 'absolute',
    title: 'a read across the end of memory returns PGM_ADDRESSING and leaves buf untouched',
    source: 'docs/memop-semantics.md §5.2, §4.2',
    run(ctx) {
      requireVmMemop(ctx);
      const vm = ctx.createVm({ memorySize: MIB });
      vm.write(MIB - 4096n, new Uint8Array(4096).fill(7));
      const buf = new Uint8Array(8192).fill(0xee);
      expectResult(vm.memop({ op: R, gaddr: MIB - 4096n, size: 8192, buf }), PGM.ADDRESSING, 'read across the end');
      expectFilled(buf, 0xee, 'buf');
    },
  },
  {
    id: 'absolute/write/partial-at-key-boundary',
    topic: 'absolute',
    title: 'a keyed write stops at the first protected page; earlier pages stay stored',
    source: 'docs/memop-semantics.md §5.2',
    run(ctx) {
      requireVmMemop(ctx);
      const vm = ctx.createVm();
      setKeys(vm, A1 >> 12n, Uint8Array.of(0x30, 0x30, 0x40, 0x30));
      const data = ctx.randomBytes(4 * 4096);
      const before = vm.read(A1, 4 * 4096);
      expectResult(vm.memop({ op: W, gaddr: A1, size: data.length, buf: data, flags: SKEY, key: 3 }), PGM.PROTECTION, 'write key 3');
      const after = vm.read(A1, 4 * 4096);
      expectBytes(after.subarray(0, 8192), data.subarray(0, 8192), 'pages 0-1 stored');
      expectBytes(after.subarray(8192), before.subarray(8192), 'pages 2-3 untouched');
      expectResult(vm.check(A1, data.length, 'write', { key: 3 }), PGM.PROTECTION, 'check-only agrees');
    },
  },
  {
    id: 'absolute/keys/rule-table',
    topic: 'absolute',
    title: 'absolute key-controlled protection: key 0, ACC match, F bit, and no overrides',
    source: 'docs/memop-semantics.md §8.7 (absolute form)',
    run(ctx) {
      requireVmMemop(ctx);
      const vm = ctx.createVm();
      const storageKeys = [0x00, 0x10, 0x18, 0x90, 0x98, 0xf8, 0x06];
      setKeys(vm, A1 >> 12n, Uint8Array.from(storageKeys));
      storageKeys.forEach((sk, page) => {
        const gaddr = A1 + BigInt(page * 4096);
        for (let key = 0; key < 16; key++) {
          const acc = sk >> 4;
          const fetchOk = key === 0 || key === acc || (sk & 0x08) === 0;
          const storeOk = key === 0 || key === acc;
          const what = `storage key 0x${sk.toString(16)} access key ${key}`;
          expectResult(vm.check(gaddr, 16, 'read', { key }), fetchOk ? 0 : PGM.PROTECTION, `${what} fetch`);
          expectResult(vm.check(gaddr, 16, 'write', { key }), storeOk ? 0 : PGM.PROTECTION, `${what} store`);
          expectResult(vm.memop({ op: R, gaddr, size: 16, buf: new Uint8Array(16), flags: SKEY, key }), fetchOk ? 0 : PGM.PROTECTION, `${what} real fetch`);
        }
      });
    },
  },
  {
    id: 'absolute/check-only/key-zero-outside-memory',
    topic: 'absolute',
    title: 'check-only with key 0 across the end of memory: classic validates only the first byte, newest every page',
    source: 'docs/memop-semantics.md §5.2 [diff]',
    run(ctx) {
      requireVmMemop(ctx);
      const vm = ctx.createVm({ memorySize: MIB });
      const oldKernel = PROFILES[ctx.profile].absoluteCheckKeyZeroSkipsMemslot;
      const r = vm.memop({ op: W, gaddr: MIB - 4096n, size: 8192, flags: CHECK });
      expectResult(r, oldKernel ? 0 : PGM.ADDRESSING, 'check-only key 0 across the end');
      expectResult(vm.memop({ op: R, gaddr: MIB - 4096n, size: 8192, flags: CHECK | SKEY, key: 1 }), PGM.ADDRESSING, 'check-only fetch key 1 across the end');
      expectResult(vm.memop({ op: W, gaddr: MIB - 4096n, size: 8192, flags: CHECK | SKEY, key: 1 }), PGM.PROTECTION, 'check-only store key 1: the first page is key 0');
      expectResult(vm.memop({ op: R, gaddr: MIB, size: 16, flags: CHECK }), PGM.ADDRESSING, 'check-only starting outside');
    },
  },
  {
    id: 'absolute/first-byte-precheck/before-buf',
    topic: 'absolute',
    title: 'a write starting outside memory with a NULL buf: PGM_ADDRESSING on classic, EFAULT on newest',
    source: 'docs/memop-semantics.md §5.1 step 4 [diff]',
    run(ctx) {
      requireVmMemop(ctx);
      const vm = ctx.createVm({ memorySize: MIB });
      if (ctx.profile === 'newest') {
        expectErrno(() => vm.memop({ op: W, gaddr: MIB, size: 16, buf: null }), 'EFAULT', 'newest reads buf first');
      } else {
        expectResult(vm.memop({ op: W, gaddr: MIB, size: 16, buf: null }), PGM.ADDRESSING, 'classic pre-checks the first byte');
      }
      expectResult(vm.memop({ op: R, gaddr: MIB, size: 16, buf: null }), PGM.ADDRESSING, 'a read fails on memory before buf is written');
      expectErrno(() => vm.memop({ op: R, gaddr: 0n, size: 16, buf: null }), 'EFAULT', 'a successful read into NULL');
    },
  },
  {
    id: 'absolute/check-only/ignores-buf',
    topic: 'absolute',
    title: 'check-only never touches buf (NULL allowed) nor guest memory',
    source: 'docs/memop-semantics.md §5.1 step 5',
    run(ctx) {
      requireVmMemop(ctx);
      const vm = ctx.createVm();
      vm.write(A1, ctx.randomBytes(4096));
      const before = vm.read(A1, 4096);
      expectResult(vm.memop({ op: W, gaddr: A1, size: 4096, flags: CHECK, buf: null }), 0, 'write check with NULL');
      expectResult(vm.memop({ op: R, gaddr: A1, size: 4096, flags: CHECK, buf: null }), 0, 'read check with NULL');
      expectBytes(vm.read(A1, 4096), before, 'memory unchanged');
    },
  },
  {
    id: 'absolute/no-prefixing',
    topic: 'absolute',
    title: 'absolute accesses ignore the vcpu prefix',
    source: 'docs/memop-semantics.md §5.2',
    run(ctx) {
      requireVmMemop(ctx);
      const vm = ctx.createVm();
      const vcpu = vm.createVcpu(0);
      vcpu.setState({ prefix: 0x10000 });
      const data = ctx.randomBytes(64);
      vm.write(0n, data);
      expectBytes(vm.read(0n, 64), data, 'absolute 0 is absolute 0');
      expectFilled(vm.read(0x10000n, 64), 0, 'prefix area untouched');
      vcpu.close();
    },
  },
  {
    id: 'absolute/pre-5.18/no-vm-memop',
    topic: 'absolute',
    title: 'kernels before 5.18 do not know KVM_S390_MEM_OP on a vm fd',
    source: 'docs/memop-semantics.md §0.1',
    run(ctx) {
      if (ctx.backend.checkExtension(211) !== 0) ctx.skip('this kernel has the vm-fd memop (extension cap > 0)');
      const vm = ctx.createVm();
      expectErrno(() => vm.memop({ op: R, size: 16, buf: new Uint8Array(16) }), 'ENOTTY', 'vm memop');
    },
  },
  {
    id: 'absolute/helpers/access-exception',
    topic: 'absolute',
    title: 'vm.read/write throw AccessException with the code and a reason; check returns the code',
    source: 'API',
    run(ctx) {
      requireVmMemop(ctx);
      const vm = ctx.createVm({ memorySize: MIB });
      setKeys(vm, 1, Uint8Array.of(0x38));
      assert.throws(() => vm.write(0x1000n, new Uint8Array(8), { key: 5 }), (err: unknown) => {
        const e = err as { name: string; pgmCode: number; code: string; message: string };
        assert.equal(e.name, 'AccessException');
        assert.equal(e.pgmCode, PGM.PROTECTION);
        assert.equal(e.code, 'PGM_PROTECTION');
        assert.match(e.message, /0x1000/);
        return true;
      });
      assert.throws(() => vm.read(MIB, 8), (err: unknown) => (err as { code: string }).code === 'PGM_ADDRESSING');
      expectResult(vm.check(0x1000n, 8, 'read', { key: 5 }), PGM.PROTECTION, 'fetch key 5 from F-protected ACC 3');
      expectResult(vm.check(0x1000n, 8, 'read', { key: 3 }), 0, 'fetch key 3');
    },
  },
];

export const absoluteCases: readonly ConformanceCase[] = [...selftest, ...rules];
