// Random scenarios for the differential mode, deterministic by seed: guest memory, storage
// keys (sometimes with the reserved bit, sometimes past the end of memory), DAT tables built
// with PageTableBuilder and written through absolute memops, vcpu state (PSW mode, address
// space, CR0 overrides, prefix), then a mix of absolute, cmpxchg, storage-key, KEYOP and logical ops
// aimed at the edges where implementations differ (page and memory ends, low core, prefix,
// misalignment, NULL buffers, out-of-range fields).
import { KEYOP, MEMOP, MEMOP_F, PAGE_SIZE } from '../abi/constants.js';
import { SeededRandom } from './random.js';
import { CR0_EDAT, CR0_FPO, CR0_LAP, CR0_SPO } from './cases/fixtures.js';
import { RESET_CR0, RESET_CR14 } from '../emulated/vcpu.js';
import { PageTableBuilder, type TopLevel } from '../guest-tables/page-table-builder.js';
import { hex, toHex } from './text.js';
import { SCENARIO_FORMAT, bufSpecOf, type BufSpec, type MemOpSpec, type Scenario, type Step } from './scenario.js';

const MiB = 1 << 20;
// PSW bits (s390 numbering: bit n is 1 << (63 - n)).
const PSW_DAT = 1n << 58n;
const PSW_EA = 1n << 32n;
const PSW_BA = 1n << 31n;
const AS_SHIFT = 46n;

class Gen {
  readonly r: SeededRandom;
  constructor(seed: string) {
    this.r = new SeededRandom(seed);
  }
  chance(p: number): boolean {
    return this.r.next() / 0x1_0000_0000 < p;
  }
  int(min: number, max: number): number {
    return min + this.r.below(max - min + 1);
  }
  pick<T>(items: readonly T[]): T {
    return this.r.pick(items);
  }
  /** Picks by weight: [[weight, value], …]. */
  weighted<T>(items: readonly (readonly [number, () => T])[]): T {
    const total = items.reduce((s, [w]) => s + w, 0);
    let x = this.r.below(total);
    for (const [w, f] of items) {
      if (x < w) return f();
      x -= w;
    }
    return items[items.length - 1]![1]();
  }
  pattern(length: number): BufSpec {
    return { repeat: toHex(this.r.bytes(this.pick([1, 2, 4]))), length };
  }
}

interface World {
  memorySize: number;
  keyedPages: number[];
  mapped: bigint[];
  prefix: number;
  secondVm: boolean;
}

function storageKeyByte(g: Gen): number {
  const acc = g.weighted([
    [3, () => 0],
    [6, () => g.int(1, 15)],
    [2, () => 9],
  ]);
  // Half the keys carry both R and C: kernels that set R and C on SET_SKEYS (errata) read
  // those back unchanged, so other differences stay reachable behind them.
  const rc = g.chance(0.5) ? 0x06 : (g.chance(0.2) ? 0x04 : 0) | (g.chance(0.2) ? 0x02 : 0);
  let k = (acc << 4) | (g.chance(0.5) ? 0x08 : 0) | rc;
  if (g.chance(0.015)) k |= 0x01; // reserved bit: SET_SKEYS refuses it (§9)
  return k;
}

function setKeysStep(g: Gen, w: World, vm: number): Step {
  const pages = w.memorySize / PAGE_SIZE;
  const start = g.weighted([
    [6, () => g.int(0, pages - 1)],
    [1, () => g.int(0, 3)],
    [2, () => pages - g.int(1, 3)], // runs past the end of memory
    [1, () => pages + g.int(0, 4)],
  ]);
  const keys = Array.from({ length: g.int(1, 6) }, () => storageKeyByte(g));
  for (let i = 0; i < keys.length; i++) if (start + i < pages) w.keyedPages.push(start + i);
  return { do: 'setStorageKeys', vm, startGfn: hex(start), keys: toHex(Uint8Array.from(keys)) };
}

