// Sparse absolute storage: one memslot at absolute 0. A page costs memory only once written;
// untouched pages read as zeros. Pages are carved out of large slabs so that touched memory
// costs little more than its size.
import { PAGE_SIZE, PAGE_SHIFT } from '../abi/constants.js';

const SLAB_PAGES = 256;
const PAGE_MASK = PAGE_SIZE - 1;
/** Direct-mapped cache of recently used pages (a DAT walk touches five table pages). */
const CACHE_SLOTS = 64;

export class AbsoluteStorage {
  /** Bytes in the memslot. */
  readonly size: number;
  readonly pageCount: number;
  readonly #pages = new Map<number, Uint8Array>();
  /** Bumped by every store, so caches derived from guest memory (translations) can tell. */
  generation = 0;
  #slab: ArrayBuffer | null = null;
  #slabUsed = SLAB_PAGES;
  // A page never moves once allocated, so a cached entry never goes stale; only allocated
  // pages are cached.
  readonly #cacheKeys = new Float64Array(CACHE_SLOTS).fill(-1);
  readonly #cachePages: Array<Uint8Array | undefined> = new Array<Uint8Array | undefined>(CACHE_SLOTS).fill(undefined);

  constructor(size: number) {
    this.size = size;
    this.pageCount = Math.floor(size / PAGE_SIZE);
  }

  /** True when absolute address `abs` (a non-negative number, possibly ≥ 2^53) is in the memslot. */
  contains(abs: number): boolean {
    return abs < this.size;
  }

  /** Number of pages that hold data (for memory accounting). */
  get touchedPages(): number {
    return this.#pages.size;
  }

  /** Page numbers that hold data, for checks that nothing outside the memslot was written. */
  touchedPageNumbers(): IterableIterator<number> {
    return this.#pages.keys();
  }

  /** The page's bytes, or undefined when never written. */
  #lookup(pfn: number): Uint8Array | undefined {
    const slot = pfn & (CACHE_SLOTS - 1);
    if (this.#cacheKeys[slot] === pfn) return this.#cachePages[slot];
    const page = this.#pages.get(pfn);
    if (page !== undefined) {
      this.#cacheKeys[slot] = pfn;
      this.#cachePages[slot] = page;
    }
    return page;
  }

  /** Copies `length` bytes at `abs` (within one page) into `dst` at `dstOffset`. */
  readWithinPage(abs: number, dst: Uint8Array, dstOffset: number, length: number): void {
    const page = this.#lookup(Math.floor(abs / PAGE_SIZE));
    if (page === undefined) {
      dst.fill(0, dstOffset, dstOffset + length);
      return;
    }
    const off = abs % PAGE_SIZE;
    dst.set(length === PAGE_SIZE ? page : page.subarray(off, off + length), dstOffset);
  }

  /** Copies `length` bytes from `src` at `srcOffset` to `abs` (within one page). */
  writeWithinPage(abs: number, src: Uint8Array, srcOffset: number, length: number): void {
    this.generation++;
    const page = this.pageForWrite(Math.floor(abs / PAGE_SIZE));
    page.set(src.subarray(srcOffset, srcOffset + length), abs % PAGE_SIZE);
  }

  /** The page's bytes for in-place reading; undefined when never written (all zero). */
  pageIfTouched(pfn: number): Uint8Array | undefined {
    return this.#lookup(pfn);
  }

  /** The page's bytes for writing, allocated on first use. Callers store into it. */
  pageForWrite(pfn: number): Uint8Array {
    this.generation++;
    let page = this.#lookup(pfn);
    if (page === undefined) {
      if (this.#slabUsed === SLAB_PAGES) {
        this.#slab = new ArrayBuffer(SLAB_PAGES * PAGE_SIZE);
        this.#slabUsed = 0;
      }
      page = new Uint8Array(this.#slab!, this.#slabUsed * PAGE_SIZE, PAGE_SIZE);
      this.#slabUsed++;
      this.#pages.set(pfn, page);
    }
    return page;
  }

  /** Reads a big-endian u64 at absolute `abs` (8-aligned, in memory) as [high32, low32]. */
  readU64Parts(abs: number, out: Uint32Array): void {
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
    const page = this.#lookup(Math.floor(abs / PAGE_SIZE));
    if (page === undefined) return 0;
    const o = abs & PAGE_MASK;
    return ((page[o]! << 24) | (page[o + 1]! << 16) | (page[o + 2]! << 8) | page[o + 3]!) >>> 0;
  }

  /** Reads one byte at absolute `abs` (in memory). */
  readU8(abs: number): number {
    const page = this.#lookup(Math.floor(abs / PAGE_SIZE));
    return page === undefined ? 0 : page[abs & PAGE_MASK]!;
  }
}

export { PAGE_SHIFT };
