// Robustness of the public memop entry points of the emulated backend (issue 6), every kernel
// profile, random descriptors of every shape: wrong types, NaN, negative, huge, detached,
// shared, pooled, resizable and too-short buffers, every op and flag combination.
//  - every call returns a number (0 or a program-interruption code) or throws a typed error
//    (KvmError with code/errno, or RangeError/TypeError with a Node-style code);
//  - no guest byte outside the described range changes, nothing is stored outside the
//    memslot, and a refused (thrown) call changes nothing: guest memory, buffers, vcpu state;
//  - buffers change only inside [0, size) and only for ops that write them;
//  - a successful read returns exactly the guest's bytes, a successful write stores exactly
//    the caller's (checked against a page-by-page reading of storage).
// Short here (FUZZ_RUNS unset); `npm run fuzz` runs ≥ 100,000 cases with a printed seed.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEMOP, PAGE_SIZE, PGM } from '../src/abi/constants.js';
import { Vm } from '../src/api/vm.js';
import type { Vcpu } from '../src/api/vcpu.js';
import { KERNEL_PROFILES, type KernelProfile } from '../src/contract.js';
import { EmulatedBackend } from '../src/emulated/backend.js';
import type { EmulatedVm } from '../src/emulated/vm.js';
import { PageTableBuilder } from '../src/guest-tables/page-table-builder.js';
import { FUZZ_SEED, bufferSpec, fcParams, firstDifference, junk, materialize, runsFor, typedError, type BufferSpec } from './fuzz-support.js';

const MEM = 2 << 20;
const PAGES = MEM / PAGE_SIZE;
const PGM_CODES = new Set<number>(Object.values(PGM));
const TWO64 = 1n << 64n;

/** DAT-on state: 64 KiB at VIRT → FRAME, and one DAT-protected page after it. */
const VIRT = 0x7f0000000000n;
const FRAME = 0x20000;
const PROTECTED_FRAME = 0x40000;
const TABLES = { start: 0xc0000n, end: 0x100000n };

interface VcpuStateSpec {
  name: string;
  mask: bigint;
  prefix: number;
  dat: boolean;
  /** Addressing mode bits: addresses wrap modulo 2^amode. */
  amode: 24 | 31 | 64;
}

const STATES: VcpuStateSpec[] = [
  { name: 'DAT off, 64-bit, prefix 0', mask: 0x0000000180000000n, prefix: 0, dat: false, amode: 64 },
  { name: 'DAT off, 31-bit, prefix 0', mask: 0x0000000080000000n, prefix: 0, dat: false, amode: 31 },
  { name: 'DAT off, 24-bit, prefix 0', mask: 0n, prefix: 0, dat: false, amode: 24 },
  { name: 'DAT off, 64-bit, prefix 0x10000', mask: 0x0000000180000000n, prefix: 0x10000, dat: false, amode: 64 },
  { name: 'DAT on, 64-bit, region-first tables', mask: 0x0400000180000000n, prefix: 0, dat: true, amode: 64 },
];

/** Absolute address of logical `addr` (a number; ≥ 2^53 is never mapped) in a state, or -1. */
function absOf(state: VcpuStateSpec, addr: number): number {
  let real: number;
  if (state.dat) {
    const v = Number(VIRT);
    if (addr >= v && addr < v + 0x10000) real = FRAME + (addr - v);
    else if (addr >= v + 0x10000 && addr < v + 0x11000) real = PROTECTED_FRAME + (addr - v - 0x10000);
    else return -1;
  } else {
    real = addr;
  }
  if (real >= MEM) return -1;
  const p = state.prefix;
  if (real < 8192) real += p;
  else if (real >= p && real < p + 8192) real -= p;
  return real < MEM ? real : -1;
}