/**
 * Usually the same SET_SKEYS twice, as a VMM that knows the classic kernels' lost keys does
 * (errata): the keys then land everywhere, and the differences behind them stay reachable;
 * sometimes once, so the lost key itself shows.
 */
function setKeysSteps(g: Gen, w: World, vm: number): Step[] {
  const step = setKeysStep(g, w, vm);
  return g.chance(0.7) ? [step, step] : [step];
}

function accessKey(g: Gen): number {
  return g.weighted([
    [3, () => 0],
    [8, () => g.int(1, 15)],
    [1, () => g.int(16, 255)],
  ]);
}

function memopSize(g: Gen): number {
  return g.weighted([
    [6, () => g.pick([1, 2, 4, 8, 16])],
    [6, () => g.int(1, 300)],
    [3, () => g.int(PAGE_SIZE - 64, PAGE_SIZE + 300)],
    [2, () => g.int(PAGE_SIZE, 3 * PAGE_SIZE)],
    [1, () => g.pick([0, 65536, 65537])],
  ]);
}

function absoluteAddress(g: Gen, w: World): bigint {
  const mem = w.memorySize;
  return BigInt(
    g.weighted([
      [4, () => g.int(0, mem - 1)],
      [3, () => (w.keyedPages.length ? g.pick(w.keyedPages) * PAGE_SIZE + g.pick([0, 1, PAGE_SIZE - 8, PAGE_SIZE - 1, g.int(0, PAGE_SIZE - 1)]) : 0)],
      [3, () => mem - g.int(1, PAGE_SIZE + 16)], // crosses the end of memory
      [2, () => mem + g.int(0, 3 * PAGE_SIZE)], // starts outside
      [1, () => g.int(0, 600)],
    ]),
  );
}

function memopSpec(g: Gen, op: number, gaddr: bigint, size: number, flags: bigint, key: number, ar: number, buf: BufSpec, old?: BufSpec): MemOpSpec {
  const spec: MemOpSpec = { op, gaddr: hex(gaddr), size, flags: hex(flags), key, ar, buf };
  if (old !== undefined) spec.old = old;
  return spec;
}

function absoluteStep(g: Gen, w: World, vm: number): Step {
  const op = g.pick([MEMOP.ABSOLUTE_READ, MEMOP.ABSOLUTE_WRITE]);
  const size = memopSize(g);
  let flags = 0n;
  const checkOnly = g.chance(0.35);
  if (checkOnly) flags |= BigInt(MEMOP_F.CHECK_ONLY);
  const keyed = g.chance(0.6);
  if (keyed) flags |= BigInt(MEMOP_F.SKEY_PROTECTION);
  if (g.chance(0.04)) flags |= BigInt(MEMOP_F.INJECT_EXCEPTION); // not allowed on the vm fd
  if (g.chance(0.02)) flags |= 0x80n;
  const key = keyed ? accessKey(g) : g.chance(0.8) ? 0 : g.int(1, 15); // the key byte is ignored without the flag
  const buf = checkOnly ? (g.chance(0.7) ? null : g.pattern(size)) : g.chance(0.2) ? null : g.pattern(size);
  return { do: 'vm.memop', vm, desc: memopSpec(g, op, absoluteAddress(g, w), size, flags, key, 0, buf) };
}

function cmpxchgStep(g: Gen, w: World, vm: number): Step {
  const size = g.weighted([
    [8, () => g.pick([1, 2, 4, 8, 16])],
    [2, () => g.pick([3, 6, 12, 17, 32])],
  ]);
  let gaddr = absoluteAddress(g, w);
  const align = BigInt(size >= 16 ? 16 : size);
  if (g.chance(0.7) && align > 0n) gaddr -= gaddr % align;
  else if (g.chance(0.5)) gaddr |= 1n;
  const keyed = g.chance(0.6);
  const flags = (keyed ? BigInt(MEMOP_F.SKEY_PROTECTION) : 0n) | (g.chance(0.05) ? BigInt(MEMOP_F.CHECK_ONLY) : 0n);
  // Guest memory starts zeroed: an all-zero expected value often matches.
  const old: BufSpec = g.chance(0.6) ? toHex(new Uint8Array(size)) : toHex(g.r.bytes(size));
  const buf: BufSpec = g.chance(0.05) ? null : toHex(g.r.bytes(size));
  return { do: 'vm.memop', vm, desc: memopSpec(g, MEMOP.ABSOLUTE_CMPXCHG, gaddr, size, flags, keyed ? accessKey(g) : 0, 0, buf, g.chance(0.04) ? null : old) };
}

