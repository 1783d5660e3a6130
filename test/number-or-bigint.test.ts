// Where the runtime takes a number as well as a bigint, the types say so and both give the
// same result; a value that is not a u64 is refused with a Node-style code.
import { describe, expect, it } from 'vitest';
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