/** i ↦ absolute address of byte i of an access at `gaddr` (-1: not in memory), without BigInt per byte. */
function byteMapper(side: Side, gaddr: bigint): (i: number) => number {
  if (side.kind === 'vm') {
    // Plain 64-bit arithmetic; whatever lies at or beyond the memslot's end is not memory.
    const g = gaddr < BigInt(MEM) ? Number(gaddr) : Number.POSITIVE_INFINITY;
    return (i) => (g + i < MEM ? g + i : -1);
  }
  const state = side.state;
  if (state === null) return () => -1; // a protected vcpu's SIDA ops do not address guest memory
  const modulus = 1n << BigInt(state.amode);
  const gm = gaddr % modulus;
  const toWrap = modulus - gm; // bytes before the address wraps to 0
  const base = gm < 1n << 53n ? Number(gm) : Number.POSITIVE_INFINITY;
  const wrapAt = toWrap < 1n << 53n ? Number(toWrap) : Number.POSITIVE_INFINITY;
  return (i) => (i < wrapAt ? (base === Number.POSITIVE_INFINITY ? -1 : absOf(state, base + i)) : absOf(state, i - wrapAt));
}

// ---- descriptors ---------------------------------------------------------------------------

const sizeArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 300 }) },
  { weight: 4, arbitrary: fc.constantFrom(1, 2, 3, 4, 8, 16, 17, 32, 4095, 4096, 4097, 8192, 65535, 65536, 65537) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 70_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(0xffff_ffff, 2 ** 32, -1, 2 ** 53) },
  { weight: 1, arbitrary: junk },
);

function gaddrArb(extra: fc.Arbitrary<bigint>[]): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.bigInt({ min: 0n, max: BigInt(MEM + 2 * PAGE_SIZE) }) },
    { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: 70_000n }).map((d) => BigInt(MEM) - d) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: MEM + PAGE_SIZE }) },
    { weight: 2, arbitrary: fc.bigInt({ min: 1n, max: 70_000n }).chain((d) => fc.constantFrom(TWO64 - d, (1n << 31n) - d, (1n << 24n) - d, (1n << 53n) - d)) },
    { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: TWO64 - 1n }) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(-1n, TWO64, TWO64 + 5n, -1, 2 ** 53, 0.5, Number.NaN, undefined) },
    { weight: 1, arbitrary: junk },
    ...extra.map((arbitrary) => ({ weight: 4, arbitrary })),
  );
}

const flagsArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 7 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xff }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, 0n, 4n, 1n << 63n, (1n << 32n) | 4n, 2 ** 32 + 4, 2 ** 53, -4, 4.5) },
  { weight: 1, arbitrary: junk },
);

const smallArb = (max: number): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max }) }, { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, 255, 256, -1, 3.5) }, { weight: 1, arbitrary: junk });

interface DescSpec {
  shape: 'object' | 'junk';
  junkValue: unknown;
  op: unknown;
  gaddr: unknown;
  size: unknown;
  flags: unknown;
  key: unknown;
  ar: unknown;
  sidaOffset: unknown;
  buf: BufferSpec;
  old: BufferSpec;
  fill: number;
  omit: string[];
}

const lengthArb = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constantFrom(4095, 4096, 8192, 65535, 65536, 65537), fc.integer({ min: 0, max: 66_000 }));

/** Anything at all in every field. */
function wildDescArb(ops: number[], extraAddresses: fc.Arbitrary<bigint>[]): fc.Arbitrary<DescSpec> {
  return fc.record({
    shape: fc.constantFrom<'object' | 'junk'>('object', 'object', 'object', 'object', 'object', 'object', 'object', 'object', 'object', 'junk'),
    junkValue: junk,
    op: fc.oneof({ weight: 10, arbitrary: fc.constantFrom(...ops) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 8 }) }, { weight: 1, arbitrary: fc.constantFrom<unknown>(0xffff_ffff, 2 ** 32, -1, 4.5) }, { weight: 1, arbitrary: junk }),
    gaddr: gaddrArb(extraAddresses),
    size: sizeArb,
    flags: flagsArb,
    key: smallArb(16),
    ar: smallArb(16),
    sidaOffset: fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 9000 }) }, { weight: 1, arbitrary: fc.constantFrom<unknown>(0xffff_ffff, 0x0300_0000, 0x0003_0000, -1) }, { weight: 1, arbitrary: junk }),
    buf: bufferSpec(lengthArb),
    old: bufferSpec(fc.oneof(fc.integer({ min: 0, max: 20 }), lengthArb)),
    fill: fc.integer({ min: 0, max: 255 }),
    omit: fc.subarray(['op', 'gaddr', 'size', 'flags', 'key', 'ar', 'buf', 'old'], { maxLength: 2 }),
  });
}

