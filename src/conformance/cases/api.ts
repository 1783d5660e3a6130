// The public API's own promises, identical on every backend: bad input is refused with a
// typed error before any ioctl, changes nothing, and closed handles answer EBADF.
import { MEMOP, MEMOP_F } from '../../abi/constants.js';
import type { Vcpu } from '../../api/vcpu.js';
import { assert, expectBytes, expectErrno } from '../assertions.js';
import type { ConformanceCase } from '../types.js';

const A1 = 0x100000n;

function expectArgError(fn: () => unknown, code: string, what: string): void {
  assert.throws(fn, (err: unknown) => {
    const e = err as { code?: unknown; name?: unknown };
    assert.ok(err instanceof RangeError || err instanceof TypeError, `${what}: expected RangeError/TypeError, got ${String(e.name)}`);
    assert.equal(e.code, code, `${what}: code`);
    return true;
  }, what);
}

/** Descriptors the API must refuse before any ioctl, with the Node-style code. */
function badDescriptors(buf: Uint8Array): Array<[string, unknown, string]> {
  const W = MEMOP.ABSOLUTE_WRITE;
  return [
    ['descriptor null', null, 'ERR_INVALID_ARG_TYPE'],
    ['descriptor a number', 5, 'ERR_INVALID_ARG_TYPE'],
    ['op a string', { op: '5', size: 16, buf }, 'ERR_INVALID_ARG_TYPE'],
    ['op negative', { op: -1, size: 16, buf }, 'ERR_OUT_OF_RANGE'],
    ['op 2^32', { op: 2 ** 32, size: 16, buf }, 'ERR_OUT_OF_RANGE'],
    ['op NaN', { op: NaN, size: 16, buf }, 'ERR_OUT_OF_RANGE'],
    ['size fractional', { op: W, size: 1.5, buf }, 'ERR_OUT_OF_RANGE'],
    ['size missing', { op: W, buf }, 'ERR_INVALID_ARG_TYPE'],
    ['size beyond buf', { op: W, gaddr: A1, size: buf.length + 1, buf }, 'ERR_BUFFER_TOO_SMALL'],
    ['old shorter than size', { op: MEMOP.ABSOLUTE_CMPXCHG, gaddr: A1, size: 8, buf, old: new Uint8Array(4) }, 'ERR_BUFFER_TOO_SMALL'],
    ['gaddr negative', { op: W, gaddr: -1n, size: 16, buf }, 'ERR_OUT_OF_RANGE'],
    ['gaddr 2^64', { op: W, gaddr: 1n << 64n, size: 16, buf }, 'ERR_OUT_OF_RANGE'],
    ['gaddr a string', { op: W, gaddr: '0', size: 16, buf }, 'ERR_INVALID_ARG_TYPE'],
    ['gaddr unsafe number', { op: W, gaddr: 2 ** 60, size: 16, buf }, 'ERR_OUT_OF_RANGE'],
    ['flags negative', { op: W, size: 16, buf, flags: -1 }, 'ERR_OUT_OF_RANGE'],
    ['flags 2^64', { op: W, size: 16, buf, flags: 1n << 64n }, 'ERR_OUT_OF_RANGE'],
    ['key 256', { op: W, size: 16, buf, key: 256 }, 'ERR_OUT_OF_RANGE'],
    ['ar -1', { op: W, size: 16, buf, ar: -1 }, 'ERR_OUT_OF_RANGE'],
    ['buf an array', { op: W, size: 16, buf: [1, 2, 3] }, 'ERR_INVALID_ARG_TYPE'],
    ['buf a DataView', { op: W, size: 16, buf: new DataView(new ArrayBuffer(16)) }, 'ERR_INVALID_ARG_TYPE'],
    ['sidaOffset disagreeing with ar', { op: MEMOP.SIDA_READ, size: 16, buf, sidaOffset: 0x100, ar: 1 }, 'ERR_INVALID_ARG_VALUE'],
  ];
}

/** Guest bytes at A1, read through a vcpu with DAT off (works on kernels without vm memops). */
function snapshot(vcpu: Vcpu): Uint8Array {
  return vcpu.read(A1, 4096);
}

