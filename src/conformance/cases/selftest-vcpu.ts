// The vcpu scenarios of the kernel's memop selftest (docs/selftest-vectors.md T1, T2, T3, T5–T9,
// T12, T14–T16). "RUN" commits state in the selftest; our setState applies at once.
import { MEMOP, MEMOP_F, PGM } from '../../abi/constants.js';
import { assert, expectBytes, expectErrno, expectFilled, expectResult } from '../assertions.js';
import type { CaseContext, ConformanceCase } from '../types.js';
import { CR0_FPO, CR0_SPO, LREAD, LWRITE, S, VA_LAST, checkAndDo, keyed, selftestEnv, type SelftestEnv, setKeys, requireGuestAccessRegisters } from './fixtures.js';

const SKEY = MEMOP_F.SKEY_PROTECTION;
const INJECT = MEMOP_F.INJECT_EXCEPTION;

/** WR(vcpu, n, k): keyed write to V1, guest copy, keyed read of V2. */
function writeCopyRead(ctx: CaseContext, env: SelftestEnv, n: number, key: number | undefined): void {
  const h1 = ctx.randomBytes(n);
  checkAndDo(env.vcpu, { op: LWRITE, gaddr: env.V1, size: n, buf: h1, ...keyed(key) }, 0, `write ${n} key ${key ?? 'none'}`);
  env.guestCopy(n);
  const out = new Uint8Array(n);
  checkAndDo(env.vcpu, { op: LREAD, gaddr: env.V2, size: n, buf: out, ...keyed(key) }, 0, `read ${n} key ${key ?? 'none'}`);
  expectBytes(out, h1, 'read back');
}

/** RD(vcpu, n, k): plain write, guest copy, keyed read. */
function readWithKey(ctx: CaseContext, env: SelftestEnv, n: number, key: number): void {
  const h1 = ctx.randomBytes(n);
  expectResult(env.vcpu.memop({ op: LWRITE, gaddr: env.V1, size: n, buf: h1 }), 0, 'plain write');
  env.guestCopy(n);
  const out = new Uint8Array(n);
  checkAndDo(env.vcpu, { op: LREAD, gaddr: env.V2, size: n, buf: out, flags: SKEY, key }, 0, `read key ${key}`);
  expectBytes(out, h1, 'read back');
}

