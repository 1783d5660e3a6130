// Builds z/Architecture DAT tables in guest memory, big-endian, through any backend: map
// virtual ranges to absolute frames of 4 KiB, 1 MiB (EDAT-1) or 2 GiB (EDAT-2) at any top
// level, with protection bits or as invalid entries, and get the ASCE to load into CR1/7/13.
import { checkOptions, checkU64, readOption } from '../api/arguments.js';
import { ArgumentRangeError } from '../errors.js';

/**
 * Where tables are written: a Vm (absolute storage) or anything with the same `write`.
 *
 * @example
 * ```ts
 * const writer: GuestMemoryWriter = vm;
 * ```
 */
export interface GuestMemoryWriter {
  /**
   * Stores `data` at absolute `gaddr`.
   *
   * @param gaddr - The absolute guest address.
   * @param data - The bytes.
   * @throws Whatever the writer throws (a Vm: AccessException, KvmError).
   */
  write(gaddr: bigint, data: Uint8Array): void;
}

/**
 * The highest table level of a translation: five levels from 'region-first' down to two
 * from 'segment'.
 *
 * @example
 * ```ts
 * new PageTableBuilder(vm, { tableArea, top: 'segment' satisfies TopLevel });
 * ```
 */
export type TopLevel = 'region-first' | 'region-second' | 'region-third' | 'segment';
/**
 * A frame size: 4 KiB pages, 1 MiB (EDAT-1) or 2 GiB (EDAT-2) frames.
 *
 * @example
 * ```ts
 * builder.map(va, 0x100000, abs, { frame: '1m' satisfies FrameSize });
 * ```
 */
export type FrameSize = '4k' | '1m' | '2g';

/**
 * Options of a `PageTableBuilder`.
 *
 * @example
 * ```ts
 * const opts: PageTableBuilderOptions = { tableArea: { start: 0x1000000n, end: 0x1400000n }, top: 'region-third' };
 * ```
 */
export interface PageTableBuilderOptions {
  /** Absolute range the tables are allocated from (page aligned, below 2^53). */
  tableArea: {
    /** First absolute address tables may use. */
    start: number | bigint;
    /** End (exclusive) of the area. */
    end: number | bigint;
  };
  /** Highest table level; default 'region-first' (five-level translation). */
  top?: TopLevel;
  /** Private-space bit in the ASCE (turns off LAP and fetch-protection override). */
  privateSpace?: boolean;
}

/**
 * Options of `PageTableBuilder.map`.
 *
 * @example
 * ```ts
 * builder.map(0x80000000n, 0x100000, 0x300000n, { frame: '1m', protect: true });
 * ```
 */
export interface MapOptions {
  /** The frame size; default '4k'. */
  frame?: FrameSize;
  /** DAT-protection bit in the entry that maps the frame. */
  protect?: boolean;
}

/** Levels by designation type (3 = region-first … 0 = segment). */
const LEVEL_OF: Record<TopLevel, number> = { 'region-first': 3, 'region-second': 2, 'region-third': 1, segment: 0 };
const REGION_TABLE_BYTES = 16384;
const PAGE_TABLE_BYTES = 2048;
const INVALID_REGION = 0x20n;
const INVALID_SEGMENT = 0x20n;
const INVALID_PAGE = 0x400n;
const PROTECT = 0x200n;
const FORMAT_CONTROL = 0x400n;
const PRIVATE = 0x100n;

function shiftOf(level: number): bigint {
  // Index positions: region-first 53, region-second 42, region-third 31, segment 20.
  return [20n, 31n, 42n, 53n][level]!;
}

/** Frame sizes in bytes. */
const FRAME_BYTES: Record<FrameSize, bigint> = { '4k': 0x1000n, '1m': 0x100000n, '2g': 0x80000000n };
/** The lowest table level whose entry maps a frame of that size (-1: the page table). */
const FRAME_LEVEL: Record<FrameSize, number> = { '4k': -1, '1m': 0, '2g': 1 };
const TWO_64 = 1n << 64n;

