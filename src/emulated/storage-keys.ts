// One storage-key byte per 4 KiB absolute page (ACC 0xF0, F 0x08, R 0x04, C 0x02, bit 7
// reserved), default 0, held sparsely per 1 MiB so that a huge guest costs nothing until keys
// are set. Also the VM's "uses keys" state that GET_SKEYS reports (spec §9).
const CHUNK_PAGES = 256;
/** pfn & CHUNK_MASK, not pfn % CHUNK_PAGES: `%` of a double is a C call in V8. */
const CHUNK_MASK = CHUNK_PAGES - 1;

export const STORAGE_KEY = {
  ACC_MASK: 0xf0,
  FETCH_PROTECTION: 0x08,
  REFERENCE: 0x04,
  CHANGE: 0x02,
  RESERVED: 0x01,
} as const;

/** Whether key handling is on: shared by all VMs of a host process on older kernels. */
export interface KeyUsage {
  enabled: boolean;
}

export class StorageKeys {
  readonly #chunks = new Map<number, Uint8Array>();
  readonly #usage: KeyUsage;

  /** `usage` is this VM's own flag, or the process-wide one (profile switch keyUsePerProcess). */
  constructor(usage: KeyUsage = { enabled: false }) {
    this.#usage = usage;
  }

  /** False until SET_SKEYS (or a guest key instruction) enables key handling. */
  get usesKeys(): boolean {
    return this.#usage.enabled;
  }

  set usesKeys(value: boolean) {
    this.#usage.enabled = value;
  }

  // One-entry cache of the chunk last looked up (a range walk asks for neighbouring pages).
  // Chunks are never removed, so only the creation of the cached index's chunk updates it.
  #lastIndex = -1;
  #lastChunk: Uint8Array | undefined = undefined;

  #chunk(index: number): Uint8Array | undefined {
    if (index !== this.#lastIndex) {
      this.#lastIndex = index;
      this.#lastChunk = this.#chunks.get(index);
    }
    return this.#lastChunk;
  }

  #createChunk(index: number): Uint8Array {
    const chunk = new Uint8Array(CHUNK_PAGES);
    this.#chunks.set(index, chunk);
    if (index === this.#lastIndex) this.#lastChunk = chunk;
    return chunk;
  }

  get(pfn: number): number {
    const chunk = this.#chunk(Math.floor(pfn / CHUNK_PAGES));
    return chunk === undefined ? 0 : chunk[pfn & CHUNK_MASK]!;
  }

  set(pfn: number, key: number): void {
    const index = Math.floor(pfn / CHUNK_PAGES);
    let chunk = this.#chunk(index);
    if (chunk === undefined) {
      if (key === 0) return;
      chunk = this.#createChunk(index);
    }
    chunk[pfn & CHUNK_MASK] = key;
  }

  /**
   * The first page in [startPfn, endPfn) whose key refuses access key `accessKey` (1..15)
   * under the rule without overrides (key-protection.ts keyAllowsAccess), or -1: the same
   * answer as asking page by page, a chunk at a time.
   */
  firstRefused(startPfn: number, endPfn: number, accessKey: number, isStore: boolean): number {
    let pfn = startPfn;
    while (pfn < endPfn) {
      const index = Math.floor(pfn / CHUNK_PAGES);
      const within = pfn & CHUNK_MASK;
      const n = Math.min(CHUNK_PAGES - within, endPfn - pfn);
      const chunk = this.#chunk(index);
      if (chunk === undefined) {
        // Key 0: ACC 0 differs from accessKey, F is 0: fetches pass, stores do not.
        if (isStore) return pfn;
      } else {
        for (let i = within; i < within + n; i++) {
          const k = chunk[i]!;
          if (k >> 4 !== accessKey && (isStore || (k & STORAGE_KEY.FETCH_PROTECTION) !== 0)) return pfn + (i - within);
        }
      }
      pfn += n;
    }
    return -1;
  }

  /** set(startPfn + i, keys[i]) for every i, a chunk at a time. */
  writeFrom(startPfn: number, keys: Uint8Array): void {
    let i = 0;
    while (i < keys.length) {
      const pfn = startPfn + i;
      const index = Math.floor(pfn / CHUNK_PAGES);
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

  /** Copies `out.length` keys starting at `startPfn` into `out`. */
  readInto(startPfn: number, out: Uint8Array): void {
    let i = 0;
    while (i < out.length) {
      const pfn = startPfn + i;
      const index = Math.floor(pfn / CHUNK_PAGES);
      const within = pfn & CHUNK_MASK;
      const n = Math.min(CHUNK_PAGES - within, out.length - i);
      const chunk = this.#chunk(index);
      if (chunk === undefined) out.fill(0, i, i + n);
      else out.set(chunk.subarray(within, within + n), i);
      i += n;
    }
  }
}