/** Well-typed descriptors with plausible values, so that real accesses happen often. */
function plausibleDescArb(ops: number[], extraAddresses: fc.Arbitrary<bigint>[]): fc.Arbitrary<DescSpec> {
  const validBuf = (length: number, fill: number): BufferSpec => {
    const kinds = ['u8', 'u8', 'u8', 'offset', 'pooled', 'shared', 'u8', 'offset'] as const;
    return fill % 29 === 0 ? { kind: 'detached', length, offset: 0 } : { kind: kinds[fill % kinds.length]!, length, offset: fill % 13 };
  };
  return fc
    .record({
      op: fc.constantFrom(...ops),
      gaddr: fc.oneof(
        { weight: 5, arbitrary: fc.bigInt({ min: 0n, max: BigInt(MEM + PAGE_SIZE) }) },
        { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: 70_000n }).map((d) => BigInt(MEM) - d) },
        { weight: 1, arbitrary: fc.bigInt({ min: 1n, max: 70_000n }).chain((d) => fc.constantFrom(TWO64 - d, (1n << 31n) - d, (1n << 24n) - d)) },
        ...extraAddresses.map((arbitrary) => ({ weight: 5, arbitrary })),
      ),
      size: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 300 }) }, { weight: 3, arbitrary: fc.constantFrom(1, 2, 4, 8, 16, 4096, 8192, 65536) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 65536 }) }, { weight: 1, arbitrary: fc.constantFrom(0, 17, 65537) }),
      flags: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.constant(4) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 7 }) }),
      key: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 0, max: 15 }) }, { weight: 1, arbitrary: fc.constant(16) }),
      ar: fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 16 }) }),
      sidaOffset: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 8192 }) }),
      fill: fc.integer({ min: 0, max: 255 }),
      align: fc.boolean(),
    })
    .map(({ op, gaddr, size, flags, key, ar, sidaOffset, fill, align }) => {
      const g = align && op === MEMOP.ABSOLUTE_CMPXCHG && size > 0 && size <= 16 ? gaddr - (gaddr % BigInt(size)) : gaddr;
      const short = fill % 17 === 0 ? 1 : 0;
      return {
        shape: 'object' as const,
        junkValue: undefined,
        op,
        gaddr: g,
        size,
        flags,
        key,
        ar,
        sidaOffset: op === MEMOP.SIDA_READ || op === MEMOP.SIDA_WRITE ? sidaOffset : undefined,
        buf: validBuf(Math.max(0, size - short), fill),
        old: op === MEMOP.ABSOLUTE_CMPXCHG ? validBuf(size, fill >> 1) : ({ kind: 'absent' } as BufferSpec),
        fill,
        omit: [],
      };
    });
}

function descArb(ops: number[], extraAddresses: fc.Arbitrary<bigint>[]): fc.Arbitrary<DescSpec> {
  return fc.oneof({ weight: 3, arbitrary: plausibleDescArb(ops, extraAddresses) }, { weight: 2, arbitrary: wildDescArb(ops, extraAddresses) });
}

/** Sizes that match the buffer length make real accesses likely: derive one from the other. */
function tieSizes(s: DescSpec): DescSpec {
  if (typeof s.size === 'number' && Number.isInteger(s.size) && s.size >= 0 && s.size <= 70_000 && 'length' in s.buf && s.fill % 4 !== 0) {
    const delta = s.fill % 7 === 0 ? -1 : 0;
    return { ...s, buf: { ...s.buf, length: Math.max(0, s.size + delta) } };
  }
  return s;
}

function buildDesc(s: DescSpec, buf: unknown, old: unknown): unknown {
  if (s.shape === 'junk') return s.junkValue;
  const d: Record<string, unknown> = { op: s.op, gaddr: s.gaddr, size: s.size, flags: s.flags, key: s.key, ar: s.ar, buf, old };
  if (s.sidaOffset !== undefined) d.sidaOffset = s.sidaOffset;
  for (const k of s.omit) delete d[k];
  for (const k of Object.keys(d)) if (d[k] === undefined && s.fill % 3 === 0) delete d[k];
  return d;
}

function flagBit(flags: unknown, bit: number): boolean {
  if (typeof flags === 'number' && Number.isSafeInteger(flags) && flags >= 0) return (flags % 2 ** 32 & bit) !== 0;
  if (typeof flags === 'bigint') return (flags & BigInt(bit)) !== 0n;
  return false;
}

