// Sparse absolute storage: one memslot at absolute 0. A page costs memory only once written;
// untouched pages read as zeros. Pages are carved out of large slabs so that touched memory
// costs little more than its size.
import { PAGE_SIZE } from '../abi/constants.js';
import { byteLengthOf, copyInto, plainView, zeroFill } from '../typed-arrays.js';

const SLAB_PAGES = 256;
const PAGES_PER_SEGMENT = 256;
const PAGE_MASK = PAGE_SIZE - 1;
/** Direct-mapped cache of recently used pages (a DAT walk touches five table pages). */
const CACHE_SLOTS = 64;
/** Copies up to this many bytes with a loop: cheaper than making a view for TypedArray#set. */
const SMALL_COPY = 32;

export class AbsoluteStorage {
  /** Bytes in the memslot. */
  readonly size: number;
  readonly pageCount: number;
  /**
   * pfn → allocation index. Page number `i` in allocation order lives in slab
   * `i / SLAB_PAGES` at slot `i % SLAB_PAGES`, so two guest pages lie next to each other in
   * host memory exactly when their indexes follow each other inside one slab.
   */
  readonly #index = new Map<number, number>();
  /** Allocation index → the page's bytes. */
  readonly #views: Uint8Array[] = [];
  readonly #slabs: ArrayBuffer[] = [];
  /** Bumped by every store, so caches derived from guest memory (translations) can tell. */
  generation = 0;
  // A page never moves once allocated, so a cached entry never goes stale; only allocated
  // pages are cached.
  readonly #cacheKeys = new Float64Array(CACHE_SLOTS).fill(-1);
  readonly #cacheIndex = new Int32Array(CACHE_SLOTS);
  /**
   * 1 for each 1 MiB segment of the host mapping that has a page table: the host's first
   * access to any page of a segment faults one in (kernels before the gmap rewrite keep
   * storage keys in it, and SET_SKEYS depends on it).
   */
  readonly #segmentHasTable: Uint8Array;

  constructor(size: number) {
    this.size = size;
    this.pageCount = Math.floor(size / PAGE_SIZE);
    this.#segmentHasTable = new Uint8Array(Math.ceil(this.pageCount / PAGES_PER_SEGMENT));
  }

  /** True once the host touched any page of the 1 MiB segment that holds page `pfn`. */
  segmentHasTable(pfn: number): boolean {
    return this.#segmentHasTable[Math.floor(pfn / PAGES_PER_SEGMENT)] === 1;
  }

  /** The host touches page `pfn` (a fault-in gives its segment a page table). */
  touchSegment(pfn: number): void {
    this.#segmentHasTable[Math.floor(pfn / PAGES_PER_SEGMENT)] = 1;
  }

