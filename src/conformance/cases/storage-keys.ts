// KVM_S390_GET_SKEYS / SET_SKEYS (docs/memop-semantics.md §9) and the capability answers (docs/memop-semantics.md §12).
import { PROFILES } from '../../emulated/profiles.js';
import { CAP, MEMOP_EXT, MEM_OP_MAX_SIZE, SKEYS_MAX } from '../../abi/constants.js';
import { assert, expectBytes, expectErrno } from '../assertions.js';
import type { CaseContext, ConformanceCase } from '../types.js';
import { setKeys } from './fixtures.js';

const MIB = 1 << 20;
const PAGES_PER_MIB = 256;

export const storageKeyCases: readonly ConformanceCase[] = [
  {
    id: 'storage-keys/get/none-before-use',
    topic: 'storage-keys',
    title: 'GET_SKEYS answers KVM_S390_GET_SKEYS_NONE until keys are used, even for a bad count',
    source: 'docs/memop-semantics.md §9 (classic: per host process, mm_uses_skeys; newest: per VM, gmap->uses_skeys)',
    run(ctx) {
      const vm = ctx.createVm();
      if (vm.getStorageKeys(0, 1) !== null) {
        if (ctx.profile === 'newest') assert.fail('a fresh VM reports keys in use on a per-VM kernel');
        ctx.skip('an earlier VM of this process already enabled storage keys (per-process on this kernel)');
      }
      assert.equal(vm.getStorageKeys(0, 16), null, 'fresh VM');
      assert.equal(vm.getStorageKeys(0, 0), null, 'count 0 is not looked at yet');
      assert.equal(vm.getStorageKeys(1n << 40n, 1), null, 'gfn outside memory is not looked at yet');
    },
  },
  {
    id: 'storage-keys/uses-keys-scope',
    topic: 'storage-keys',
    title: 'SET_SKEYS on one VM enables keys for every VM of the process on classic, only for itself on newest',
    source: 'kernel: kvm_s390_get_skeys (mm_uses_skeys vs gmap->uses_skeys) [diff]',
    run(ctx) {
      const first = ctx.createVm();
      const second = ctx.createVm();
      setKeys(second, 0, Uint8Array.of(0x10));
      const seenByFirst = first.getStorageKeys(0, 1);
      if (ctx.profile === 'newest') assert.equal(seenByFirst, null, 'the other VM still reports GET_SKEYS_NONE');
      else assert.ok(seenByFirst !== null, 'the other VM of the same process reports keys');
      assert.equal(second.getStorageKeys(0, 1)![0]!, 0x10);
    },
  },
  {
    id: 'storage-keys/flags',
    topic: 'storage-keys',
    title: 'GET_SKEYS and SET_SKEYS refuse any flag with EINVAL, before everything else',
    source: 'docs/memop-semantics.md §9',
    run(ctx) {
      const vm = ctx.createVm({ memorySize: MIB });
      expectErrno(() => vm.getStorageKeys(0, 1, { flags: 1 }), 'EINVAL', 'GET flags 1 (even before GET_SKEYS_NONE)');
      expectErrno(() => vm.setStorageKeys(0, new Uint8Array(0), { flags: 0x80000000 }), 'EINVAL', 'SET flags 0x80000000 with count 0');
      expectErrno(() => vm.setStorageKeys(0, Uint8Array.of(0x10), { flags: 2 }), 'EINVAL', 'SET flags 2');
      expectErrno(() => vm.getStorageKeys(0, 1, { flags: 4 }), 'EINVAL', 'GET flags 4');
    },
  },
  {
    id: 'storage-keys/set-then-get',
    topic: 'storage-keys',
    title: 'SET_SKEYS stores key bytes per 4 KiB page and GET_SKEYS returns them; unset pages read 0',
    source: 'docs/memop-semantics.md §9',
    run(ctx) {
      const vm = ctx.createVm({ memorySize: 4 * MIB });
      const keys = new Uint8Array(300);
      for (let i = 0; i < keys.length; i++) keys[i] = (i * 0x10 + (i & 0x08)) & 0xf8;
      setKeys(vm, 100, keys);
      const got = vm.getStorageKeys(100, 300);
      assert.ok(got !== null);
      expectBytes(got, keys, 'keys read back');
      expectBytes(vm.getStorageKeys(0, 100)!, new Uint8Array(100), 'pages before');
      expectBytes(vm.getStorageKeys(400, 624)!, new Uint8Array(624), 'pages after, up to the end of memory');
    },
  },
  {
    id: 'storage-keys/get/errors',
    topic: 'storage-keys',
    title: 'GET_SKEYS: count 0 or above 1048576 is EINVAL, any gfn outside memory EFAULT',
    source: 'docs/memop-semantics.md §9',
    run(ctx) {
      const vm = ctx.createVm({ memorySize: MIB });
      setKeys(vm, 0, Uint8Array.of(0x10));
      expectErrno(() => vm.getStorageKeys(0, 0), 'EINVAL', 'count 0');
      expectErrno(() => vm.getStorageKeys(0, SKEYS_MAX + 1), 'EINVAL', 'count 1048577');
      expectErrno(() => vm.getStorageKeys(PAGES_PER_MIB - 1, 2), 'EFAULT', 'last page + 1');
      expectErrno(() => vm.getStorageKeys(PAGES_PER_MIB, 1), 'EFAULT', 'first page outside');
      expectErrno(() => vm.getStorageKeys((1n << 64n) - 1n, 2), 'EFAULT', 'gfn range wrapping 2^64');
      assert.equal(vm.getStorageKeys(PAGES_PER_MIB - 1, 1)!.length, 1, 'the last page itself');
    },
  },
  {
    id: 'storage-keys/set/errors',
    topic: 'storage-keys',
    title: 'SET_SKEYS: count 0 or above 1048576 is EINVAL; it enables keys even when it then fails',
    source: 'docs/memop-semantics.md §9',
    run(ctx) {
      const vm = ctx.createVm({ memorySize: MIB });
      const keysAlreadyOn = vm.getStorageKeys(0, 1) !== null;
      expectErrno(() => vm.setStorageKeys(0, new Uint8Array(0)), 'EINVAL', 'count 0');
      if (!keysAlreadyOn) assert.equal(vm.getStorageKeys(0, 1), null, 'a refused count does not enable keys');
      expectErrno(() => vm.setStorageKeys(PAGES_PER_MIB, Uint8Array.of(0x10)), 'EFAULT', 'gfn outside memory');
      const got = vm.getStorageKeys(0, 1);
      assert.ok(got !== null, 'keys are enabled by the failed SET');
      expectErrno(() => vm.setStorageKeys(0, new Uint8Array(SKEYS_MAX + 1)), 'EINVAL', 'count 1048577');
    },
  },
  {
    id: 'storage-keys/set/partial',
    topic: 'storage-keys',
    title: 'SET_SKEYS across the end of memory: keys before the first bad gfn stay set',
    source: 'docs/memop-semantics.md §9',
    run(ctx) {
      const vm = ctx.createVm({ memorySize: MIB });
      // Twice, so that the first key of the fresh segment lands on the classic kernels too.
      for (const time of ['first', 'second']) {
        expectErrno(() => vm.setStorageKeys(PAGES_PER_MIB - 2, Uint8Array.of(0x20, 0x30, 0x40)), 'EFAULT', `across the end, ${time} time`);
      }
      expectBytes(vm.getStorageKeys(PAGES_PER_MIB - 2, 2)!, Uint8Array.of(0x20, 0x30), 'keys inside memory');
    },
  },
  {
    id: 'storage-keys/set/reserved-bit',
    topic: 'storage-keys',
    title: 'a key byte with bit 7 (0x01) set is EINVAL: newest changes no key, classic sets the keys before it',
    source: 'docs/memop-semantics.md §9 [diff]',
    run(ctx) {
      const vm = ctx.createVm({ memorySize: MIB });
      for (const time of ['first', 'second']) {
        expectErrno(() => vm.setStorageKeys(10, Uint8Array.of(0x20, 0x30, 0x41, 0x50)), 'EINVAL', `reserved bit in the third key, ${time} time`);
      }
      const got = vm.getStorageKeys(10, 4)!;
      const expected = ctx.profile === 'newest' ? Uint8Array.of(0, 0, 0, 0) : Uint8Array.of(0x20, 0x30, 0, 0);
      expectBytes(got, expected, `keys after the refused set (${ctx.profile})`);
    },
  },
  {
    id: 'storage-keys/set/reserved-bit-versus-outside',
    topic: 'storage-keys',
    title: 'a reserved bit after a gfn outside memory: EINVAL on newest, EFAULT on classic',
    source: 'docs/memop-semantics.md §9 [diff]',
    run(ctx) {
      const vm = ctx.createVm({ memorySize: MIB });
      const expected = ctx.profile === 'newest' ? 'EINVAL' : 'EFAULT';
      expectErrno(() => vm.setStorageKeys(PAGES_PER_MIB - 1, Uint8Array.of(0x20, 0x31)), expected, 'outside then reserved');
    },
  },
  {
    id: 'storage-keys/get/max-count',
    topic: 'storage-keys',
    title: 'GET/SET of exactly 1048576 keys (4 GiB of guest memory)',
    source: 'docs/memop-semantics.md §1.4 KVM_S390_SKEYS_MAX',
    run(ctx) {
      const vm = ctx.createVm({ memorySize: 4096 * MIB });
      const keys = new Uint8Array(SKEYS_MAX);
      for (let i = 0; i < keys.length; i += 4099) keys[i] = 0x78;
      setKeys(vm, 0, keys);
      expectBytes(vm.getStorageKeys(0, SKEYS_MAX)!, keys, 'all keys');
    },
  },
  {
    id: 'capabilities/memop',
    topic: 'capabilities',
    title: 'KVM_CHECK_EXTENSION answers for the memop capabilities, the same on /dev/kvm and the vm',
    source: 'docs/memop-semantics.md §12',
    run(ctx) {
      const b = ctx.backend;
      assert.equal(b.checkExtension(CAP.S390_MEM_OP), MEM_OP_MAX_SIZE, 'KVM_CAP_S390_MEM_OP');
      assert.equal(b.checkExtension(CAP.S390_SKEYS), 1, 'KVM_CAP_S390_SKEYS');
      const ext = b.checkExtension(CAP.S390_MEM_OP_EXTENSION);
      const byProfile = { newest: 3, classic: 3, 'v6.3': 3, 'v5.18': 1, 'pre-5.18': 0 } as const;
      assert.equal(ext, byProfile[ctx.profile], `KVM_CAP_S390_MEM_OP_EXTENSION for ${ctx.profile}`);
      if (ext & MEMOP_EXT.CAP_CMPXCHG) assert.ok(ext & MEMOP_EXT.CAP_BASE, 'CMPXCHG implies BASE');
      assert.equal(b.checkExtension(CAP.S390_KEYOP), ctx.profile === 'newest' ? 1 : 0, 'KVM_CAP_S390_KEYOP');
      assert.equal(b.checkExtension(0x7fffffff), 0, 'an unknown capability');
      const vm = ctx.createVm();
      for (const cap of [CAP.S390_MEM_OP, CAP.S390_SKEYS, CAP.S390_MEM_OP_EXTENSION, CAP.S390_KEYOP]) {
        assert.equal(vm.checkExtension(cap), b.checkExtension(cap), `cap ${cap} on the vm fd`);
      }
    },
  },
  {
    id: 'storage-keys/set/first-key-of-fresh-segment',
    topic: 'storage-keys',
    title: 'before the gmap rewrite SET_SKEYS drops a non-zero key whose 1 MiB host segment has no page table yet; key 0 there changes nothing',
    source: 'kvm_s390_set_skeys: after fixup_user_fault the loop moves on without retrying (kernel bug until the gmap rewrite); test bed 6.1, 6.12',
    run(ctx) {
      const dropped = PROFILES[ctx.profile].setSkeysDropsKeyWithoutPageTable;
      const vm = ctx.createVm({ memorySize: 2 * MIB });
      // Segment 0 untouched: 0x10 for page 1 is lost (faulting the segment in), page 2's lands.
      vm.setStorageKeys(1, Uint8Array.of(0x10, 0x20));
      expectBytes(vm.getStorageKeys(1, 2)!, dropped ? Uint8Array.of(0x00, 0x20) : Uint8Array.of(0x10, 0x20), 'first call');
      vm.setStorageKeys(1, Uint8Array.of(0x10, 0x20));
      expectBytes(vm.getStorageKeys(1, 2)!, Uint8Array.of(0x10, 0x20), 'the same call again');
      // Segment 1: key 0 first faults nothing in, so the next non-zero key is the lost one.
      vm.setStorageKeys(PAGES_PER_MIB, Uint8Array.of(0x00, 0x30, 0x40));
      expectBytes(vm.getStorageKeys(PAGES_PER_MIB, 3)!, dropped ? Uint8Array.of(0x00, 0x00, 0x40) : Uint8Array.of(0x00, 0x30, 0x40), 'key 0 ahead');
      // A segment the host already touched (an absolute write) has its table: nothing is lost.
      if (ctx.backend.checkExtension(211) > 0) {
        const third = ctx.createVm({ memorySize: 2 * MIB });
        third.write(BigInt(PAGES_PER_MIB) * 4096n, Uint8Array.of(1));
        third.setStorageKeys(PAGES_PER_MIB + 5, Uint8Array.of(0x50));
        expectBytes(third.getStorageKeys(PAGES_PER_MIB + 5, 1)!, Uint8Array.of(0x50), 'segment touched before');
      }
      // Loading a prefix runs the vcpu once, which faults its two prefix pages in.
      const fourth = ctx.createVm({ memorySize: 2 * MIB });
      const vcpu = fourth.createVcpu(0);
      vcpu.setState({ prefix: MIB + 0x2000 });
      fourth.setStorageKeys(PAGES_PER_MIB + 9, Uint8Array.of(0x60));
      expectBytes(fourth.getStorageKeys(PAGES_PER_MIB + 9, 1)!, Uint8Array.of(0x60), 'the segment of the prefix pages');
      vcpu.close();
    },
  },
];