function getKeysStep(g: Gen, w: World): Step {
  const pages = w.memorySize / PAGE_SIZE;
  const vm = w.secondVm && g.chance(0.5) ? 1 : 0;
  const start = g.weighted([
    [5, () => (w.keyedPages.length ? g.pick(w.keyedPages) : g.int(0, pages - 1))],
    [2, () => g.int(0, pages - 1)],
    [1, () => pages - 1],
    [1, () => pages + 2],
  ]);
  const count = g.weighted([
    [8, () => g.int(1, 4)],
    [1, () => 0],
  ]);
  return { do: 'getStorageKeys', vm, startGfn: hex(start), count };
}

/**
 * KVM_S390_KEYOP on a page whose key the scenario set (a page nothing set may hold a key its
 * host page kept from an earlier VM on real kernels), outside memory, or with an unknown
 * operation.
 */
function keyopStep(g: Gen, w: World): Step {
  const pages = w.memorySize / PAGE_SIZE;
  const gfn = g.weighted([
    [6, () => (w.keyedPages.length ? g.pick(w.keyedPages) : -1)],
    [1, () => pages + g.int(0, 3)],
  ]);
  if (gfn < 0) return getKeysStep(g, w);
  const operation = g.weighted([
    [9, () => g.pick([KEYOP.ISKE, KEYOP.RRBE, KEYOP.SSKE])],
    [1, () => g.pick([0, 4, 255])],
  ]);
  const key = operation === KEYOP.SSKE ? storageKeyByte(g) : g.chance(0.8) ? 0 : g.int(0, 255);
  return { do: 'keyop', vm: 0, operation, guestAddr: hex(gfn * PAGE_SIZE + g.pick([0, 8, PAGE_SIZE - 1])), key };
}

/** DAT tables in the upper half of memory; returns the ASCE and the mapped virtual pages. */
function buildTables(g: Gen, w: World, steps: Step[], vm: number): bigint {
  const top = g.pick<TopLevel>(['region-first', 'region-second', 'region-third', 'segment']);
  const mem = BigInt(w.memorySize);
  const writer = {
    write(gaddr: bigint, data: Uint8Array) {
      steps.push({ do: 'vm.memop', vm, desc: { op: MEMOP.ABSOLUTE_WRITE, gaddr: hex(gaddr), size: data.length, flags: '0x0', key: 0, ar: 0, buf: bufSpecOf(data) } });
    },
  };
  const b = new PageTableBuilder(writer, { tableArea: { start: mem / 2n, end: mem }, top, privateSpace: g.chance(0.3) });
  const limit = top === 'segment' ? 1n << 31n : top === 'region-third' ? 1n << 42n : top === 'region-second' ? 1n << 53n : 1n << 63n;
  const frames = Number(mem / 2n / 4096n);
  const count = g.int(2, 5);
  for (let i = 0; i < count; i++) {
    const va = g.weighted<bigint>([
      [3, () => 0n],
      [2, () => 0x1000n * BigInt(g.int(1, 8))],
      [2, () => BigInt(g.int(1, 0x7fff)) << 20n],
      [1, () => (top === 'segment' ? BigInt(g.int(1, 0x7ff)) << 20n : BigInt(g.int(1, 0xffff)) << 32n)],
      [1, () => 0xfff000n],
      [1, () => 0x7ffff000n],
    ]);
    if (va >= limit) continue;
    const pages = g.int(1, 3);
    const abs = BigInt(g.int(0, frames - pages)) * 4096n;
    try {
      b.map(va, pages * 4096, abs, { protect: g.chance(0.25) });
      for (let p = 0; p < pages; p++) w.mapped.push(va + BigInt(p) * 4096n);
      if (g.chance(0.2)) b.invalidate(va + BigInt(g.int(0, pages - 1)) * 4096n, 'page');
    } catch {
      // table area exhausted: keep what was built
    }
  }
  return b.asce;
}

