// One storage-key byte per 4 KiB absolute page (ACC 0xF0, F 0x08, R 0x04, C 0x02, bit 7
// reserved), default 0, held sparsely per 1 MiB so that a huge guest costs nothing until keys
// are set or pages are accessed. The reference and change bits follow the accesses memops
// make, as the hardware sets them in the real key (recordAccess). Also the VM's "uses keys"
// state that GET_SKEYS reports (docs/memop-semantics.md §9).
import { STORAGE_KEY } from '../abi/constants.js';
import { groupOf256 } from './frame-numbers.js';
import { keyAllowsAccess } from './key-protection.js';

/** 256: groupOf256 (frame-numbers.ts) divides by it. */
const CHUNK_PAGES = 256;
/** pfn & CHUNK_MASK, not pfn & CHUNK_MASK: `%` of a double is a C call in V8. */
const CHUNK_MASK = CHUNK_PAGES - 1;
const CHUNKS_PER_SLAB = 256;

/** Whether key handling is on: shared by all VMs of a host process on older kernels. */
export interface KeyUsage {
  enabled: boolean;
}

const REFERENCE_AND_CHANGE = STORAGE_KEY.REFERENCE | STORAGE_KEY.CHANGE;
const FETCH_PROTECTION = STORAGE_KEY.FETCH_PROTECTION;

export class StorageKeys {
  readonly #chunks = new Map<number, Uint8Array>();
  /** Chunks' bytes as 32-bit words, for those a long range check met: four pages a step. */
  readonly #chunkWords = new Map<number, Uint32Array>();
  readonly #usage: KeyUsage;
  /**
   * Moves whenever a key is stored (which may clear R or C) or what a fetch marks changes:
   * marks made under the same value are still there (the translation buffer uses it to skip
   * marking the same table pages again).
   */
  markEpoch = 0;
  readonly #firstAccessWithoutKeysMarksChange: boolean;

  /**
   * `usage` is this VM's own flag, or the process-wide one (profile switch keyUsePerProcess).
   * `firstAccessWithoutKeysMarksChange`: profile switch of the same name.
   */
  constructor(usage: KeyUsage = { enabled: false }, firstAccessWithoutKeysMarksChange = false) {
    this.#usage = usage;
    this.#firstAccessWithoutKeysMarksChange = firstAccessWithoutKeysMarksChange;
    this.#updateFetchBits();
  }

  /**
   * What a fetch marks, kept up to date by the usesKeys setter so the hot path reads one
   * field. Only a per-VM flag can switch it (the switch is false where the flag is shared).
   */
  #fetchBits: number = STORAGE_KEY.REFERENCE;

