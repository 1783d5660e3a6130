// Errno results carry the rule that refused the call: known on the emulated backend, marked
// "likely" on real KVM (where the model of the host's profile names it). Every errno the
// conformance suite expects is checked there too (expectErrno requires a reason).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Backend, KvmError, AccessException, MEMOP, MEMOP_F, openBackend, type MemOpDesc } from '../src/index.js';
import { KERNEL_PROFILES, type BackendHandle } from '../src/contract.js';
import { EmulatedBackend } from '../src/emulated/backend.js';
import { expectErrno } from '../src/conformance/assertions.js';

function refusal(fn: () => unknown): KvmError {
  try {
    fn();
  } catch (err) {
    if (err instanceof KvmError) return err;
    throw err;
  }
  throw new Error('expected a KvmError');
}

/** The emulated newest backend answering as if it were real KVM. */
function kvmLookalike(): Backend {
  const inner = new EmulatedBackend('newest', 'test');
  const handle: BackendHandle = {
    kind: 'kvm',
    profile: 'newest',
    reason: 'a stand-in for real KVM',
    checkExtension: (cap) => inner.checkExtension(cap),
    createVm: (opts) => inner.createVm(opts),
    close: () => inner.close(),
  };
  return new Backend(handle);
}

describe('the rule that refused a memop', () => {
  const backend = openBackend({ kind: 'emulated', profile: 'newest' });
  const vm = backend.createVm({ memorySize: 16 << 20 });
  const vcpu = vm.createVcpu(0);
  const buf = new Uint8Array(16);

  it.each<[string, () => unknown, string, RegExp]>([
    ['op 99 on the vm fd', () => vm.memop({ op: 99, size: 16, buf }), 'EINVAL', /op 99 is not valid on the vm fd/],
    ['a logical op on the vm fd', () => vm.memop({ op: MEMOP.LOGICAL_READ, size: 16, buf }), 'EINVAL', /logical and SIDA ops go to a vcpu fd/],
    ['an absolute op on a vcpu fd', () => vcpu.memop({ op: MEMOP.ABSOLUTE_READ, size: 16, buf }), 'EINVAL', /absolute ops go to the vm fd/],
    ['size 0', () => vm.memop({ op: MEMOP.ABSOLUTE_READ, size: 0, buf }), 'EINVAL', /size is 0/],
    ['key 16', () => vm.memop({ op: MEMOP.ABSOLUTE_READ, size: 16, buf, flags: MEMOP_F.SKEY_PROTECTION, key: 16 }), 'EINVAL', /key 16 is above 15/],
    ['SIDA on a vcpu that is not protected', () => vcpu.memop({ op: MEMOP.SIDA_READ, size: 16, buf }), 'EINVAL', /need a protected \(PV\) vcpu/],
    ['size 65537', () => vm.memop({ op: MEMOP.ABSOLUTE_READ, size: 65537, buf: new Uint8Array(65537) }), 'E2BIG', /size 65537 is above 65536/],
    ['ar 16', () => vcpu.memop({ op: MEMOP.LOGICAL_READ, size: 16, buf, ar: 16 }), 'EINVAL', /ar 16 is above 15/],
    ['INJECT on the vm fd', () => vm.memop({ op: MEMOP.ABSOLUTE_READ, size: 16, buf, flags: MEMOP_F.INJECT_EXCEPTION }), 'EINVAL', /flags 0x2 has bits an absolute op does not take/],
    ['a NULL buffer', () => vm.memop({ op: MEMOP.ABSOLUTE_WRITE, size: 16, buf: null }), 'EFAULT', /buf is NULL/],
    ['a misaligned cmpxchg', () => vm.memop({ op: MEMOP.ABSOLUTE_CMPXCHG, gaddr: 2, size: 4, buf, old: new Uint8Array(4) }), 'EINVAL', /not aligned/],
    ['SET_SKEYS with a reserved bit', () => vm.setStorageKeys(0, Uint8Array.of(0x01)), 'EINVAL', /reserved bit/],
    ['GET_SKEYS beyond memory', () => (vm.setStorageKeys(0, Uint8Array.of(0x10)), vm.getStorageKeys(4095, 2)), 'EFAULT', /beyond guest memory/],
  ])('%s', (_, call, code, reason) => {
    const err = refusal(call);
    expect(err.code).toBe(code);
    expect(err.reason).toMatch(reason);
    expect(err.reasonIsLikely).toBe(false);
    expect(err.message).toContain(err.reason!);
  });

  it('pre-5.18 has no memop on the vm fd, and says so', () => {
    using old = openBackend({ kind: 'emulated', profile: 'pre-5.18' });
    using oldVm = old.createVm({ memorySize: 1 << 20 });
    const err = refusal(() => oldVm.memop({ op: MEMOP.ABSOLUTE_READ, size: 16, buf }));
    expect(err.code).toBe('ENOTTY');
    expect(err.reason).toMatch(/before Linux 5\.18/);
  });

  it('real KVM: the same rule, marked as likely', () => {
    const kvm = kvmLookalike();
    const kvmVm = kvm.createVm({ memorySize: 1 << 20 });
    const err = refusal(() => kvmVm.memop({ op: MEMOP.ABSOLUTE_READ, size: 0, buf }));
    expect(err.reasonIsLikely).toBe(true);
    expect(err.message).toBe('KVM_S390_MEM_OP failed: EINVAL (likely: size is 0: the kernel refuses an empty access)');
    kvmVm.close();
    kvm.close();
  });

  it('expectErrno fails a case whose errno has no reason', () => {
    expect(() => expectErrno(() => { throw new KvmError(22, 'KVM_S390_MEM_OP'); }, 'EINVAL')).toThrow(/carries no reason/);
  });

  it('every errno the emulated backend answers for any descriptor, on every profile, has a rule', () => {
    const descriptor = fc.record({
      op: fc.oneof(fc.integer({ min: 0, max: 7 }), fc.constant(0xffffffff)),
      gaddr: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: (1 << 21) - 1 }), fc.constant(2 ** 40)),
      size: fc.constantFrom(0, 1, 3, 4, 8, 16, 17, 4096, 65536, 65537),
      flags: fc.integer({ min: 0, max: 15 }),
      key: fc.integer({ min: 0, max: 20 }),
      ar: fc.integer({ min: 0, max: 20 }),
      nullBuf: fc.boolean(),
      nullOld: fc.boolean(),
      sidaOffset: fc.constantFrom(undefined, 0, 4000, 0xfffffff0),
    });
    for (const profile of KERNEL_PROFILES) {
      using b = openBackend({ kind: 'emulated', profile });
      using v = b.createVm({ memorySize: 1 << 20 });
      using plain = v.createVcpu(0);
      using pv = v.createVcpu(1, { protected: true });
      fc.assert(
        fc.property(descriptor, fc.constantFrom('vm', 'vcpu', 'pv'), (d, target) => {
          const desc: MemOpDesc = {
            op: d.op,
            gaddr: d.gaddr,
            size: d.size,
            flags: d.flags,
            buf: d.nullBuf ? null : new Uint8Array(d.size),
            old: d.nullOld ? null : new Uint8Array(d.size),
            ...(d.sidaOffset === undefined ? { key: d.key, ar: d.ar } : { sidaOffset: d.sidaOffset }),
          };
          const handle = target === 'vm' ? v : target === 'vcpu' ? plain : pv;
          try {
            handle.memop(desc);
          } catch (err) {
            if (!(err instanceof KvmError)) throw err;
            expect(err.reason, `${profile} ${target} ${JSON.stringify(d)}`).toBeTruthy();
            expect(err.reason, `${profile} ${target} ${JSON.stringify(d)}: ${err.message}`).not.toMatch(/^no argument rule/);
          }
        }),
        { numRuns: 400, seed: 1111 },
      );
    }
  });
});

