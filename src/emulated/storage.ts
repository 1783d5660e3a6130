// Sparse absolute storage: one memslot at absolute 0. A page costs memory only once written;
// untouched pages read as zeros. Pages are carved out of large slabs so that touched memory
// costs little more than its size.
import { PAGE_SIZE } from '../abi/constants.js';
import { zeroFill } from '../typed-arrays.js';
import { SMALL_COPY, copyBytes, copyFromBuffer } from './bytes.js';
import { PAGE_MASK, groupOf256, pageNumber } from './frame-numbers.js';

/** Both 256: groupOf256 (frame-numbers.ts) divides by them. */
const SLAB_PAGES = 256;
const PAGES_PER_SEGMENT = 256;
/** An allocation index's slot in its slab: index % SLAB_PAGES (indexes are int32). */
const SLAB_MASK = SLAB_PAGES - 1;
/** Direct-mapped cache of recently used pages (a DAT walk touches five table pages). */
const CACHE_SLOTS = 64;

/** `grown` (twice the length) holding `array` at its start. */
function doubled<T extends Uint8Array | Int32Array>(array: T, grown: T): T {
  grown.set(array);
  return grown;
}

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
  /** Each slab: SLAB_PAGES pages, as its ArrayBuffer and as bytes. */
  readonly #slabs: ArrayBuffer[] = [];
  readonly #slabBytes: Uint8Array[] = [];
  /** The page number allocated last (-1: none), which a new page's run may continue. */
  #lastPfn = -1;
  /**
   * Contiguous runs, kept as pages are allocated so that #run answers without a loop: for each
   * allocation index the index that starts its run (pages of consecutive numbers, one after
   * the other in one slab), and for each run start the last index of that run so far.
   */
  #runStart = new Int32Array(SLAB_PAGES);
  #runLast = new Int32Array(SLAB_PAGES);
  /**
   * Bumped when a store changes a page that a translation was read from (a DAT table): the
   * translation buffers (tlb.ts) drop their entries when it moves. Stores into other pages
   * leave it alone, so data accesses keep the cached translations.
   */
  translationEpoch = 0;
  /** Pages read by translations since the last bump, by page number (touched or not). */
  readonly #translationPages = new Set<number>();
  /** The same marks by allocation index, so a store tests one byte, not a Set. */
  #translationMarks = new Uint8Array(SLAB_PAGES);
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
    return this.#segmentHasTable[groupOf256(pfn)] === 1;
  }

  /** The host touches page `pfn` (a fault-in gives its segment a page table). */
  touchSegment(pfn: number): void {
    this.#segmentHasTable[groupOf256(pfn)] = 1;
  }

  /** The host touches [abs, abs + length): each segment it reaches gets a page table. */
  touchRange(abs: number, length: number): void {
    this.#touchRange(abs, length);
  }

  #touchRange(abs: number, length: number): void {
    const last = groupOf256(pageNumber(abs + (length > 0 ? length : 1) - 1));
    for (let seg = groupOf256(pageNumber(abs)); seg <= last; seg++) this.#segmentHasTable[seg] = 1;
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
    // Translations read from the dropped pages go too (the translation buffers see the epoch move).
    this.invalidateTranslations();
    this.#index.clear();
    this.#views.length = 0;
    this.#slabs.length = 0;
    this.#slabBytes.length = 0;
    this.#lastPfn = -1;
    this.#runStart = new Int32Array(SLAB_PAGES);
    this.#runLast = new Int32Array(SLAB_PAGES);
    this.#translationMarks = new Uint8Array(SLAB_PAGES);
    this.#cacheKeys.fill(-1);
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

  /**
   * The small access: `length` bytes at `abs`, all within one page, copied to (isStore) or
   * from `bytes` at `offset`. Kept small enough for V8 to inline into the memop.
   */
  copyWithinPage(abs: number, bytes: Uint8Array, offset: number, length: number, isStore: boolean): void {
    const pfn = pageNumber(abs);
    const index = this.#indexOf(pfn);
    if (index < 0 || (isStore && this.#translationPages.size !== 0)) {
      // First store into the page, a page never written, or stores that may hit a table.
      if (isStore) this.writeRange(abs, bytes, offset, length);
      else this.readRange(abs, bytes, offset, length);
      return;
    }
    this.#segmentHasTable[groupOf256(pfn)] = 1;
    const page = this.#views[index]!;
    const at = abs & PAGE_MASK;
    // One copy call for both directions: V8 then inlines its body once.
    copyBytes(isStore ? page : bytes, isStore ? at : offset, isStore ? bytes : page, isStore ? offset : at, length);
  }

  /**
   * How many bytes from `abs` on (at most `length`; `index` is the allocated page that holds
   * `abs`) lie contiguously in one slab: pages allocated one after the other (a guest written
   * in address order) are copied with one call instead of one per page.
   */
  #run(index: number, abs: number, length: number): number {
    const pagesAfter = this.#runLast[this.#runStart[index]!]! - index;
    const len = PAGE_SIZE - (abs & PAGE_MASK) + pagesAfter * PAGE_SIZE;
    return len < length ? len : length;
  }

  /**
   * Copies `length` bytes at `abs` (any number of pages, all inside the memslot) into `dst`
   * at `dstOffset`, a run of contiguous pages per copy. Untouched pages read as zeros.
   */
  readRange(abs: number, dst: Uint8Array, dstOffset: number, length: number): void {
    this.#touchRange(abs, length);
    let done = 0;
    while (done < length) {
      const a = abs + done;
      const index = this.#indexOf(pageNumber(a));
      if (index < 0) {
        const len = Math.min(PAGE_SIZE - (a & PAGE_MASK), length - done);
        zeroFill(dst, dstOffset + done, dstOffset + done + len);
        done += len;
        continue;
      }
      const off = a & PAGE_MASK;
      const len = off + (length - done) <= PAGE_SIZE ? length - done : this.#run(index, a, length - done);
      if (off + len <= PAGE_SIZE && (len <= SMALL_COPY || len === PAGE_SIZE)) copyBytes(dst, dstOffset + done, this.#views[index]!, off, len);
      else copyFromBuffer(dst, dstOffset + done, this.#slabs[groupOf256(index)]!, (index & SLAB_MASK) * PAGE_SIZE + off, len);
      done += len;
    }
  }

  /**
   * Copies `length` bytes from `src` at `srcOffset` to `abs` (any number of pages, all inside
   * the memslot), allocating pages on first use, a run of contiguous pages per copy.
   */
  writeRange(abs: number, src: Uint8Array, srcOffset: number, length: number): void {
    this.#touchRange(abs, length);
    let done = 0;
    while (done < length) {
      const a = abs + done;
      const pfn = pageNumber(a);
      let index = this.#indexOf(pfn);
      // A fresh page is allocated here, in address order, so a range written for the first
      // time comes out contiguous (it is copied page by page this once).
      if (index < 0) {
        this.pageForWrite(pfn);
        index = this.#indexOf(pfn);
      }
      const off = a & PAGE_MASK;
      const len = off + (length - done) <= PAGE_SIZE ? length - done : this.#run(index, a, length - done);
      this.#storing(index, Math.ceil((off + len) / PAGE_SIZE));
      copyBytes(this.#slabBytes[groupOf256(index)]!, (index & SLAB_MASK) * PAGE_SIZE + off, src, srcOffset + done, len);
      done += len;
    }
  }

  /**
   * Marks page `pfn` as read by a translation: a later store into it bumps translationEpoch.
   * The mark lasts until that bump (the buffers then refill, marking again what they read).
   */
  watchForTranslation(pfn: number): void {
    if (this.#translationPages.has(pfn)) return;
    this.#translationPages.add(pfn);
    const index = this.#indexOf(pfn);
    if (index >= 0) this.#translationMarks[index] = 1;
  }

  /** Every cached translation is stale from now on (a store into a translation page). */
  invalidateTranslations(): void {
    this.translationEpoch++;
    for (const pfn of this.#translationPages) {
      const index = this.#indexOf(pfn);
      if (index >= 0) this.#translationMarks[index] = 0;
    }
    this.#translationPages.clear();
  }

  /** Called before a store into allocated pages [index, index + count). */
  #storing(index: number, count: number): void {
    if (this.#translationPages.size === 0) return;
    const marks = this.#translationMarks;
    for (let i = index; i < index + count; i++) {
      if (marks[i] !== 0) {
        this.invalidateTranslations();
        return;
      }
    }
  }

  /** The page's bytes for in-place reading; undefined when never written (all zero). */
  pageIfTouched(pfn: number): Uint8Array | undefined {
    this.touchSegment(pfn);
    return this.#lookup(pfn);
  }

  /** The page's bytes for writing, allocated on first use. Callers store into it. */
  pageForWrite(pfn: number): Uint8Array {
    this.touchSegment(pfn);
    const index = this.#indexOf(pfn);
    if (index >= 0) {
      this.#storing(index, 1);
      return this.#views[index]!;
    }
    // A translation may have read this page while it was all zeros.
    if (this.#translationPages.has(pfn)) this.invalidateTranslations();
    const fresh = this.#views.length;
    const slot = fresh & SLAB_MASK;
    if (slot === 0) {
      const slab = new ArrayBuffer(SLAB_PAGES * PAGE_SIZE);
      this.#slabs.push(slab);
      this.#slabBytes.push(new Uint8Array(slab));
      if (this.#translationMarks.length <= fresh) {
        this.#translationMarks = doubled(this.#translationMarks, new Uint8Array(fresh * 2));
        this.#runStart = doubled(this.#runStart, new Int32Array(fresh * 2));
        this.#runLast = doubled(this.#runLast, new Int32Array(fresh * 2));
      }
    }
    const page = this.#slabBytes[this.#slabBytes.length - 1]!.subarray(slot * PAGE_SIZE, (slot + 1) * PAGE_SIZE);
    this.#views.push(page);
    this.#index.set(pfn, fresh);
    const start = slot !== 0 && this.#lastPfn === pfn - 1 ? this.#runStart[fresh - 1]! : fresh;
    this.#lastPfn = pfn;
    this.#runStart[fresh] = start;
    this.#runLast[start] = fresh;
    return page;
  }

  /** Reads a big-endian u64 at absolute `abs` (8-aligned, in memory) as [high32, low32]. */
  readU64Parts(abs: number, out: Uint32Array): void {
    this.touchSegment(pageNumber(abs));
    const page = this.#lookup(pageNumber(abs));
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
    this.touchSegment(pageNumber(abs));
    const page = this.#lookup(pageNumber(abs));
    if (page === undefined) return 0;
    const o = abs & PAGE_MASK;
    return ((page[o]! << 24) | (page[o + 1]! << 16) | (page[o + 2]! << 8) | page[o + 3]!) >>> 0;
  }

  /** Reads one byte at absolute `abs` (in memory). */
  readU8(abs: number): number {
    this.touchSegment(pageNumber(abs));
    const page = this.#lookup(pageNumber(abs));
    return page === undefined ? 0 : page[abs & PAGE_MASK]!;
  }
}