// ---- the harness -----------------------------------------------------------------------------

interface Machine {
  profile: KernelProfile;
  handle: EmulatedVm;
  vm: Vm;
  vcpu: Vcpu;
  pv: Vcpu;
}

/** Guest memory read page by page through the simplest accessor, independent of readRange. */
function snapshotMemory(h: EmulatedVm, into: Uint8Array): Uint8Array {
  for (let pfn = 0; pfn < PAGES; pfn++) {
    const page = h.storage.pageIfTouched(pfn);
    if (page === undefined) into.fill(0, pfn * PAGE_SIZE, (pfn + 1) * PAGE_SIZE);
    else into.set(page, pfn * PAGE_SIZE);
  }
  return into;
}

/** Every key of `after` is the same key of `before` with R (0x04) and/or C (0x02) added. */
function onlyRecordedAccesses(before: Uint8Array, after: Uint8Array): boolean {
  const recordable = 0x04 | 0x02;
  return before.every((k, i) => (after[i]! | recordable) === (k | recordable) && (after[i]! & k) === k);
}

/** Keys equal but for R newly set on DAT-table pages: what the kernel's table fetches leave. */
function onlyTableFetchesMarked(before: Uint8Array, after: Uint8Array): boolean {
  const firstTablePage = Number(TABLES.start) / PAGE_SIZE;
  return before.every((k, i) => after[i] === k || (i >= firstTablePage && after[i] === (k | 0x04)));
}

function keysOf(vm: Vm): Uint8Array | null {
  return vm.getStorageKeys(0, PAGES);
}

function makeMachine(profile: KernelProfile): Machine {
  const handle = new EmulatedBackend(profile, 'fuzz').createVm({ memorySize: BigInt(MEM) }) as EmulatedVm;
  const vm = new Vm(handle);
  // Memory: host slabs hold 256 pages. Most of the upper MiB first, scrambled (guest-adjacent
  // pages not host-adjacent), then the lower MiB in address order (contiguous runs, one slab
  // boundary at pfn 56), a few pages left untouched (they read as zeros until written).
  const upper = Array.from({ length: 256 }, (_, i) => 256 + ((i * 97) % 256));
  const order = [...upper.slice(0, 200), ...Array.from({ length: 256 }, (_, i) => i), ...upper.slice(200)].filter((p) => p % 37 !== 5);
  for (const pfn of order) {
    const data = new Uint8Array(PAGE_SIZE);
    for (let i = 0; i < PAGE_SIZE; i++) data[i] = (pfn * 7 + i * 13) & 0xff;
    handle.storage.writeRange(pfn * PAGE_SIZE, data, 0, PAGE_SIZE);
  }
  // Tables go straight into storage: the pre-5.18 profile has no vm memop to write them with.
  const writer = { write: (g: bigint, data: Uint8Array) => handle.storage.writeRange(Number(g), data, 0, data.length) };
  const tables = new PageTableBuilder(writer, { tableArea: TABLES }).map(VIRT, 0x10000, BigInt(FRAME)).map(VIRT + 0x10000n, 0x1000, BigInt(PROTECTED_FRAME), { protect: true });
  // Keys: ACC 0..3, fetch protection on some pages (not on the table pages the walk reads).
  const keys = new Uint8Array(PAGES);
  for (let pfn = 0; pfn < PAGES; pfn++) keys[pfn] = pfn >= Number(TABLES.start) / PAGE_SIZE ? 0 : (((pfn * 5) % 4) << 4) | (pfn % 3 === 0 ? 0x08 : 0);
  vm.setStorageKeys(0, keys);
  const vcpu = vm.createVcpu(0);
  const cr = new Array<bigint>(16).fill(0n);
  cr[0] = 0x00800000n;
  cr[1] = tables.asce;
  vcpu.setState({ cr });
  const pv = vm.createVcpu(1, { protected: true, sidaPages: 2 });
  return { profile, handle, vm, vcpu, pv };
}

/** A plain assertion: vitest's expect costs more than a whole memop in these loops. */
function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

interface Outcome {
  result?: number;
  error?: string;
}

function call(fn: () => unknown): Outcome {
  try {
    const r = fn();
    if (typeof r !== 'number' || !Number.isInteger(r) || !(r === 0 || PGM_CODES.has(r))) throw new Error(`memop returned ${String(r)}, not 0 or a program-interruption code`);
    return { result: r };
  } catch (err) {
    return { error: typedError(err) };
  }
}

