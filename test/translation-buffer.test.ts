// The translation buffer (src/emulated/tlb.ts) never changes an answer: two identical machines
// run the same random steps — logical accesses, stores into the DAT tables by every path
// (absolute, logical through an alias of the table pages, cmpxchg, table edits), state
// changes and key changes — one with its buffer, one with the buffer emptied before every
// memop (every translation a fresh walk). Results, bytes read, fault reasons, injected
// interrupts and all of memory must agree after every step.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkMemOpDesc } from '../src/api/arguments.js';
import { MEMOP, MEMOP_F } from '../src/abi/constants.js';
import type { KernelProfile } from '../src/contract.js';
import { EmulatedBackend } from '../src/emulated/backend.js';
import type { EmulatedVcpu } from '../src/emulated/vcpu.js';
import type { EmulatedVm } from '../src/emulated/vm.js';
import { PageTableBuilder } from '../src/guest-tables/page-table-builder.js';

const MEMORY = 8 << 20;
const TABLES = { start: 0x400000n, end: 0x480000n };
const PSW_DAT_64 = 0x0400000180000000n;
const PSW_SECONDARY = 2n << 46n;
/** Virtual pages: sharing all tables, sharing some, the 2^64 wrap, and a 1 MiB frame. */
const VPAGES = [0x0n, 0x1000n, 0x2000n, 0x7ff000n, 0x800000n, 0x40000000n, 0x7f0000000000n, 0xfffffffffffff000n, 0x100000n];
/** Table pages seen through DAT at this virtual address (one page per table page). */
const ALIAS = 0x10000000n;
const ALIAS_PAGES = Number((TABLES.end - TABLES.start) / 4096n);
/** Frames 0..63 at 2 MiB; 64 and 65 are real 0 and 0x10000, which the prefix relocates. */
const FRAMES = 66;

const step = fc.oneof(
  { weight: 30, arbitrary: fc.record({ kind: fc.constant('access' as const), page: fc.oneof(fc.constantFrom(2, 3, 8), fc.nat(VPAGES.length - 1)), offset: fc.nat(4095), size: fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 9000 })), mode: fc.constantFrom('read', 'write', 'check'), keyed: fc.boolean(), key: fc.nat(15), fill: fc.nat(255) }) },
  fc.record({ kind: fc.constant('table-store' as const), page: fc.nat(ALIAS_PAGES - 1), entry: fc.nat(511), bit: fc.nat(63), path: fc.constantFrom('absolute', 'logical', 'cmpxchg') }),
  fc.record({ kind: fc.constant('remap' as const), page: fc.nat(VPAGES.length - 2), frame: fc.nat(FRAMES - 1), protect: fc.boolean(), invalid: fc.constantFrom(false, 'page', 'segment', 'region-third') }),
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('state' as const), prefix: fc.constantFrom(0, 0x2000, 0x10000), edat: fc.boolean(), secondary: fc.boolean() }) },
  fc.record({ kind: fc.constant('keys' as const), frame: fc.nat(63), key: fc.constantFrom(0x00, 0x10, 0x18, 0x30, 0x90) }),
  // Keys of table pages: clears the R their fetches left (classic), which a cached walk must set again.
  fc.record({ kind: fc.constant('table-keys' as const), page: fc.nat(7), key: fc.constantFrom(0x00, 0x30) }),
);
type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

interface Machine {
  vm: EmulatedVm;
  vcpu: EmulatedVcpu;
  primary: PageTableBuilder;
  secondary: PageTableBuilder;
}

/** Frames 0..63 at 2 MiB; 64 and 65 are real 0 and 0x10000, which the prefix relocates. */
function frameOf(n: number): bigint {
  if (n === 64) return 0n;
  if (n === 65) return 0x10000n;
  return 0x200000n + BigInt(n) * 4096n;
}