  #touchRange(abs: number, length: number): void {
    const last = Math.floor((abs + Math.max(length, 1) - 1) / (PAGE_SIZE * PAGES_PER_SEGMENT));
    for (let seg = Math.floor(abs / (PAGE_SIZE * PAGES_PER_SEGMENT)); seg <= last; seg++) this.#segmentHasTable[seg] = 1;
  }

  /** True when absolute address `abs` (a non-negative number, possibly ≥ 2^53) is in the memslot. */
  contains(abs: number): boolean {
    return abs < this.size;
  }

  /**
   * Drops every page (the VM is gone): the memory goes back to the garbage collector. The
   * storage reads as zeros afterwards; nothing reaches it through a closed handle.
   */
  release(): void {
    this.#index.clear();
    this.#views.length = 0;
    this.#slabs.length = 0;
    this.#cacheKeys.fill(-1);
    this.generation++;
  }

  /** Number of pages that hold data (for memory accounting). */
  get touchedPages(): number {
    return this.#index.size;
  }

  /** Page numbers that hold data, for checks that nothing outside the memslot was written. */
  touchedPageNumbers(): IterableIterator<number> {
    return this.#index.keys();
  }

  /** The page's allocation index, or -1 when never written. */
  #indexOf(pfn: number): number {
    const slot = pfn & (CACHE_SLOTS - 1);
    if (this.#cacheKeys[slot] === pfn) return this.#cacheIndex[slot]!;
    const index = this.#index.get(pfn);
    if (index === undefined) return -1;
    this.#cacheKeys[slot] = pfn;
    this.#cacheIndex[slot] = index;
    return index;
  }

  /** The page's bytes, or undefined when never written. */
  #lookup(pfn: number): Uint8Array | undefined {
    const index = this.#indexOf(pfn);
    return index < 0 ? undefined : this.#views[index];
  }

  /** Copies `length` bytes at `abs` (within one page) into `dst` at `dstOffset`. */
  readWithinPage(abs: number, dst: Uint8Array, dstOffset: number, length: number): void {
    this.touchSegment(Math.floor(abs / PAGE_SIZE));
    const page = this.#lookup(Math.floor(abs / PAGE_SIZE));
    if (page === undefined) {
      zeroFill(dst, dstOffset, dstOffset + length);
      return;
    }
    const off = abs % PAGE_SIZE;
    if (length <= SMALL_COPY) {
      for (let i = 0; i < length; i++) dst[dstOffset + i] = page[off + i]!;
      return;
    }
    copyInto(dst, length === PAGE_SIZE ? page : page.subarray(off, off + length), dstOffset);
  }

  /** Copies `length` bytes from `src` at `srcOffset` to `abs` (within one page). */
  writeWithinPage(abs: number, src: Uint8Array, srcOffset: number, length: number): void {
    this.generation++;
    const page = this.pageForWrite(Math.floor(abs / PAGE_SIZE));
    const off = abs % PAGE_SIZE;
    if (length <= SMALL_COPY) {
      for (let i = 0; i < length; i++) page[off + i] = src[srcOffset + i]!;
      return;
    }
    copyInto(page, srcOffset === 0 && length === byteLengthOf(src) ? src : plainView(src, srcOffset, length), off);
  }

  /**
   * How many bytes from `abs` on (at most `length`; `index` is the allocated page that holds
   * `abs`) lie contiguously in one slab: pages allocated one after the other (a guest written
   * in address order) are copied with one call instead of one per page.
   */
  #run(index: number, abs: number, length: number): number {
    let len = Math.min(PAGE_SIZE - (abs % PAGE_SIZE), length);
    let pfn = Math.floor(abs / PAGE_SIZE) + 1;
    let next = index + 1;
    while (len < length && next % SLAB_PAGES !== 0 && this.#indexOf(pfn) === next) {
      len = Math.min(len + PAGE_SIZE, length);
      pfn++;
      next++;
    }
    return len;
  }

  /** A view of `len` bytes from offset `off` of page `index` on, through its slab. */
  #span(index: number, off: number, len: number): Uint8Array {
    return new Uint8Array(this.#slabs[Math.floor(index / SLAB_PAGES)]!, (index % SLAB_PAGES) * PAGE_SIZE + off, len);
  }

  /**
   * Copies `length` bytes at `abs` (any number of pages, all inside the memslot) into `dst`
   * at `dstOffset`: the same bytes as readWithinPage fragment by fragment.
   */
  readRange(abs: number, dst: Uint8Array, dstOffset: number, length: number): void {
    this.#touchRange(abs, length);
    let done = 0;
    while (done < length) {
      const a = abs + done;
      const index = this.#indexOf(Math.floor(a / PAGE_SIZE));
      if (index < 0) {
        const len = Math.min(PAGE_SIZE - (a % PAGE_SIZE), length - done);
        zeroFill(dst, dstOffset + done, dstOffset + done + len);
        done += len;
        continue;
      }
      const len = this.#run(index, a, length - done);
      const off = a % PAGE_SIZE;
      if (len <= SMALL_COPY && off + len <= PAGE_SIZE) {
        const page = this.#views[index]!;
        const at = dstOffset + done;
        for (let i = 0; i < len; i++) dst[at + i] = page[off + i]!;
      } else if (len === PAGE_SIZE && off === 0) {
        copyInto(dst, this.#views[index]!, dstOffset + done);
      } else {
        copyInto(dst, this.#span(index, off, len), dstOffset + done);
      }
      done += len;
    }
  }

  /**
   * Copies `length` bytes from `src` at `srcOffset` to `abs` (any number of pages, all inside
   * the memslot), allocating pages on first use: the same as writeWithinPage per fragment.
   */
  writeRange(abs: number, src: Uint8Array, srcOffset: number, length: number): void {
    this.generation++;
    this.#touchRange(abs, length);
    let done = 0;
    while (done < length) {
      const a = abs + done;
      const pfn = Math.floor(a / PAGE_SIZE);
      let index = this.#indexOf(pfn);
      // A fresh page is allocated here, in address order, so a range written for the first
      // time comes out contiguous (it is copied page by page this once).
      if (index < 0) {
        this.pageForWrite(pfn);
        index = this.#indexOf(pfn);
      }
      const len = this.#run(index, a, length - done);
      const off = a % PAGE_SIZE;
      const from = srcOffset + done;
      if (len <= SMALL_COPY && off + len <= PAGE_SIZE) {
        const page = this.#views[index]!;
        for (let i = 0; i < len; i++) page[off + i] = src[from + i]!;
      } else {
        const data = from === 0 && byteLengthOf(src) === len ? src : plainView(src, from, len);
        if (len === PAGE_SIZE && off === 0) copyInto(this.#views[index]!, data, 0);
        else copyInto(this.#span(index, off, len), data, 0);
      }
      done += len;
    }
  }

  /** The page's bytes for in-place reading; undefined when never written (all zero). */
  pageIfTouched(pfn: number): Uint8Array | undefined {
    this.touchSegment(pfn);
    return this.#lookup(pfn);
  }

  /** The page's bytes for writing, allocated on first use. Callers store into it. */
  pageForWrite(pfn: number): Uint8Array {
    this.generation++;
    this.touchSegment(pfn);
    const index = this.#indexOf(pfn);
    if (index >= 0) return this.#views[index]!;
    const fresh = this.#views.length;
    if (fresh % SLAB_PAGES === 0) this.#slabs.push(new ArrayBuffer(SLAB_PAGES * PAGE_SIZE));
    const page = new Uint8Array(this.#slabs[this.#slabs.length - 1]!, (fresh % SLAB_PAGES) * PAGE_SIZE, PAGE_SIZE);
    this.#views.push(page);
    this.#index.set(pfn, fresh);
    return page;
  }

  /** Reads a big-endian u64 at absolute `abs` (8-aligned, in memory) as [high32, low32]. */
  readU64Parts(abs: number, out: Uint32Array): void {
    this.touchSegment(Math.floor(abs / PAGE_SIZE));
    const page = this.#lookup(Math.floor(abs / PAGE_SIZE));
    if (page === undefined) {
      out[0] = 0;
      out[1] = 0;
      return;
    }
    const o = abs & PAGE_MASK;
    out[0] = ((page[o]! << 24) | (page[o + 1]! << 16) | (page[o + 2]! << 8) | page[o + 3]!) >>> 0;
    out[1] = ((page[o + 4]! << 24) | (page[o + 5]! << 16) | (page[o + 6]! << 8) | page[o + 7]!) >>> 0;
  }

  /** Reads a big-endian u32 at absolute `abs` (4-aligned, in memory). */
  readU32(abs: number): number {
    this.touchSegment(Math.floor(abs / PAGE_SIZE));
    const page = this.#lookup(Math.floor(abs / PAGE_SIZE));
    if (page === undefined) return 0;
    const o = abs & PAGE_MASK;
    return ((page[o]! << 24) | (page[o + 1]! << 16) | (page[o + 2]! << 8) | page[o + 3]!) >>> 0;
  }

  /** Reads one byte at absolute `abs` (in memory). */
  readU8(abs: number): number {
    this.touchSegment(Math.floor(abs / PAGE_SIZE));
    const page = this.#lookup(Math.floor(abs / PAGE_SIZE));
    return page === undefined ? 0 : page[abs & PAGE_MASK]!;
  }
}

