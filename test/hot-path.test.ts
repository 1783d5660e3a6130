// The small-access fast paths (issue 12) keep every guarantee of the full paths:
//  - the emulated absolute fast path answers exactly as the profile's full validation sequence
//    (flags given as a bigint never take it: they are the oracle);
//  - a caller's Uint8Array subclass never has its own set/fill/subarray called by a memop;
//  - the per-Vm request object survives a descriptor getter that runs another memop;
//  - gaddr given as a number or a bigint is the same address.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MEMOP, MEMOP_F, PGM } from '../src/abi/constants.js';
import { openBackend } from '../src/api/backend.js';
import { KERNEL_PROFILES } from '../src/contract.js';
import { PageTableBuilder } from '../src/guest-tables/page-table-builder.js';
import { MemOpDescriptor } from '../src/kvm/descriptor.js';

const MIB = 1 << 20;

describe('emulated absolute fast path', () => {
  it('answers as the full validation sequence over random requests, on every profile', () => {
    const request = fc.record({
      profile: fc.constantFrom(...KERNEL_PROFILES.filter((p) => p !== 'pre-5.18')),
      write: fc.boolean(),
      start: fc.oneof(fc.integer({ min: 0, max: MIB + 8192 }), fc.constantFrom(MIB - 8, MIB - 4096, MIB)),
      size: fc.oneof(fc.integer({ min: 0, max: 20000 }), fc.constantFrom(1, 8, 4096, 65536, 65537)),
      flags: fc.constantFrom(0, MEMOP_F.SKEY_PROTECTION, MEMOP_F.CHECK_ONLY, MEMOP_F.SKEY_PROTECTION | MEMOP_F.CHECK_ONLY, 0x100),
      key: fc.constantFrom(0, 1, 3, 9, 15, 16),
      keys: fc.array(fc.record({ page: fc.nat(255), key: fc.constantFrom(0x30, 0x38, 0x10, 0x90) }), { maxLength: 20 }),
      nullBuf: fc.boolean(),
    });
    fc.assert(
      fc.property(request, (r) => {
        const outcomes = [false, true].map((bigFlags) => {
          const backend = openBackend({ kind: 'emulated', profile: r.profile });
          const vm = backend.createVm({ memorySize: BigInt(MIB) });
          for (let at = 0; at < MIB; at += 65536) vm.write(BigInt(at), new Uint8Array(65536).map((_, i) => (at + i) * 7));
          for (const k of r.keys) vm.setStorageKeys(k.page, Uint8Array.of(k.key));
          const buf = r.nullBuf ? null : new Uint8Array(r.size).fill(0xee);
          let result: string;
          try {
            result = String(vm.memop({ op: r.write ? MEMOP.ABSOLUTE_WRITE : MEMOP.ABSOLUTE_READ, gaddr: BigInt(r.start), size: r.size, buf, flags: bigFlags ? BigInt(r.flags) : r.flags, key: r.key }));
          } catch (err) {
            result = `${(err as { code?: string }).code}`;
          }
          const memory: string[] = [];
          for (let at = 0; at < MIB; at += 65536) memory.push(Buffer.from(vm.read(BigInt(at), 65536)).toString('base64'));
          backend.close();
          return { result, buf: buf === null ? null : Buffer.from(buf).toString('base64'), memory: memory.join() };
        });
        expect(outcomes[0]).toEqual(outcomes[1]);
      }),
      { numRuns: 80, seed: 1212 },
    );
  });
});

/** A Uint8Array whose own copy methods must never run inside a memop. */
class Trap extends Uint8Array {
  override set(): void {
    throw new Error('a memop called the caller-supplied set');
  }
  override fill(): this {
    throw new Error('a memop called the caller-supplied fill');
  }
  override subarray(): Uint8Array {
    throw new Error('a memop called the caller-supplied subarray');
  }
  static get [Symbol.species](): never {
    throw new Error('a memop asked for the species constructor');
  }
}

/** A Trap of `size` bytes, byte i = fill(i) (set up without the trapped methods). */
function trap(size: number, fill: (i: number) => number = () => 0): Trap {
  const t = new Trap(size);
  for (let i = 0; i < size; i++) t[i] = fill(i);
  return t;
}