function build(profile: KernelProfile = 'newest'): Machine {
  const vm = new EmulatedBackend(profile, 'translation buffer test').createVm({ memorySize: BigInt(MEMORY) }) as EmulatedVm;
  const write = (gaddr: bigint, data: Uint8Array) => vm.memop(checkMemOpDesc({ op: MEMOP.ABSOLUTE_WRITE, gaddr, size: data.length, buf: data }));
  const primary = new PageTableBuilder({ write }, { tableArea: TABLES });
  const secondary = new PageTableBuilder({ write }, { tableArea: { start: 0x480000n, end: 0x500000n }, top: 'region-third' });
  VPAGES.forEach((va, i) => {
    if (va === 0x100000n) primary.map(va, 1 << 20, 0x300000n, { frame: '1m' });
    else primary.map(va, 4096, frameOf(i === 2 ? 64 : i === 3 ? 65 : i));
    if (va < 1n << 42n) secondary.map(va, 4096, frameOf(63 - i));
  });
  for (let i = 0; i < ALIAS_PAGES; i++) primary.map(ALIAS + BigInt(i) * 4096n, 4096, TABLES.start + BigInt(i) * 4096n);
  for (let f = 0; f < FRAMES; f++) write(frameOf(f), new Uint8Array(4096).fill(f));
  const vcpu = vm.createVcpu(0, {}) as EmulatedVcpu;
  const cr = new Array<bigint>(16).fill(0n);
  cr[0] = 0x800000n;
  cr[1] = primary.asce;
  cr[7] = secondary.asce;
  vcpu.setState({ psw: { mask: PSW_DAT_64, addr: 0n }, cr });
  return { vm, vcpu, primary, secondary };
}

/** Applies one step; returns what an observer sees (result, bytes, reason, interrupt). */
function apply(m: Machine, s: Step, uncached: boolean): string {
  const { vm, vcpu } = m;
  const memop = (d: Parameters<typeof checkMemOpDesc>[0]): number => {
    if (uncached) vcpu.tlb.flush();
    return vcpu.memop(checkMemOpDesc(d));
  };
  switch (s.kind) {
    case 'access': {
      const buf = new Uint8Array(s.size).fill(s.fill);
      const op = s.mode === 'write' ? MEMOP.LOGICAL_WRITE : MEMOP.LOGICAL_READ;
      const flags = (s.mode === 'check' ? MEMOP_F.CHECK_ONLY : 0) | (s.keyed ? MEMOP_F.SKEY_PROTECTION : 0) | MEMOP_F.INJECT_EXCEPTION;
      const gaddr = (VPAGES[s.page]! + BigInt(s.offset)) & ((1n << 64n) - 1n);
      const r = memop({ op, gaddr, size: s.size, buf, flags, key: s.key });
      const irq = vcpu.pendingProgramInterrupt();
      vcpu.clearPendingInterrupts();
      const sum = buf.reduce((a, b, i) => (a * 31 + b + i) >>> 0, 0);
      return `${r} ${sum} ${vm.faults.last?.reason ?? ''} ${irq === null ? '' : `${irq.code}/${irq.teid}/${irq.accessId}`}`;
    }
    case 'table-store': {
      const abs = TABLES.start + BigInt(s.page) * 4096n + BigInt(s.entry) * 8n;
      const old = new Uint8Array(8);
      vm.memop(checkMemOpDesc({ op: MEMOP.ABSOLUTE_READ, gaddr: abs, size: 8, buf: old }));
      const value = new DataView(old.buffer).getBigUint64(0, false) ^ (1n << BigInt(s.bit));
      const neu = new Uint8Array(8);
      new DataView(neu.buffer).setBigUint64(0, value, false);
      let r: number;
      if (s.path === 'absolute') r = vm.memop(checkMemOpDesc({ op: MEMOP.ABSOLUTE_WRITE, gaddr: abs, size: 8, buf: neu }));
      else if (s.path === 'cmpxchg') r = vm.memop(checkMemOpDesc({ op: MEMOP.ABSOLUTE_CMPXCHG, gaddr: abs, size: 8, buf: neu, old }));
      else r = memop({ op: MEMOP.LOGICAL_WRITE, gaddr: ALIAS + (abs - TABLES.start), size: 8, buf: neu });
      return `store ${r}`;
    }
    case 'remap': {
      const va = VPAGES[s.page]!;
      m.primary.map(va, 4096, frameOf(s.frame), { protect: s.protect });
      if (s.invalid !== false) m.primary.invalidate(va, s.invalid);
      return 'remap';
    }
    case 'state': {
      const cr = vcpu.getState().cr;
      cr[0] = s.edat ? 0x800000n : 0n;
      vcpu.setState({ psw: { mask: PSW_DAT_64 | (s.secondary ? PSW_SECONDARY : 0n), addr: 0n }, cr, prefix: s.prefix });
      return 'state';
    }
    case 'keys':
      return `keys ${vm.setStorageKeys(BigInt(0x200 + s.frame), Uint8Array.of(s.key), 0)}`;
    case 'table-keys':
      return `table keys ${vm.setStorageKeys((TABLES.start >> 12n) + BigInt(s.page), Uint8Array.of(s.key), 0)}`;
  }
}

