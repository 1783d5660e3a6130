// One storage-key byte per 4 KiB absolute page (ACC 0xF0, F 0x08, R 0x04, C 0x02, bit 7
// reserved), default 0, held sparsely per 1 MiB so that a huge guest costs nothing until keys
// are set. Also the VM's "uses keys" state that GET_SKEYS reports (spec §9).
const CHUNK_PAGES = 256;

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

  get(pfn: number): number {
    const chunk = this.#chunks.get(Math.floor(pfn / CHUNK_PAGES));
    return chunk === undefined ? 0 : chunk[pfn % CHUNK_PAGES]!;
  }

  set(pfn: number, key: number): void {
    const index = Math.floor(pfn / CHUNK_PAGES);
    let chunk = this.#chunks.get(index);
    if (chunk === undefined) {
      if (key === 0) return;
      chunk = new Uint8Array(CHUNK_PAGES);
      this.#chunks.set(index, chunk);
    }
    chunk[pfn % CHUNK_PAGES] = key;
  }

  /** Copies `out.length` keys starting at `startPfn` into `out`. */
  readInto(startPfn: number, out: Uint8Array): void {
    let i = 0;
    while (i < out.length) {
      const pfn = startPfn + i;
      const index = Math.floor(pfn / CHUNK_PAGES);
      const within = pfn % CHUNK_PAGES;
      const n = Math.min(CHUNK_PAGES - within, out.length - i);
      const chunk = this.#chunks.get(index);
      if (chunk === undefined) out.fill(0, i, i + n);
      else out.set(chunk.subarray(within, within + n), i);
      i += n;
    }
  }
}