export const selftestVcpuCases: readonly ConformanceCase[] = [
  {
    id: 'selftest/T1/simple-copy',
    topic: 'selftest',
    title: 'write 64 KiB through DAT, guest copies, read it back',
    source: 'selftest T1',
    run(ctx) {
      const env = selftestEnv(ctx);
      const h1 = ctx.randomBytes(S);
      checkAndDo(env.vcpu, { op: LWRITE, gaddr: env.V1, size: S, buf: h1 }, 0, 'write V1');
      expectBytes(env.mem.read(env.A1, S), h1, 'guest memory at A(V1)');
      env.guestCopy();
      const out = new Uint8Array(S);
      checkAndDo(env.vcpu, { op: LREAD, gaddr: env.V2, size: S, buf: out }, 0, 'read V2');
      expectBytes(out, h1, 'read back');
    },
  },
  {
    id: 'selftest/T2/vcpu/errors',
    topic: 'selftest',
    title: 'generic error checks on the vcpu fd (E1–E8, E10–E12)',
    source: 'selftest T2',
    run(ctx) {
      const { vcpu, V1, A1, mem } = selftestEnv(ctx);
      const h1 = ctx.randomBytes(S);
      const before = mem.read(A1, S);
      expectErrno(() => vcpu.memop({ op: LWRITE, gaddr: V1, size: 0xffffffff, buf: null }), 'E2BIG', 'E1 size 0xffffffff');
      expectErrno(() => vcpu.memop({ op: LWRITE, gaddr: V1, size: 0, buf: h1 }), ['EINVAL', 'ENOMEM'], 'E2 size 0');
      expectErrno(() => vcpu.memop({ op: LWRITE, gaddr: V1, size: S, buf: h1, flags: 0xffffffffffffffffn }), 'EINVAL', 'E3 all flags');
      expectResult(vcpu.memop({ op: LWRITE, gaddr: 0xfffffffffffff000n, size: S, buf: h1, flags: MEMOP_F.CHECK_ONLY }), PGM.REGION_FIRST_TRANS, 'E4 check-only');
      expectResult(vcpu.memop({ op: LWRITE, gaddr: 0xfffffffffffff000n, size: S, buf: h1 }), PGM.REGION_FIRST_TRANS, 'E5 write');
      expectErrno(() => vcpu.memop({ op: LWRITE, gaddr: V1, size: S, buf: null }), 'EFAULT', 'E6 NULL buf');
      expectErrno(() => vcpu.memop({ op: LWRITE, gaddr: V1, size: S, buf: h1, flags: SKEY, key: 17 }), 'EINVAL', 'E7 key 17');
      expectBytes(mem.read(A1, S), before, 'guest memory after E1–E7');
      expectErrno(() => vcpu.memop({ op: 0xffffffff, gaddr: V1, size: S, buf: h1 }), 'EINVAL', 'E8 op 0xffffffff');
      const psw = vcpu.getState().psw;
      vcpu.setState({ psw: { mask: psw.mask | (1n << 46n), addr: psw.addr } });
      expectErrno(() => vcpu.memop({ op: LWRITE, gaddr: V1, size: S, buf: h1, ar: 17 }), 'EINVAL', 'E10 ar 17 in AR mode');
      vcpu.setState({ psw });
      expectErrno(() => vcpu.memop({ op: MEMOP.SIDA_READ, size: 8, buf: h1, sidaOffset: 0x1c0 }), 'EINVAL', 'E11 SIDA read, not protected');
      expectErrno(() => vcpu.memop({ op: MEMOP.SIDA_WRITE, size: 8, buf: h1, sidaOffset: 0x1c0 }), 'EINVAL', 'E12 SIDA write, not protected');
    },
  },
  {
    id: 'selftest/T3/vcpu/copy-with-keys',
    topic: 'selftest',
    title: 'copy with storage keys 0x90 through the vcpu (keys 0 and 9, sizes 64 KiB and 1, fetch with key 2)',
    source: 'selftest T3 steps 2, 3, 6, 7, 10',
    run(ctx) {
      ctx.requireExtension(1);
      const env = selftestEnv(ctx);
      env.setKeys(env.V1, S, 0x90);
      env.setKeys(env.V2, S, 0x90);
      writeCopyRead(ctx, env, S, 0);
      writeCopyRead(ctx, env, S, 9);
      writeCopyRead(ctx, env, 1, 0);
      writeCopyRead(ctx, env, 1, 9);
      readWithKey(ctx, env, S, 2);
    },
  },
  {
    id: 'selftest/T5/concurrent-cmpxchg',
    topic: 'selftest',
    title: 'cmpxchg on the vm fd while the guest runs CS/CDSG on the same storage',
    source: 'selftest T5',
    needsRealGuest: true,
    run(ctx) {
      ctx.skip('needs guest code running concurrently under KVM_RUN; this library loads no guest program yet');
    },
  },
  {
    id: 'selftest/T6/storage-protection-override',
    topic: 'selftest',
    title: 'with CR0 bit 39, key 2 may fetch and store ACC-9 pages',
    source: 'selftest T6',
    run(ctx) {
      ctx.requireExtension(1);
      const env = selftestEnv(ctx);
      env.setCr0Bits(CR0_SPO);
      env.setKeys(env.V1, S, 0x98);
      env.setKeys(env.V2, S, 0x98);
      writeCopyRead(ctx, env, S, 2);
    },
  },
  {
    id: 'selftest/T7/vcpu/fetch-protection-acc-match',
    topic: 'selftest',
    title: 'fetch-protected pages (0x98) read with the matching key 9 through the vcpu',
    source: 'selftest T7 step 1',
    run(ctx) {
      ctx.requireExtension(1);
      const env = selftestEnv(ctx);
      env.setKeys(env.V1, S, 0x98);
      env.setKeys(env.V2, S, 0x98);
      readWithKey(ctx, env, S, 9);
    },
  },
  {
    id: 'selftest/T8/fetch-protection-override',
    topic: 'selftest',
    title: 'with CR0 bit 38, key 2 may fetch effective 0..2047 of a fetch-protected page, also across the 2^64 wrap',
    source: 'selftest T8',
    run(ctx) {
      ctx.requireExtension(1);
      const env = selftestEnv(ctx, { lowPages: true });
      env.setCr0Bits(CR0_FPO);
      env.setKeys(0n, 4096, 0x18);
      env.setKeys(VA_LAST, 4096, 0x00);
      setKeys(env.vm, 0, Uint8Array.of(0x18));
      const h1 = ctx.randomBytes(4096);
      expectResult(env.vcpu.memop({ op: LWRITE, gaddr: env.V1, size: 4096, buf: h1 }), 0, 'write V1');
      const copyV1ToVa0 = () => env.mem.write(0x700000n, env.mem.read(env.A1, 4096));
      copyV1ToVa0();
      const out = new Uint8Array(2048);
      checkAndDo(env.vcpu, { op: LREAD, gaddr: 0n, size: 2048, buf: out, flags: SKEY, key: 2 }, 0, 'read 0..2047 key 2');
      expectBytes(out, h1.subarray(0, 2048), 'data at VA 0');
      const h1b = ctx.randomBytes(8192);
      expectResult(env.vcpu.memop({ op: LWRITE, gaddr: VA_LAST, size: 8192, buf: h1b }), 0, 'write across the 2^64 wrap');
      copyV1ToVa0();
      const out2 = new Uint8Array(4096 + 2048);
      checkAndDo(env.vcpu, { op: LREAD, gaddr: VA_LAST, size: 4096 + 2048, buf: out2, flags: SKEY, key: 2 }, 0, 'read across the wrap key 2');
      expectBytes(out2.subarray(0, 2048), h1b.subarray(0, 2048), 'first bytes of the last page');
      expectBytes(out2.subarray(4096), h1.subarray(0, 2048), 'VA 0 after the wrap');
    },
  },
  {
    id: 'selftest/T9/vcpu/errors-with-key',
    topic: 'selftest',
    title: 'keyed vcpu write and fetch of a protected range give PGM_PROTECTION and change nothing',
    source: 'selftest T9 steps 1, 2',
    run(ctx) {
      ctx.requireExtension(1);
      const env = selftestEnv(ctx);
      env.setKeys(env.V1, 4096, 0x18);
      env.setKeys(env.V1 + 4096n, S - 4096, 0x98);
      const before = env.mem.read(env.A1, S);
      checkAndDo(env.vcpu, { op: LWRITE, gaddr: env.V1, size: S, buf: ctx.randomBytes(S), flags: SKEY, key: 2 }, PGM.PROTECTION, 'write key 2');
      expectBytes(env.mem.read(env.A1, S), before, 'memory');
      const out = new Uint8Array(S).fill(0x5a);
      checkAndDo(env.vcpu, { op: LREAD, gaddr: env.V1, size: S, buf: out, flags: SKEY, key: 2 }, PGM.PROTECTION, 'read key 2');
      expectFilled(out, 0x5a, 'buf');
    },
  },
  {
    id: 'selftest/T12/termination',
    topic: 'selftest',
    title: 'a keyed store stopped on its second page: first page stored, injected TEID "terminating"',
    source: 'selftest T12',
    run(ctx) {
      ctx.requireExtension(1);
      const env = selftestEnv(ctx);
      env.setKeys(env.V1, 4096, 0x18);
      env.setKeys(env.V1 + 4096n, S - 4096, 0x98);
      const before = env.mem.read(env.A1, S);
      const h1 = ctx.randomBytes(S);
      expectResult(env.vcpu.memop({ op: LWRITE, gaddr: env.V1, size: S, buf: h1, flags: SKEY | INJECT, key: 1 }), PGM.PROTECTION, 'write key 1');
      const after = env.mem.read(env.A1, S);
      expectBytes(after.subarray(0, 4096), h1.subarray(0, 4096), 'first page stored');
      expectBytes(after.subarray(4096), before.subarray(4096), 'later pages untouched');
      const irq = env.vcpu.pendingProgramInterrupt();
      assert.ok(irq !== null, 'a program interrupt is pending');
      assert.equal(irq.code, PGM.PROTECTION);
      assert.equal(irq.teid & 0x8cn, 0n, 'TEID bits 56, 60, 61 clear (terminating)');
      assert.equal(irq.teid, (env.V1 + 0x1000n) | 0x400n, 'TEID = failing page | FSI store | AS primary');
    },
  },
  {
    id: 'selftest/T14/no-fetch-protection-override',
    topic: 'selftest',
    title: 'without CR0 bit 38, key 2 may not fetch 0..2047 of a fetch-protected page',
    source: 'selftest T14',
    run(ctx) {
      ctx.requireExtension(1);
      const env = selftestEnv(ctx, { lowPages: true });
      env.setKeys(0n, 4096, 0x18);
      setKeys(env.vm, 0, Uint8Array.of(0x18));
      checkAndDo(env.vcpu, { op: LREAD, gaddr: 0n, size: 2048, buf: new Uint8Array(2048), flags: SKEY, key: 2 }, PGM.PROTECTION, 'read 0..2047 key 2');
    },
  },
  {
    id: 'selftest/T15/vcpu/fetch-protection-override-bounds',
    topic: 'selftest',
    title: 'the fetch-protection override stops at effective address 2048',
    source: 'selftest T15 steps 1, 2',
    run(ctx) {
      ctx.requireExtension(1);
      const env = selftestEnv(ctx, { lowPages: true });
      env.setCr0Bits(CR0_FPO);
      env.setKeys(0n, 4096, 0x18);
      env.setKeys(VA_LAST, 4096, 0x00);
      setKeys(env.vm, 0, Uint8Array.of(0x18));
      checkAndDo(env.vcpu, { op: LREAD, gaddr: 0n, size: 2049, buf: new Uint8Array(2049), flags: SKEY, key: 2 }, PGM.PROTECTION, 'read 0..2048 key 2');
      checkAndDo(env.vcpu, { op: LREAD, gaddr: VA_LAST, size: 4096 + 2049, buf: new Uint8Array(4096 + 2049), flags: SKEY, key: 2 }, PGM.PROTECTION, 'read across the wrap into 2048');
    },
  },
  {
    id: 'selftest/T16/access-register-mode',
    topic: 'selftest',
    title: 'in AR mode with AR1 = 0 the primary space is used',
    source: 'selftest T16',
    run(ctx) {
      requireGuestAccessRegisters(ctx);
      const env = selftestEnv(ctx);
      const h1 = ctx.randomBytes(S);
      const psw = env.vcpu.getState().psw;
      env.vcpu.setState({ psw: { mask: psw.mask | (1n << 46n), addr: psw.addr } });
      checkAndDo(env.vcpu, { op: LWRITE, gaddr: env.V1, size: S, buf: h1, ar: 1 }, 0, 'write V1 with ar 1');
      env.guestCopy();
      const out = new Uint8Array(S);
      checkAndDo(env.vcpu, { op: LREAD, gaddr: env.V2, size: S, buf: out, ar: 1 }, 0, 'read V2 with ar 1');
      expectBytes(out, h1, 'read back');
    },
  },
];