function logicalAddress(g: Gen, w: World): bigint {
  return g.weighted<bigint>([
    [4, () => (w.mapped.length ? g.pick(w.mapped) + BigInt(g.pick([0, 8, 0xff0, 0xffc, g.int(0, 4095)])) : 0n)],
    [3, () => BigInt(g.pick([0, 0x100, 0x1f8, 0x200, 0x7f8, 0x800, 0x1000, 0x11f8, 0x1200, g.int(0, 0x2100)]))],
    [2, () => BigInt(w.prefix + g.int(0, 0x2100))],
    [1, () => BigInt(g.pick([0xfffff8, 0x7ffffff8, 0xfffffffffffffff8n, 0x1000000, 0x80000000]))],
    [1, () => BigInt(g.int(0, w.memorySize + 0x2000))],
  ]);
}

function logicalStep(g: Gen, w: World, vcpu: number, opts: GenerateOptions): Step {
  const op = g.pick([MEMOP.LOGICAL_READ, MEMOP.LOGICAL_WRITE]);
  const size = g.weighted([
    [6, () => g.int(1, 64)],
    [3, () => g.int(PAGE_SIZE - 16, PAGE_SIZE + 600)],
    [1, () => g.pick([0, 65537])],
  ]);
  let flags = 0n;
  if (g.chance(0.3)) flags |= BigInt(MEMOP_F.CHECK_ONLY);
  if (g.chance(0.3)) flags |= BigInt(MEMOP_F.INJECT_EXCEPTION);
  const keyed = g.chance(0.6);
  if (keyed) flags |= BigInt(MEMOP_F.SKEY_PROTECTION);
  const ar = g.weighted([
    [10, () => 0],
    [2, () => (opts.predictableAccessRegistersOnly ? g.int(2, 15) : 1)],
    [1, () => g.int(16, 20)],
  ]);
  const checkOnly = (flags & BigInt(MEMOP_F.CHECK_ONLY)) !== 0n;
  const buf = checkOnly && g.chance(0.6) ? null : g.chance(0.05) ? null : g.pattern(size);
  return { do: 'vcpu.memop', vcpu, desc: memopSpec(g, op, logicalAddress(g, w), size, flags, keyed ? accessKey(g) : 0, ar, buf) };
}

function stateStep(g: Gen, w: World, asce: bigint | null): Step {
  const dat = asce !== null && g.chance(0.75);
  const as = BigInt(g.weighted([
    [6, () => 0],
    [1, () => 1],
    [1, () => 2],
    [1, () => 3],
  ]));
  const mode = g.pick(['24', '31', '64', '64']);
  const amode = mode === '64' ? PSW_EA | PSW_BA : mode === '31' ? PSW_BA : 0n;
  const mask = (dat ? PSW_DAT : 0n) | (as << AS_SHIFT) | amode | (BigInt(g.int(0, 15)) << 52n);
  let cr0 = RESET_CR0;
  if (g.chance(0.5)) cr0 |= CR0_LAP;
  if (g.chance(0.5)) cr0 |= CR0_FPO;
  if (g.chance(0.4)) cr0 |= CR0_SPO;
  if (g.chance(0.5)) cr0 |= CR0_EDAT;
  const cr = new Array<bigint>(16).fill(0n);
  cr[0] = cr0;
  cr[14] = RESET_CR14;
  if (asce !== null) {
    cr[1] = asce;
    cr[7] = g.chance(0.7) ? asce : asce | 0x20n; // secondary: same tables or a real-space ASCE
    cr[13] = g.chance(0.8) ? asce : 0n;
  }
  w.prefix = g.chance(0.4) ? 0 : g.int(1, Math.min(w.memorySize / 2, 0x7fffe000) / 0x2000 - 1) * 0x2000;
  const ar = new Array<number>(16).fill(0);
  if (g.chance(0.5)) ar[1] = 1; // ALET 1: the secondary space
  return {
    do: 'setState',
    vcpu: 0,
    psw: { mask: hex(mask), addr: '0x0' },
    cr: cr.map((c) => hex(c)),
    ar,
    prefix: hex(w.prefix),
  };
}