describe('read and write above 64 KiB', () => {
  it('split into 64 KiB memops like a VMM, and round-trip', () => {
    using b = openBackend({ kind: 'emulated' });
    using v = b.createVm({ memorySize: 4 << 20 });
    const data = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
    v.write(0x10003, data);
    expect(v.read(0x10003, data.length)).toEqual(data);
    expect(v.check(0x10003, data.length, 'write')).toBe(0);
    using c = v.createVcpu(0);
    expect(c.read(0x10003, data.length)).toEqual(data);
  });

  it('a refusal mid-way: earlier chunks are done, the refused chunk stores up to the refused page, nothing after it', () => {
    using b = openBackend({ kind: 'emulated' });
    using v = b.createVm({ memorySize: 4 << 20 });
    // Page 0x118 (inside the second chunk) refuses key 3: storage key 0x58 (ACC 5, F).
    v.setStorageKeys(0x100, new Uint8Array(0x40).fill(0x30));
    v.setStorageKeys(0x118, Uint8Array.of(0x58));
    const start = 0x100000;
    const data = new Uint8Array(4 * 65536).fill(0xab);
    let thrown: unknown;
    try {
      v.write(start, data, { key: 3 });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(AccessException);
    const ex = thrown as AccessException;
    expect(ex.code).toBe('PGM_PROTECTION');
    expect(ex.bytesCompleted).toBe(65536);
    const after = v.read(start, data.length);
    const refusedPage = 0x118000 - start;
    expect(after.subarray(0, refusedPage).every((x) => x === 0xab)).toBe(true);
    expect(after.subarray(refusedPage).every((x) => x === 0)).toBe(true);
    expect(v.check(start, data.length, 'write', { key: 3 })).toBe(4);
    expect(() => v.read(start, data.length, { key: 3 })).toThrow(AccessException);
  });
});