  #updateFetchBits(): void {
    this.#fetchBits = this.#firstAccessWithoutKeysMarksChange && !this.#usage.enabled ? REFERENCE_AND_CHANGE : STORAGE_KEY.REFERENCE;
  }

  /** False until SET_SKEYS (or a guest key instruction) enables key handling. */
  get usesKeys(): boolean {
    return this.#usage.enabled;
  }

  set usesKeys(value: boolean) {
    this.#usage.enabled = value;
    this.#updateFetchBits();
    this.markEpoch++;
  }

  // One-entry cache of the chunk last looked up (a range walk asks for neighbouring pages).
  // Chunks are never removed, so only the creation of the cached index's chunk updates it.
  #lastIndex = -1;
  #lastChunk: Uint8Array | undefined = undefined;
  #lastWords: Uint32Array | undefined = undefined;

  #chunk(index: number): Uint8Array | undefined {
    if (index !== this.#lastIndex) {
      this.#lastIndex = index;
      this.#lastChunk = this.#chunks.get(index);
      this.#lastWords = undefined;
    }
    return this.#lastChunk;
  }

  // Chunks are views into shared slabs: every accessed MiB gets one (R/C recording), and a
  // view costs far less than an ArrayBuffer of its own (touched-memory goal in bench/).
  #slab: ArrayBuffer | null = null;
  #slabUsed = CHUNKS_PER_SLAB;

  #createChunk(index: number): Uint8Array {
    if (this.#slabUsed === CHUNKS_PER_SLAB) {
      this.#slab = new ArrayBuffer(CHUNKS_PER_SLAB * CHUNK_PAGES);
      this.#slabUsed = 0;
    }
    const chunk = new Uint8Array(this.#slab!, this.#slabUsed++ * CHUNK_PAGES, CHUNK_PAGES);
    this.#chunks.set(index, chunk);
    if (index === this.#lastIndex) {
      this.#lastChunk = chunk;
      this.#lastWords = undefined;
    }
    return chunk;
  }

  /**
   * The words view of the chunk `#chunk(index)` just returned, made on first need: a guest
   * touched one page per MiB (the bench's touched-memory row) never pays for it.
   */
  #wordsOfLastChunk(index: number, chunk: Uint8Array): Uint32Array {
    let words = this.#lastWords ?? this.#chunkWords.get(index);
    if (words === undefined) {
      words = new Uint32Array(chunk.buffer, chunk.byteOffset, CHUNK_PAGES / 4);
      this.#chunkWords.set(index, words);
    }
    this.#lastWords = words;
    return words;
  }

  get(pfn: number): number {
    const chunk = this.#chunk(groupOf256(pfn));
    return chunk === undefined ? 0 : chunk[pfn & CHUNK_MASK]!;
  }

  set(pfn: number, key: number): void {
    this.markEpoch++;
    const index = groupOf256(pfn);
    let chunk = this.#chunk(index);
    if (chunk === undefined) {
      if (key === 0) return;
      chunk = this.#createChunk(index);
    }
    chunk[pfn & CHUNK_MASK] = key;
  }

  /**
   * An access of pages [startPfn, endPfn) under access key `accessKey` (0..15) with the rule
   * without overrides (key-protection.ts keyAllowsAccess): returns the first page whose key
   * refuses it, or -1, and marks the pages before that one (all of them when none refuses) as
   * recordAccess does, in the same pass.
   */
  accessRange(startPfn: number, endPfn: number, accessKey: number, isStore: boolean): number {
    const bits = isStore ? REFERENCE_AND_CHANGE : this.#fetchBits;
    let pfn = startPfn;
    while (pfn < endPfn) {
      const index = groupOf256(pfn);
      const base = index * CHUNK_PAGES;
      const within = pfn - base;
      const n = Math.min(CHUNK_PAGES - within, endPfn - pfn);
      let chunk = this.#chunk(index);
      if (chunk === undefined) {
        // Key 0: ACC 0 differs from any access key 1..15 and F is 0: fetches pass, stores do not.
        if (accessKey !== 0 && isStore) return pfn;
        chunk = this.#createChunk(index);
      }
      let i = within;
      const end = within + n;
      if ((i & 3) === 0 && n >= 8) {
        // Four pages a step while all four keys' ACC is the access key (or the key is 0):
        // each is then allowed whatever its F, and gets its bits. The first other group, and
        // what is left, go page by page below, which finds a refusal where a walk would.
        const words = this.#wordsOfLastChunk(index, chunk);
        const sameAcc = (accessKey * 0x10101010) >>> 0;
        const allBits = bits * 0x01010101;
        for (; i + 4 <= end; i += 4) {
          const w = words[i >> 2]!;
          if (accessKey !== 0 && (w & 0xf0f0f0f0) >>> 0 !== sameAcc) break;
          words[i >> 2] = w | allBits;
        }
      }
      for (; i < end; i++) {
        const k = chunk[i]!;
        if (!keyAllowsAccess(k, accessKey, isStore)) return base + i;
        chunk[i] = k | bits;
      }
      pfn += n;
    }
    return -1;
  }

  /**
   * accessRange of the one page `pfn`: true when its key allows the access, which is then
   * recorded; false (nothing marked) when it refuses. The small access's whole key work.
   */
  accessPage(pfn: number, accessKey: number, isStore: boolean): boolean {
    const index = groupOf256(pfn);
    const chunk = this.#chunk(index) ?? this.#createChunk(index);
    const i = pfn - index * CHUNK_PAGES;
    const k = chunk[i]!;
    // keyAllowsAccess written out: a call here left V8 no inlining budget for the small
    // memop's copy (+5 ns on an 8-byte access, bench/).
    if (accessKey !== 0 && k >> 4 !== accessKey && (isStore || (k & FETCH_PROTECTION) !== 0)) return false;
    chunk[i] = k | (isStore ? REFERENCE_AND_CHANGE : this.#fetchBits);
    return true;
  }

  /** set(startPfn + i, keys[i]) for every i, a chunk at a time. */
  writeFrom(startPfn: number, keys: Uint8Array): void {
    this.markEpoch++;
    let i = 0;
    while (i < keys.length) {
      const pfn = startPfn + i;
      const index = groupOf256(pfn);
      const within = pfn & CHUNK_MASK;
      const n = Math.min(CHUNK_PAGES - within, keys.length - i);
      let chunk = this.#chunk(index);
      if (chunk === undefined) {
        // As set(): a chunk is made only for a non-zero key.
        let any = false;
        for (let k = i; k < i + n; k++) {
          if (keys[k] !== 0) {
            any = true;
            break;
          }
        }
        if (!any) {
          i += n;
          continue;
        }
        chunk = this.#createChunk(index);
      }
      chunk.set(keys.subarray(i, i + n), within);
      i += n;
    }
  }

  /**
   * Pages [startPfn, endPfn) were fetched from (R) or stored into (R and C). While a VM of a
   * profile with firstAccessWithoutKeysMarksChange has not enabled keys, every access marks
   * both: the host zeroes a page when it is first touched, and that store is the C.
   */
  recordAccess(startPfn: number, endPfn: number, isStore: boolean): void {
    this.accessRange(startPfn, endPfn, 0, isStore);
  }

  /** recordAccess of the one page `pfn` (the per-fragment call of logical accesses and cmpxchg). */
  recordPage(pfn: number, isStore: boolean): void {
    this.accessPage(pfn, 0, isStore);
  }

  /** RRBE on one page: clears R, keeps C; returns the old R and C bits in their key positions. */
  resetReference(pfn: number): number {
    const key = this.get(pfn);
    if ((key & STORAGE_KEY.REFERENCE) !== 0) this.set(pfn, key & ~STORAGE_KEY.REFERENCE);
    return key & REFERENCE_AND_CHANGE;
  }

  /** Copies `out.length` keys starting at `startPfn` into `out`. */
  readInto(startPfn: number, out: Uint8Array): void {
    let i = 0;
    while (i < out.length) {
      const pfn = startPfn + i;
      const index = groupOf256(pfn);
      const within = pfn & CHUNK_MASK;
      const n = Math.min(CHUNK_PAGES - within, out.length - i);
      const chunk = this.#chunk(index);
      if (chunk === undefined) out.fill(0, i, i + n);
      else out.set(chunk.subarray(within, within + n), i);
      i += n;
    }
  }
}