function levelOf(value: unknown, name: string): number {
  if (typeof value !== 'string' || !Object.hasOwn(LEVEL_OF, value)) {
    throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `${name} must be one of ${Object.keys(LEVEL_OF).join(', ')}`);
  }
  return LEVEL_OF[value as TopLevel];
}

/** Virtual addresses a table of `level` can translate: its 2048 entries span 2^(shift + 11). */
function reachOf(level: number): bigint {
  return 1n << (shiftOf(level) + 11n);
}

function beU64(value: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, value, false);
  return b;
}

function entryLevel(level: TopLevel | 'page'): number {
  return level === 'page' ? -1 : levelOf(level, 'level');
}

/**
 * Builds z/Architecture DAT tables in guest memory, big-endian, through any backend: map
 * virtual ranges to absolute frames of 4 KiB, 1 MiB or 2 GiB at any top level, protect or
 * invalidate entries, and load `asce` into CR1 (primary), CR7 (secondary) or CR13 (home).
 *
 * @example
 * ```ts
 * const tables = new PageTableBuilder(vm, { tableArea: { start: 0x1000000n, end: 0x1400000n } })
 *   .map(0x7f0000000000n, 0x10000, 0x200000n);
 * const cr = new Array(16).fill(0n);
 * cr[1] = tables.asce;
 * vcpu.setState({ psw: { mask: 0x0400000180000000n, addr: 0n }, cr });
 * ```
 */
export class PageTableBuilder {
  readonly #mem: GuestMemoryWriter;
  readonly #top: number;
  readonly #private: boolean;
  #next: bigint;
  readonly #end: bigint;
  readonly #root: bigint;
  /** table origin → its entries (as written), so we know what exists. */
  readonly #tables = new Map<bigint, bigint[]>();

  /**
   * Writes an empty top-level table into the table area.
   *
   * @param mem - Where the tables are written (a Vm).
   * @param opts - The table area, top level and private-space bit.
   */
  constructor(mem: GuestMemoryWriter, opts: PageTableBuilderOptions) {
    const options = checkOptions(opts, 'options');
    const area = readOption(options, 'tableArea');
    const top = readOption(options, 'top');
    const privateSpace = readOption(options, 'privateSpace');
    if (area === undefined) throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', 'PageTableBuilder needs options.tableArea { start, end }');
    const areaOptions = checkOptions(area, 'options.tableArea');
    const start = checkU64(readOption(areaOptions, 'start', 'options.tableArea'), 'tableArea.start');
    const end = checkU64(readOption(areaOptions, 'end', 'options.tableArea'), 'tableArea.end');
    this.#mem = mem;
    this.#top = top === undefined ? LEVEL_OF['region-first'] : levelOf(top, 'options.top');
    this.#private = privateSpace === true;
    this.#next = start;
    this.#end = end;
    this.#root = this.#newTable(this.#top);
  }

  /**
   * The ASCE: table origin, designation type, table length 3 (full table), optional private bit.
   */
  get asce(): bigint {
    return this.#root | (BigInt(this.#top) << 2n) | 3n | (this.#private ? PRIVATE : 0n);
  }