/**
 * Bytes of a buffer's backing store that changed outside the `mayWrite` bytes of its view
 * (and outside the other buffer's window when both share one store, as pooled Buffers do).
 */
function checkBufferChange(name: string, before: Uint8Array | null, after: Uint8Array | null, view: Uint8Array | null, mayWrite: number, other: Uint8Array | null = null, otherMayWrite = 0): void {
  if (before === null || after === null || view === null) return;
  check(after.length === before.length, `${name}: backing store length changed`);
  const windows: Array<[number, number]> = [];
  const windowOf = (v: Uint8Array, n: number): void => {
    if (before.length !== 0 && n > 0) windows.push([v.byteOffset, v.byteOffset + Math.min(n, v.length)]);
  };
  windowOf(view, mayWrite);
  if (other !== null && other.buffer === view.buffer) windowOf(other, otherMayWrite);
  if (Buffer.compare(before, after) === 0) return;
  for (let at = 0; at < before.length; at++) {
    if (before[at] === after[at]) continue;
    const inside = windows.some(([lo, hi]) => at >= lo && at < hi);
    check(inside, `${name}: byte ${at} of its buffer changed, outside the ${mayWrite} bytes the op may write`);
  }
}

/** How the cases ended, printed at the end so a run shows what it exercised. */
const outcomes = new Map<string, number>();
const memBefore = new Uint8Array(MEM);
/** Absolute bytes the current case may change (cleared after each case). */
const allowed = new Uint8Array(MEM);
const memAfter = new Uint8Array(MEM);

interface Side {
  kind: 'vm' | 'vcpu' | 'pv';
  state: VcpuStateSpec | null;
}