describe('caller buffers are used through intrinsics only', () => {
  it('absolute, logical, cmpxchg and SIDA accesses of every size leave a subclass’s methods alone', () => {
    const backend = openBackend({ kind: 'emulated' });
    const vm = backend.createVm({ memorySize: 16n << 20n });
    const tables = new PageTableBuilder(vm, { tableArea: { start: 0x800000n, end: 0xa00000n } }).map(0x10000n, 0x20000, 0x100000n);
    const vcpu = vm.createVcpu(0);
    const cr = new Array<bigint>(16).fill(0n);
    cr[1] = tables.asce;
    vcpu.setState({ psw: { mask: 0x0400000180000000n, addr: 0n }, cr });
    for (const size of [1, 8, 33, 4096, 5000, 65536]) {
      const data = trap(size, (i) => i & 0xff);
      expect(vm.memop({ op: MEMOP.ABSOLUTE_WRITE, gaddr: 0x100800n, size, buf: data })).toBe(0);
      const back = new Trap(size);
      expect(vm.memop({ op: MEMOP.ABSOLUTE_READ, gaddr: 0x100800n, size, buf: back })).toBe(0);
      expect([...back]).toEqual([...data]);
      // Untouched pages read as zeros (the fill path).
      const zeros = trap(size, () => 1);
      expect(vm.memop({ op: MEMOP.ABSOLUTE_READ, gaddr: 0x400000n, size, buf: zeros })).toBe(0);
      expect(zeros.every((b) => b === 0)).toBe(true);
      if (size <= 0x20000 - 0x800) {
        expect(vcpu.memop({ op: MEMOP.LOGICAL_WRITE, gaddr: 0x10800n, size, buf: data })).toBe(0);
        const logical = new Trap(size);
        expect(vcpu.memop({ op: MEMOP.LOGICAL_READ, gaddr: 0x10800n, size, buf: logical })).toBe(0);
        expect([...logical]).toEqual([...data]);
      }
    }
    const old = trap(8);
    expect(vm.memop({ op: MEMOP.ABSOLUTE_CMPXCHG, gaddr: 0x200000n, size: 8, buf: trap(8, () => 5), old })).toBe(0);
    expect(vm.memop({ op: MEMOP.ABSOLUTE_CMPXCHG, gaddr: 0x200000n, size: 8, buf: trap(8), old: trap(8, () => 9) })).toBe(0);
    const refused = new Trap(8);
    vm.setStorageKeys(0x200, Uint8Array.of(0x50));
    expect(vm.memop({ op: MEMOP.ABSOLUTE_CMPXCHG, gaddr: 0x200000n, size: 8, buf: new Trap(8), old: refused, flags: MEMOP_F.SKEY_PROTECTION, key: 3 })).toBe(PGM.PROTECTION);
    backend.close();
  });

  it('SIDA reads and writes of a protected vcpu', () => {
    const backend = openBackend({ kind: 'emulated' });
    const vm = backend.createVm({ memorySize: 16n << 20n });
    const vcpu = vm.createVcpu(0, { protected: true, sidaPages: 2 });
    const data = trap(100, (i) => i);
    expect(vcpu.memop({ op: MEMOP.SIDA_WRITE, size: 100, sidaOffset: 4000, buf: data })).toBe(0);
    const back = new Trap(100);
    expect(vcpu.memop({ op: MEMOP.SIDA_READ, size: 100, sidaOffset: 4000, buf: back })).toBe(0);
    expect([...back]).toEqual([...data]);
    backend.close();
  });
});

describe('the reused request object', () => {
  it('a descriptor getter that runs another memop on the same Vm does not change the outer access', () => {
    const backend = openBackend({ kind: 'emulated' });
    const vm = backend.createVm({ memorySize: 16n << 20n });
    const inner = new Uint8Array(16).fill(0x11);
    const outer = new Uint8Array(8).fill(0x22);
    const desc = {
      op: MEMOP.ABSOLUTE_WRITE,
      gaddr: 0x5000n,
      get size(): number {
        // Runs while the outer call reads its descriptor: a different address, size and buffer.
        expect(vm.memop({ op: MEMOP.ABSOLUTE_WRITE, gaddr: 0x9000n, size: 16, buf: inner })).toBe(0);
        return 8;
      },
      buf: outer,
    };
    expect(vm.memop(desc)).toBe(0);
    expect([...vm.read(0x5000n, 16)]).toEqual([...new Uint8Array(8).fill(0x22), ...new Uint8Array(8)]);
    expect([...vm.read(0x9000n, 16)]).toEqual([...inner]);
    backend.close();
  });
});

describe('gaddr as a number or a bigint', () => {
  it('names the same address, up to and beyond 2^53', () => {
    const backend = openBackend({ kind: 'emulated' });
    const vm = backend.createVm({ memorySize: 16n << 20n });
    vm.write(0x123456n, Uint8Array.of(1, 2, 3));
    const read = (gaddr: number | bigint) => {
      const buf = new Uint8Array(3);
      const r = vm.memop({ op: MEMOP.ABSOLUTE_READ, gaddr, size: 3, buf });
      return `${r} ${[...buf]}`;
    };
    expect(read(0x123456)).toBe(read(0x123456n));
    expect(read(0x123456)).toBe('0 1,2,3');
    for (const far of [2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 64n - 1n]) expect(read(far)).toBe(`${PGM.ADDRESSING} 0,0,0`);
    expect(read(Number.MAX_SAFE_INTEGER)).toBe(`${PGM.ADDRESSING} 0,0,0`);
    expect(() => read(2 ** 53)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => read(-1n)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => read(2n ** 64n)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    backend.close();
  });
});

describe('the kvm descriptor', () => {
  it('a u64 given as a number or as a bigint fills the same bytes', () => {
    const values = [0, 1, 0xffff_ffff, 0x1_0000_0000, 0x1234_5678_9abc, Number.MAX_SAFE_INTEGER];
    for (const v of values) {
      const req = (gaddr: number | bigint, flags: number | bigint) => ({ op: MEMOP.LOGICAL_READ, gaddr, size: 8, flags, buf: null, key: 3, ar: 1, sidaOffset: 0x01030000, old: null });
      const asNumber = new MemOpDescriptor().fill(req(v, v));
      const asBigInt = new MemOpDescriptor().fill(req(BigInt(v), BigInt(v)));
      expect([...asNumber]).toEqual([...asBigInt]);
    }
  });
});