export const apiCases: readonly ConformanceCase[] = [
  {
    id: 'api/arguments/refused-before-ioctl',
    topic: 'api',
    title: 'bad descriptors get typed errors and change neither guest memory nor buffers',
    source: 'API (the kernel trusts pointers; we do not)',
    run(ctx) {
      const vm = ctx.createVm();
      const vcpu = vm.createVcpu(0);
      vcpu.write(A1, ctx.randomBytes(4096));
      const before = snapshot(vcpu);
      const buf = ctx.randomBytes(64);
      const bufBefore = buf.slice();
      for (const [what, desc, code] of badDescriptors(buf)) {
        expectArgError(() => vm.memop(desc as never), code, `vm.memop: ${what}`);
      }
      expectBytes(snapshot(vcpu), before, 'guest memory');
      expectBytes(buf, bufBefore, 'buf');
      for (const [what, desc, code] of badDescriptors(buf)) {
        expectArgError(() => vcpu.memop(desc as never), code, `vcpu.memop: ${what}`);
      }
      expectBytes(snapshot(vcpu), before, 'guest memory after vcpu calls');
      expectBytes(buf, bufBefore, 'buf after vcpu calls');
      vcpu.close();
    },
  },
  {
    id: 'api/arguments/helpers',
    topic: 'api',
    title: 'helpers and handles refuse bad arguments with typed errors',
    source: 'API',
    run(ctx) {
      const vm = ctx.createVm();
      expectArgError(() => vm.read(A1, -1), 'ERR_OUT_OF_RANGE', 'read length -1');
      expectArgError(() => vm.read(A1, 8, { key: 300 }), 'ERR_OUT_OF_RANGE', 'read key 300');
      expectArgError(() => vm.write(A1, 'text' as never), 'ERR_INVALID_ARG_TYPE', 'write a string');
      expectArgError(() => vm.check(A1, 8, 'execute' as never), 'ERR_INVALID_ARG_VALUE', "check mode 'execute'");
      expectArgError(() => vm.compareAndExchange(A1, new Uint8Array(8), new Uint8Array(4)), 'ERR_INVALID_ARG_VALUE', 'cmpxchg length mismatch');
      expectArgError(() => vm.getStorageKeys(-1, 1), 'ERR_OUT_OF_RANGE', 'getStorageKeys gfn -1');
      expectArgError(() => vm.getStorageKeys(0, 1.5), 'ERR_OUT_OF_RANGE', 'getStorageKeys count 1.5');
      expectArgError(() => vm.setStorageKeys(0, [1] as never), 'ERR_INVALID_ARG_TYPE', 'setStorageKeys array');
      expectArgError(() => vm.createVcpu(-1), 'ERR_OUT_OF_RANGE', 'vcpu id -1');
      expectArgError(() => ctx.backend.createVm({ memorySize: -1 }), 'ERR_OUT_OF_RANGE', 'memorySize -1');
      expectArgError(() => ctx.backend.checkExtension('108' as never), 'ERR_INVALID_ARG_TYPE', 'cap a string');
      const vcpu = vm.createVcpu(0);
      expectArgError(() => vcpu.setState({ cr: [0n] }), 'ERR_OUT_OF_RANGE', 'setState with one CR');
      expectArgError(() => vcpu.setState({ psw: { mask: -1n, addr: 0n } }), 'ERR_OUT_OF_RANGE', 'psw mask -1');
      expectArgError(() => vcpu.setState({ ar: new Array(16).fill(2 ** 32) }), 'ERR_OUT_OF_RANGE', 'AR 2^32');
      expectArgError(() => vcpu.reset('warm' as never), 'ERR_INVALID_ARG_VALUE', "reset 'warm'");
      expectArgError(() => vcpu.read(0, 8, { ar: 256 }), 'ERR_OUT_OF_RANGE', 'ar 256');
      vcpu.close();
    },
  },
  {
    id: 'api/closed-handles',
    topic: 'api',
    title: 'use after close is EBADF on vm and vcpu; close twice is harmless',
    source: 'API (the kernel answers EBADF for a closed fd)',
    run(ctx) {
      const vm = ctx.createVm();
      const vcpu = vm.createVcpu(0);
      vcpu.close();
      vcpu.close();
      expectErrno(() => vcpu.memop({ op: MEMOP.LOGICAL_READ, size: 8, buf: new Uint8Array(8) }), 'EBADF', 'vcpu memop after close');
      expectErrno(() => vcpu.getState(), 'EBADF', 'vcpu getState after close');
      vm.close();
      vm.close();
      expectErrno(() => vm.memop({ op: MEMOP.ABSOLUTE_READ, size: 8, buf: new Uint8Array(8) }), 'EBADF', 'vm memop after close');
      expectErrno(() => vm.getStorageKeys(0, 1), 'EBADF', 'getStorageKeys after close');
      expectErrno(() => vm.setStorageKeys(0, Uint8Array.of(0)), 'EBADF', 'setStorageKeys after close');
      expectErrno(() => vm.createVcpu(1), 'EBADF', 'createVcpu after close');
    },
  },
  {
    id: 'api/vcpu-outlives-vm-close',
    topic: 'api',
    title: 'a vcpu keeps working after its vm handle is closed (the vcpu fd holds the VM)',
    source: 'KVM fd lifetime rules',
    run(ctx) {
      const vm = ctx.createVm();
      const vcpu = vm.createVcpu(0);
      vcpu.write(0x3000, Uint8Array.of(1, 2, 3, 4));
      vm.close();
      expectBytes(vcpu.read(0x3000, 4), Uint8Array.of(1, 2, 3, 4), 'logical read after vm close');
      vcpu.close();
    },
  },
  {
    id: 'api/vm/create-errors',
    topic: 'api',
    title: 'memory sizes that are not a positive multiple of 1 MiB are EINVAL',
    source: 'docs/memop-semantics.md §10 (s390 memslots are 1 MiB aligned)',
    run(ctx) {
      expectErrno(() => ctx.backend.createVm({ memorySize: 0 }), 'EINVAL', 'size 0');
      expectErrno(() => ctx.backend.createVm({ memorySize: (1 << 20) + 4096 }), 'EINVAL', '1 MiB + 4 KiB');
    },
  },
  {
    id: 'api/flags/high-bits',
    topic: 'api',
    title: 'a flag bit above bit 31 reaches the kernel and is refused with EINVAL',
    source: 'docs/memop-semantics.md §4.1, §5.1 (u64 flags)',
    run(ctx) {
      const vm = ctx.createVm();
      const buf = new Uint8Array(8);
      if (ctx.backend.checkExtension(211) !== 0) {
        expectErrno(() => vm.memop({ op: MEMOP.ABSOLUTE_READ, gaddr: A1, size: 8, buf, flags: 1n << 40n }), 'EINVAL', 'vm flag bit 40');
        expectErrno(() => vm.memop({ op: MEMOP.ABSOLUTE_READ, gaddr: A1, size: 8, buf, flags: 2 ** 40 + MEMOP_F.CHECK_ONLY }), 'EINVAL', 'vm flag bit 40 as a number');
      }
      const vcpu = vm.createVcpu(0);
      expectErrno(() => vcpu.memop({ op: MEMOP.LOGICAL_READ, gaddr: 0n, size: 8, buf, flags: 1n << 63n }), 'EINVAL', 'vcpu flag bit 63');
      vcpu.close();
    },
  },
  {
    id: 'api/vcpu/state-a-cpu-cannot-load',
    topic: 'api',
    title: 'a PSW a CPU would refuse to load, or a prefix outside memory, is refused before anything changes',
    source: 'z/Architecture PSW format (unassigned bits, addressing modes); kvm-s390.c: an invalid PSW is a validity intercept, a prefix outside memory fails every later KVM_RUN',
    run(ctx) {
      const vm = ctx.createVm({ memorySize: 2 << 20 });
      const vcpu = vm.createVcpu(0);
      const good = { mask: 0x0000000180000000n, addr: 0x1000n };
      vcpu.setState({ psw: good, prefix: 0x4000 });
      const bad: Array<[string, { mask: bigint; addr: bigint }]> = [
        ['bit 0', { mask: good.mask | (1n << 63n), addr: 0x1000n }],
        ['bit 12', { mask: good.mask | (1n << 51n), addr: 0x1000n }],
        ['bits 24-30', { mask: good.mask | (1n << 35n), addr: 0x1000n }],
        ['bits 33-63', { mask: good.mask | 1n, addr: 0x1000n }],
        ['EA without BA', { mask: 0x0000000100000000n, addr: 0x1000n }],
        ['31-bit mode, address above 2 GiB', { mask: 0x0000000080000000n, addr: 0x80000000n }],
        ['24-bit mode, address above 16 MiB', { mask: 0n, addr: 0x1000000n }],
        ['odd address', { mask: good.mask, addr: 0x1001n }],
      ];
      for (const [what, psw] of bad) expectArgError(() => vcpu.setState({ psw }), 'ERR_INVALID_ARG_VALUE', `PSW with ${what}`);
      expectArgError(() => vcpu.setState({ prefix: 2 << 20 }), 'ERR_OUT_OF_RANGE', 'prefix at the end of memory');
      expectArgError(() => vcpu.setState({ psw: good, cr: new Array(16).fill(0n), prefix: 0x7fffe000 }), 'ERR_OUT_OF_RANGE', 'prefix far outside, with other fields');
      const st = vcpu.getState();
      assert.deepEqual(st.psw, good, 'PSW unchanged');
      assert.equal(st.prefix, 0x4000, 'prefix unchanged');
      vcpu.setState({ prefix: (2 << 20) - 0x2000 });
      assert.equal(vcpu.getState().prefix, (2 << 20) - 0x2000, 'the last two pages are a valid prefix area');
      vcpu.close();
    },
  },
];