export interface GenerateOptions {
  /** Include logical (vcpu) steps. Default true. */
  logical?: boolean;
  /** Never name AR 1 in an AR-mode access (errata: kernels before 6.9 use the host's ARs). */
  predictableAccessRegistersOnly?: boolean;
}

/** Scenario number `index` of the run seeded with `seed`. */
export function generateScenario(seed: string, index: number, opts: GenerateOptions = {}): Scenario {
  const g = new Gen(`${seed}/${index}`);
  const w: World = { memorySize: g.pick([1, 1, 2]) * MiB, keyedPages: [], mapped: [], prefix: 0, secondVm: g.chance(0.2) };
  const steps: Step[] = [{ do: 'createVm', vm: 0, memorySize: hex(w.memorySize) }];
  if (w.secondVm) steps.push({ do: 'createVm', vm: 1, memorySize: hex(w.memorySize) });
  const keySets = g.int(0, 3);
  for (let i = 0; i < keySets; i++) steps.push(...setKeysSteps(g, w, 0));

  const logical = opts.logical !== false && g.chance(0.6);
  if (logical) {
    const asce = g.chance(0.7) ? buildTables(g, w, steps, 0) : null;
    steps.push({ do: 'createVcpu', vm: 0, vcpu: 0, id: 0 });
    steps.push(stateStep(g, w, asce));
  }
  const ops = g.int(4, 12);
  for (let i = 0; i < ops; i++) {
    const step = g.weighted<Step>([
      [5, () => absoluteStep(g, w, 0)],
      [2, () => cmpxchgStep(g, w, 0)],
      [1, () => setKeysStep(g, w, 0)],
      [1, () => { const [first, again] = setKeysSteps(g, w, 0); if (again) steps.push(first!); return again ?? first!; }],
      [2, () => getKeysStep(g, w)],
      [1, () => keyopStep(g, w)],
      [logical ? 7 : 0, () => logicalStep(g, w, 0, opts)],
    ]);
    steps.push(step);
  }
  return { format: SCENARIO_FORMAT, seed, index, steps: withKeysEnabledFirst(steps, w) };
}

/**
 * A kernel after the gmap rewrite lets a VM that never enabled storage keys see whatever real
 * key its host pages last had (keys an earlier VM of the process set), so any result that
 * depends on keys is only deterministic once the VM enabled them. A scenario with such a step
 * therefore starts by setting every key of vm 0 to 0; scenarios without one keep exercising the
 * never-enabled paths (GET_SKEYS answering NONE).
 */
function withKeysEnabledFirst(steps: Step[], w: World): Step[] {
  const keyed = BigInt(MEMOP_F.SKEY_PROTECTION);
  const dependsOnKeys = (s: Step): boolean =>
    s.do === 'keyop' || ((s.do === 'vm.memop' || s.do === 'vcpu.memop') && (BigInt(s.desc.flags) & keyed) !== 0n);
  if (!steps.some(dependsOnKeys)) return steps;
  // Key 0: the one key no kernel loses (before the gmap rewrite SET_SKEYS drops a non-zero key
  // whose 1 MiB host segment has no page table yet; errata), so every kernel agrees on it.
  const enable: Step = { do: 'setStorageKeys', vm: 0, startGfn: hex(0), keys: toHex(new Uint8Array(w.memorySize / PAGE_SIZE)) };
  return [steps[0]!, enable, ...steps.slice(1)];
}