function runCase(m: Machine, side: Side, spec: DescSpec): void {
  const s = tieSizes(spec);
  const buf = materialize(s.buf, s.fill);
  const old = materialize(s.old, s.fill ^ 0x5a);
  const desc = buildDesc(s, buf.value, old.value);
  const target = side.kind === 'vm' ? m.vm : side.kind === 'vcpu' ? m.vcpu : m.pv;
  if (side.state !== null) m.vcpu.setState({ psw: { mask: side.state.mask, addr: 0n }, prefix: side.state.prefix });

  snapshotMemory(m.handle, memBefore);
  // Cmpxchg: often expect what memory holds, so that exchanges happen too.
  const dd = desc as Record<string, unknown> | null;
  if (old.view !== null && s.fill % 3 !== 0 && typeof dd === 'object' && dd !== null && dd.op === MEMOP.ABSOLUTE_CMPXCHG && typeof dd.gaddr === 'bigint' && dd.gaddr < BigInt(MEM)) {
    const g = Number(dd.gaddr);
    for (let i = 0; i < old.view.length && g + i < MEM; i++) old.view[i] = memBefore[g + i]!;
  }
  const keysBefore = keysOf(m.vm);
  const bufBefore = buf.snapshot();
  const oldBefore = old.snapshot();
  const pending = (): string => (side.kind === 'vm' ? '' : JSON.stringify((target as Vcpu).pendingProgramInterrupt(), (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)));
  const pendingBefore = pending();

  const out = call(() => target.memop(desc as never));
  const label = `${side.kind} ${out.error ?? (out.result === 0 ? `op ${String((desc as { op?: unknown })?.op)} → 0` : `→ PGM ${out.result}`)}`;
  outcomes.set(label, (outcomes.get(label) ?? 0) + 1);

  snapshotMemory(m.handle, memAfter);
  const bufAfter = buf.snapshot();
  const oldAfter = old.snapshot();
  // Nothing is ever stored outside the memslot. A memop changes a key only by adding the
  // reference and change bits of pages it accessed (ACC and F stay, R and C are never cleared).
  for (const pfn of m.handle.storage.touchedPageNumbers()) check(pfn < PAGES, `page ${pfn}, outside the memslot, was allocated`);
  const keysAfter = keysOf(m.vm);
  check(keysBefore === null ? keysAfter === null : keysAfter !== null && onlyRecordedAccesses(keysBefore, keysAfter), 'a memop changed a key other than by marking R or C');

  const d = desc as Record<string, unknown>;
  const op = d?.op;
  const size = typeof d?.size === 'number' ? d.size : 0;
  const checkOnly = flagBit(d?.flags, 1);
  // A check-only access marks only R on the DAT-table pages its walk read (the kernel fetches
  // them through the host mapping); a call refused before any access (argument errors,
  // EINVAL, E2BIG, ENOTTY) marks nothing; EFAULT may come after the kernel read guest pages
  // into its bounce buffer (a NULL buf), so those pages are marked R.
  if (keysBefore !== null && checkOnly) check(onlyTableFetchesMarked(keysBefore, keysAfter!), 'a check-only access changed keys other than R on table pages');
  if (keysBefore !== null && out.error !== undefined && out.error !== 'KvmError EFAULT') check(Buffer.compare(keysBefore, keysAfter!) === 0, 'storage keys changed without an access');

  if (out.error !== undefined) {
    // Refused: nothing changed at all.
    check(firstDifference(memBefore, memAfter, 0, MEM) === -1, `refused (${out.error}) but guest memory changed`);
    checkBufferChange('buf', bufBefore, bufAfter, buf.view, 0);
    checkBufferChange('old', oldBefore, oldAfter, old.view, 0);
    check(pending() === pendingBefore, 'refused call queued an interrupt');
    return;
  }
  const r = out.result!;
  const gaddr = typeof d.gaddr === 'bigint' ? d.gaddr : typeof d.gaddr === 'number' ? BigInt(d.gaddr) : 0n;

  // Buffers: reads fill buf[0, size) only on success; cmpxchg writes old[0, size) back.
  const readsIntoBuf = !checkOnly && r === 0 && ((side.kind === 'vm' && op === MEMOP.ABSOLUTE_READ) || (side.kind !== 'vm' && (op === MEMOP.LOGICAL_READ || op === MEMOP.SIDA_READ)));
  const oldWrites = side.kind === 'vm' && op === MEMOP.ABSOLUTE_CMPXCHG ? size : 0;
  checkBufferChange('buf', bufBefore, bufAfter, buf.view, readsIntoBuf ? size : 0, old.view, oldWrites);
  checkBufferChange('old', oldBefore, oldAfter, old.view, oldWrites, buf.view, readsIntoBuf ? size : 0);

  // Guest memory: only a write (vm: absolute write or cmpxchg; vcpu: logical write) changes
  // it, and only at the bytes of the described range.
  const writes = !checkOnly && ((side.kind === 'vm' && (op === MEMOP.ABSOLUTE_WRITE || op === MEMOP.ABSOLUTE_CMPXCHG)) || (side.kind === 'vcpu' && op === MEMOP.LOGICAL_WRITE));
  const absAt = byteMapper(side, gaddr);
  if (!writes) {
    check(firstDifference(memBefore, memAfter, 0, MEM) === -1, `op ${String(op)} (result ${r}) changed guest memory`);
  } else {
    const marked: number[] = [];
    for (let i = 0; i < size && i <= 65536; i++) {
      const a = absAt(i);
      if (a >= 0) {
        allowed[a] = 1;
        marked.push(a);
      }
    }
    try {
      for (let block = 0; block < MEM; block += 65536) {
        let a = firstDifference(memBefore, memAfter, block, block + 65536);
        while (a >= 0) {
          if (allowed[a] === 0) throw new Error(`op ${String(op)} gaddr ${gaddr} size ${size} (result ${r}) changed absolute 0x${a.toString(16)}, outside its range`);
          a = firstDifference(memBefore, memAfter, a + 1, block + 65536);
        }
      }
    } finally {
      for (const a of marked) allowed[a] = 0;
    }
  }
  // Data: a successful read returns the guest's bytes, a successful write stores the caller's.
  if (r === 0 && !checkOnly && buf.view !== null && size > 0 && size <= 65536) {
    if (readsIntoBuf && op !== MEMOP.SIDA_READ) {
      for (let i = 0; i < size; i++) {
        const a = absAt(i);
        if (a < 0) throw new Error(`read of gaddr ${gaddr} size ${size} succeeded although byte ${i} is not in memory`);
        if (buf.view[i] !== memBefore[a]) throw new Error(`read of gaddr ${gaddr} size ${size}: byte ${i} is ${buf.view[i]}, guest has ${memBefore[a]}`);
      }
    }
    if (writes && op !== MEMOP.ABSOLUTE_CMPXCHG) {
      for (let i = 0; i < size; i++) {
        const a = absAt(i);
        if (a < 0) throw new Error(`write of gaddr ${gaddr} size ${size} succeeded although byte ${i} is not in memory`);
        if (memAfter[a] !== buf.view[i]) throw new Error(`write of gaddr ${gaddr} size ${size}: byte ${i} stored ${memAfter[a]}, caller gave ${buf.view[i]}`);
      }
    }
  }
}