/** Every page's storage key: R on table pages is what table fetches leave on older kernels. */
function keysImage(vm: EmulatedVm): string {
  const out = new Uint8Array(MEMORY / 4096);
  return `${vm.getStorageKeys(0n, out.length, out, 0)}:${Buffer.from(out).toString('hex')}`;
}

function memoryImage(vm: EmulatedVm): string {
  const parts: string[] = [];
  for (const pfn of [...vm.storage.touchedPageNumbers()].sort((a, b) => a - b)) parts.push(`${pfn}:${Buffer.from(vm.storage.pageIfTouched(pfn)!).toString('base64')}`);
  return parts.join(',');
}

describe('translation buffer', () => {
  it.each(['newest', 'classic'] as const)('cached and uncached translation agree over random table edits, state and key changes (%s: keys included)', (profile) => {
    let hits = 0;
    let invalidations = 0;
    const outcomes = new Set<string>();
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 80 }), (steps) => {
        const cached = build(profile);
        const reference = build(profile);
        for (const s of steps) {
          const a = apply(cached, s, false);
          const b = apply(reference, s, true);
          expect(a).toBe(b);
          expect(keysImage(cached.vm)).toBe(keysImage(reference.vm));
          if (s.kind === 'access') outcomes.add(a.split(' ')[0]!);
        }
        expect(memoryImage(cached.vm)).toBe(memoryImage(reference.vm));
        hits += cached.vcpu.tlb.hits;
        invalidations += cached.vm.storage.translationEpoch;
      }),
      { numRuns: 300, seed: 0x71b },
    );
    // Not vacuous: the buffer answered many translations, table stores invalidated it, and
    // the accesses reached success as well as several exceptions.
    expect(hits).toBeGreaterThan(300);
    expect(invalidations).toBeGreaterThan(20);
    expect(outcomes.has('0')).toBe(true);
    expect(outcomes.size).toBeGreaterThanOrEqual(5);
  });

  it('a data store leaves the buffer alone; a store into a table page empties it', () => {
    const m = build();
    const read = (va: bigint) => m.vcpu.memop(checkMemOpDesc({ op: MEMOP.LOGICAL_READ, gaddr: va, size: 8, buf: new Uint8Array(8) }));
    expect(read(0x1000n)).toBe(0);
    const walks = m.vcpu.tlb.walks;
    m.vcpu.memop(checkMemOpDesc({ op: MEMOP.LOGICAL_WRITE, gaddr: 0x2000n, size: 8, buf: new Uint8Array(8) }));
    expect(read(0x1000n)).toBe(0);
    expect(m.vcpu.tlb.walks).toBe(walks + 1); // only the store's own page was walked
    const epoch = m.vm.storage.translationEpoch;
    m.vm.memop(checkMemOpDesc({ op: MEMOP.ABSOLUTE_WRITE, gaddr: m.primary.entryAddress(0x7ff000n, 'page'), size: 8, buf: new Uint8Array(8) }));
    expect(m.vm.storage.translationEpoch).toBe(epoch + 1);
    expect(read(0x1000n)).toBe(0);
    expect(m.vcpu.tlb.walks).toBe(walks + 2);
  });
});
