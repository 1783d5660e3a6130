// Where the runtime takes a number as well as a bigint, the types say so and both give the
// same result; a value that is not a u64 is refused with a Node-style code.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkMemOpDesc } from '../src/api/arguments.js';
import { openBackend, PageTableBuilder } from '../src/index.js';

describe('number | bigint', () => {
  it('PageTableBuilder builds the same tables from numbers as from bigints', () => {
    using backend = openBackend({ kind: 'emulated' });
    using a = backend.createVm({ memorySize: 32 << 20 });
    using b = backend.createVm({ memorySize: 32 << 20 });
    const viaBigint = new PageTableBuilder(a, { tableArea: { start: 0x1000000n, end: 0x1400000n } }).map(0x40000000n, 0x10000n, 0x200000n);
    const viaNumber = new PageTableBuilder(b, { tableArea: { start: 0x1000000, end: 0x1400000 } }).map(0x40000000, 0x10000, 0x200000);
    expect(viaNumber.asce).toBe(viaBigint.asce);
    expect(viaNumber.entryAddress(0x40001000, 'page')).toBe(viaBigint.entryAddress(0x40001000n, 'page'));
    expect(b.read(0x1000000, 0x8000)).toEqual(a.read(0x1000000, 0x8000));
    expect(() => viaNumber.map(0.5, 0x1000, 0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => viaNumber.setEntry(0x40000000, 'page', -1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });

  it('Vcpu.setState takes numbers for the PSW and control registers', () => {
    using backend = openBackend({ kind: 'emulated' });
    using vm = backend.createVm({ memorySize: 16 << 20 });
    using vcpu = vm.createVcpu(0);
    vcpu.setState({ psw: { mask: 0x0000000180000000, addr: 0x1000 }, cr: new Array<number>(16).fill(0).map((_, i) => (i === 0 ? 0xe0 : 0)) });
    const state = vcpu.getState();
    expect(state.psw).toEqual({ mask: 0x0000000180000000n, addr: 0x1000n });
    expect(state.cr[0]).toBe(0xe0n);
  });
});

describe('checkMemOpDesc: the common-descriptor shortcut and the full checks agree', () => {
  // A bigint address below 2^53 takes the shortcut; the same address as a number takes the
  // full checks. Over every field in and out of range, both must return the same request or
  // throw the same coded error.
  const field = <T,>(valid: fc.Arbitrary<T>) => fc.oneof(valid, fc.constantFrom<unknown>(undefined, null, -1, 2 ** 32, 1.5, 'x', 1n, Number.NaN));
  const outcome = (d: Record<string, unknown>) => {
    try {
      return { request: checkMemOpDesc(d) };
    } catch (err) {
      return { code: (err as { code?: unknown }).code };
    }
  };
  it('for random descriptors', () => {
    fc.assert(
      fc.property(
        fc.record({
          op: field(fc.integer({ min: 0, max: 7 })),
          size: field(fc.integer({ min: 0, max: 70_000 })),
          flags: field(fc.constantFrom(0, 1, 2, 4, 8, 0xffff_ffff)),
          key: field(fc.integer({ min: 0, max: 300 })),
          ar: field(fc.integer({ min: 0, max: 20 })),
          sidaOffset: fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 0xffff_ffff })),
          old: fc.constantFrom<unknown>(undefined, null, new Uint8Array(16)),
          bufLength: fc.integer({ min: 0, max: 80_000 }),
          gaddr: fc.oneof(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.constant(0)),
        }, { requiredKeys: ['gaddr', 'bufLength'] }),
        (r) => {
          const { bufLength, gaddr, ...rest } = r;
          const buf = new Uint8Array(bufLength);
          const asBigint = outcome({ ...rest, buf, gaddr: BigInt(gaddr) });
          const asNumber = outcome({ ...rest, buf, gaddr });
          expect(asBigint).toEqual(asNumber);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