// ---- properties ------------------------------------------------------------------------------

describe(`memop fuzzing, emulated backend (seed ${FUZZ_SEED}, FUZZ_SEED=… to change)`, () => {
  const machines = new Map<KernelProfile, Machine>();
  beforeAll(() => {
    // The seed goes to the log so any run can be repeated: FUZZ_SEED=<seed> npm run fuzz.
    console.log(`fuzz: seed ${FUZZ_SEED} (0x${(FUZZ_SEED >>> 0).toString(16)}), ${runsFor(500)} cases per property`);
    for (const p of KERNEL_PROFILES) machines.set(p, makeMachine(p));
  });

  afterAll(() => {
    const total = [...outcomes.values()].reduce((a, b) => a + b, 0);
    const lines = [...outcomes].sort((a, b) => b[1] - a[1]).map(([k, n]) => `  ${String(n).padStart(7)}  ${k}`);
    console.log(`fuzz: ${total} memop calls checked (seed ${FUZZ_SEED}):\n${lines.join('\n')}`);
  });

  it('vm.memop: a number or a typed error; changes only the described range; refused calls change nothing', () => {
    const arb = fc.record({ profile: fc.constantFrom(...KERNEL_PROFILES), desc: descArb([MEMOP.ABSOLUTE_READ, MEMOP.ABSOLUTE_WRITE, MEMOP.ABSOLUTE_CMPXCHG, MEMOP.ABSOLUTE_CMPXCHG], []) });
    fc.assert(
      fc.property(arb, ({ profile, desc }) => runCase(machines.get(profile)!, { kind: 'vm', state: null }, desc)),
      fcParams(500, 1),
    );
  });

  it('vcpu.memop (plain and protected vcpus, five address states): same properties', () => {
    const virtual = fc.bigInt({ min: 0n, max: 0x12000n }).map((d) => VIRT - 0x1000n + d);
    const arb = fc.record({
      profile: fc.constantFrom(...KERNEL_PROFILES),
      state: fc.constantFrom(...STATES),
      protectedVcpu: fc.constantFrom(false, false, false, true),
      desc: descArb([MEMOP.LOGICAL_READ, MEMOP.LOGICAL_WRITE, MEMOP.LOGICAL_READ, MEMOP.LOGICAL_WRITE, MEMOP.SIDA_READ, MEMOP.SIDA_WRITE], [virtual]),
    });
    fc.assert(
      fc.property(arb, ({ profile, state, protectedVcpu, desc }) => {
        const m = machines.get(profile)!;
        runCase(m, { kind: protectedVcpu ? 'pv' : 'vcpu', state: protectedVcpu ? null : state }, desc);
        // An injected exception stays queued; clear it so cases stay independent.
        m.vcpu.clearPendingInterrupts();
      }),
      fcParams(500, 2),
    );
  });

  it('closed vm and vcpu: every descriptor is refused with a typed error and changes nothing', () => {
    const m = makeMachine('newest');
    const vcpu = m.vm.createVcpu(2);
    vcpu.close();
    const closedVm = new Vm(new EmulatedBackend('classic', 'fuzz').createVm({ memorySize: BigInt(MEM) }));
    closedVm.close();
    fc.assert(
      fc.property(descArb([0, 1, 4, 5, 6], []), (spec) => {
        const s = tieSizes(spec);
        const buf = materialize(s.buf, s.fill);
        const before = buf.snapshot();
        for (const target of [vcpu, closedVm]) {
          const out = call(() => target.memop(buildDesc(s, buf.value, null) as never));
          expect(out.error, 'a closed handle answered a memop').toBeDefined();
        }
        checkBufferChange('buf', before, buf.snapshot(), buf.view, 0);
      }),
      fcParams(100, 3),
    );
  });
});