  /**
   * Maps [va, va+length) to [abs, abs+length), creating the tables it needs.
   *
   * @param virtualStart - The virtual start, aligned to the frame size.
   * @param length - Bytes to map, a multiple of the frame size.
   * @param absoluteStart - The absolute start, aligned to the frame size.
   * @param opts - The frame size and the DAT-protection bit.
   * @returns This builder, to chain.
   * @throws {@link ArgumentRangeError} before any entry is written: `ERR_INVALID_ARG_VALUE` for
   *   an unknown frame size, a frame the top table level cannot hold (2 GiB frames need a
   *   region-third table or higher) or unaligned arguments; `ERR_OUT_OF_RANGE` for a virtual
   *   range beyond what the top table translates (it would alias lower addresses), a range that
   *   passes 2^64, or values that are not u64. {@link ArgumentTypeError} `ERR_INVALID_ARG_TYPE`
   *   for values of the wrong type. RangeError when the table area is exhausted; whatever the
   *   writer throws.
   * @example
   * ```ts
   * builder.map(0x7f0000000000n, 0x10000, 0x200000n);
   * ```
   */
  map(virtualStart: number | bigint, length: number | bigint, absoluteStart: number | bigint, opts?: MapOptions): this {
    const options = checkOptions(opts, 'options');
    const frameValue = readOption(options, 'frame');
    const protect = readOption(options, 'protect') === true;
    const start = checkU64(virtualStart, 'va');
    const total = checkU64(length, 'length');
    const absStart = checkU64(absoluteStart, 'abs');
    const frame = (frameValue ?? '4k') as FrameSize;
    if (typeof frame !== 'string' || !Object.hasOwn(FRAME_BYTES, frame)) {
      throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `map: options.frame must be '4k', '1m' or '2g'`);
    }
    if (FRAME_LEVEL[frame] > this.#top) {
      throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `map: ${frame} frames need a table of a higher level than this builder's top`);
    }
    const step = FRAME_BYTES[frame];
    if (start % step !== 0n || absStart % step !== 0n || total % step !== 0n) {
      throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `map: virtual 0x${start.toString(16)}, absolute 0x${absStart.toString(16)} and length must be ${frame}-aligned`);
    }
    const reach = reachOf(this.#top);
    if (start + total > reach) {
      throw new ArgumentRangeError('ERR_OUT_OF_RANGE', `map: virtual 0x${start.toString(16)} + 0x${total.toString(16)} is beyond the 0x${reach.toString(16)} bytes this builder's top table translates`);
    }
    if (absStart + total > TWO_64) {
      throw new ArgumentRangeError('ERR_OUT_OF_RANGE', `map: absolute 0x${absStart.toString(16)} + 0x${total.toString(16)} passes 2^64`);
    }
    for (let off = 0n; off < total; off += step) this.#mapOne(start + off, absStart + off, frame, protect);
    return this;
  }

  /**
   * Makes the entry of `level` that covers `va` invalid (level 'page' for a page-table entry).
   *
   * @param va - A virtual address the entry covers.
   * @param level - The table level of the entry.
   * @returns This builder, to chain.
   * @throws RangeError when `va` is not mapped down to that level; whatever the writer throws.
   * @example
   * ```ts
   * builder.invalidate(0x7f0000001000n, 'page');
   * ```
   */
  invalidate(va: number | bigint, level: TopLevel | 'page'): this {
    const slot = this.#slotFor(va, entryLevel(level));
    const entry = slot.level === -1 ? INVALID_PAGE : slot.level === 0 ? INVALID_SEGMENT : INVALID_REGION | (BigInt(slot.level) << 2n);
    this.#writeEntry(slot.table, slot.index, entry);
    return this;
  }

  /**
   * The absolute address of the entry of `level` for `va` (mapped down to that level).
   *
   * @param va - A virtual address the entry covers.
   * @param level - The table level of the entry.
   * @returns The entry's absolute address.
   * @throws RangeError when `va` is not mapped down to that level.
   * @example
   * ```ts
   * const pte = builder.entryAddress(0x7f0000001000n, 'page');
   * ```
   */
  entryAddress(va: number | bigint, level: TopLevel | 'page'): bigint {
    const slot = this.#slotFor(va, entryLevel(level));
    return slot.table + BigInt(slot.index) * 8n;
  }

  /**
   * Writes a raw entry value at the slot of `level` for `va` (for malformed-entry tests).
   *
   * @param va - A virtual address the entry covers.
   * @param level - The table level of the entry.
   * @param value - The raw 64-bit entry.
   * @returns This builder, to chain.
   * @throws RangeError when `va` is not mapped down to that level; whatever the writer throws.
   * @example
   * ```ts
   * builder.setEntry(0x7f0000001000n, 'page', 0x200000n | 0x100n); // a reserved bit set
   * ```
   */
  setEntry(va: number | bigint, level: TopLevel | 'page', value: number | bigint): this {
    const entry = checkU64(value, 'value');
    const slot = this.#slotFor(va, entryLevel(level));
    this.#writeEntry(slot.table, slot.index, entry);
    return this;
  }

  #slotFor(vaValue: number | bigint, wantLevel: number): { table: bigint; index: number; level: number } {
    const va = checkU64(vaValue, 'va');
    if (va >= reachOf(this.#top)) throw new ArgumentRangeError('ERR_OUT_OF_RANGE', `virtual 0x${va.toString(16)} is beyond what this builder's top table translates`);
    let table = this.#root;
    for (let level = this.#top; level >= 0; level--) {
      const index = Number((va >> shiftOf(level)) & 0x7ffn);
      if (level === wantLevel) return { table, index, level };
      const e = this.#tables.get(table)![index]!;
      const invalid = level === 0 ? (e & INVALID_SEGMENT) !== 0n : (e & INVALID_REGION) !== 0n;
      if (invalid || (e & FORMAT_CONTROL) !== 0n) throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `no lower table for 0x${va.toString(16)} at level ${level}`);
      table = level === 0 ? e & ~0x7ffn : e & ~0xfffn;
      if (level === 0) {
        if (wantLevel !== -1) break;
        return { table, index: Number((va >> 12n) & 0xffn), level: -1 };
      }
    }
    throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `level not below the top level of this builder`);
  }

  #mapOne(va: bigint, abs: bigint, frame: FrameSize, protect: boolean): void {
    const p = protect ? PROTECT : 0n;
    let table = this.#root;
    for (let level = this.#top; level >= 0; level--) {
      const index = Number((va >> shiftOf(level)) & 0x7ffn);
      if (level === 1 && frame === '2g') {
        this.#writeEntry(table, index, abs | FORMAT_CONTROL | (1n << 2n) | p);
        return;
      }
      if (level === 0 && frame === '1m') {
        this.#writeEntry(table, index, abs | FORMAT_CONTROL | p);
        return;
      }
      const entries = this.#tables.get(table)!;
      let e = entries[index]!;
      const invalid = level === 0 ? (e & INVALID_SEGMENT) !== 0n : (e & INVALID_REGION) !== 0n;
      if (invalid || (e & FORMAT_CONTROL) !== 0n) {
        const lower = this.#newTable(level - 1);
        e = level === 0 ? lower : lower | (BigInt(level) << 2n) | 3n;
        this.#writeEntry(table, index, e);
      }
      table = level === 0 ? e & ~0x7ffn : e & ~0xfffn;
      if (level === 0) {
        this.#writeEntry(table, Number((va >> 12n) & 0xffn), abs | p);
        return;
      }
    }
    throw new ArgumentRangeError('ERR_INVALID_ARG_VALUE', `${frame} frames cannot be mapped below a ${this.#top}-level table`);
  }

  /** Allocates a table of `level` (-1 = page table) filled with invalid entries. */
  #newTable(level: number): bigint {
    const bytes = level === -1 ? PAGE_TABLE_BYTES : REGION_TABLE_BYTES;
    const align = level === -1 ? 2048n : 4096n;
    const origin = (this.#next + align - 1n) & ~(align - 1n);
    if (origin + BigInt(bytes) > this.#end) throw new ArgumentRangeError('ERR_OUT_OF_RANGE', 'PageTableBuilder: table area exhausted');
    this.#next = origin + BigInt(bytes);
    const count = bytes / 8;
    const invalid = level === -1 ? INVALID_PAGE : level === 0 ? INVALID_SEGMENT : INVALID_REGION | (BigInt(level) << 2n);
    const image = new Uint8Array(bytes);
    const view = new DataView(image.buffer);
    for (let i = 0; i < count; i++) view.setBigUint64(i * 8, invalid, false);
    this.#mem.write(origin, image);
    this.#tables.set(origin, new Array<bigint>(count).fill(invalid));
    return origin;
  }

  #writeEntry(table: bigint, index: number, value: bigint): void {
    this.#tables.get(table)![index] = value;
    this.#mem.write(table + BigInt(index) * 8n, beU64(value));
  }
}
