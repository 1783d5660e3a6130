// A translation-lookaside buffer for a vcpu's logical accesses: the frames of recent DAT walks,
// so that an access to a page translated before skips the walk. The kernel walks the guest
// tables on every memop; this buffer must never make an answer differ from such a walk:
// - an entry is tagged with everything the walk read outside guest memory: the ASCE, the
//   virtual page, EDAT-1/2 and the prefix (which relocates a 4 KiB frame);
// - what it read inside guest memory (table entries) is watched by the storage: a store into
//   any page a walk read from bumps storage.translationEpoch, and the buffer then empties;
// - the vcpu also empties it whenever its state changes (PSW, CRs, ARs, prefix, reset).
// Storage keys are not part of a translation (they are checked on every access after it), so
// key changes leave the buffer alone; a hit reports the table pages its walk read, as a walk
// would, so that every memop marks them again as the kernel's uncached walk does. Only walks
// that reached a frame are kept; the checks that depend on the access (DAT protection for a
// store, the frame inside memory) run again on every hit. Real-space ASCEs are not buffered: they have no walk to save.
import type { Address64 } from './address-space.js';
import { MAX_TABLE_READS, asceIsReal, finishTranslation, translate, type DatFacilities, type Translation } from './dat.js';
import type { AbsoluteStorage } from './storage.js';
import type { StorageKeys } from './storage-keys.js';

/** Direct-mapped; a power of two. 256 pages cover 1 MiB of distinct virtual pages per space. */
const ENTRIES = 256;
const SLOT_MASK = ENTRIES - 1;
const EDAT1 = 1;
const EDAT2 = 2;

export class TranslationBuffer {
  /** storage.translationEpoch the entries were filled under. */
  #epoch = -1;
  readonly #valid = new Uint8Array(ENTRIES);
  readonly #asceHi = new Uint32Array(ENTRIES);
  readonly #asceLo = new Uint32Array(ENTRIES);
  readonly #vaHi = new Uint32Array(ENTRIES);
  readonly #vaPage = new Uint32Array(ENTRIES);
  readonly #prefix = new Uint32Array(ENTRIES);
  readonly #edat = new Uint8Array(ENTRIES);
  /** The frame's absolute address of the page's byte 0 (may be ≥ 2^53: then Infinity). */
  readonly #absPage = new Float64Array(ENTRIES);
  /** A protection bit was set in some table entry of the walk (DAT protection). */
  readonly #protected = new Uint8Array(ENTRIES);
  /** The table pages the walk read (MAX_TABLE_READS per entry) and how many: a hit reports them again. */
  readonly #tablePages = new Float64Array(ENTRIES * MAX_TABLE_READS);
  readonly #tableReads = new Uint8Array(ENTRIES);
  /** StorageKeys.markEpoch when the entry's table pages were last marked (-1: not since it was filled). */
  readonly #markedAt = new Float64Array(ENTRIES).fill(-1);
  /** Lookups answered without a walk, and walks; for tests and the benchmark. */
  hits = 0;
  walks = 0;

  /** Drops every entry. */
  flush(): void {
    this.#valid.fill(0);
  }

  /** dat.ts translate() with the same arguments and the same answer, walking only on a miss. */
  translate(
    storage: AbsoluteStorage,
    asceHi: number,
    asceLo: number,
    va: Address64,
    isStore: boolean,
    prefix: number,
    facilities: DatFacilities,
    out: Translation,
  ): number {
    if (asceIsReal(asceLo)) return translate(storage, asceHi, asceLo, va, isStore, prefix, facilities, out);
    if (this.#epoch !== storage.translationEpoch) {
      this.#valid.fill(0);
      this.#epoch = storage.translationEpoch;
    }
    const vaHi = va.hi;
    const vaPage = (va.lo & 0xfffff000) >>> 0;
    const edat = (facilities.edat1 === true ? EDAT1 : 0) | (facilities.edat2 === true ? EDAT2 : 0);
    const slot = ((vaPage >>> 12) ^ vaHi ^ (asceLo >>> 12)) & SLOT_MASK;
    if (
      this.#valid[slot] === 1 &&
      this.#vaPage[slot] === vaPage &&
      this.#vaHi[slot] === vaHi &&
      this.#asceLo[slot] === asceLo &&
      this.#asceHi[slot] === asceHi &&
      this.#prefix[slot] === prefix &&
      this.#edat[slot] === edat
    ) {
      this.hits++;
      out.datProtected = false;
      out.abs = this.#absPage[slot]! + (va.lo & 0xfff);
      // The entry keeps its walk's table pages; markTableFetches reads them from here.
      out.tableReads = this.#tableReads[slot]!;
      out.tableSlot = slot;
      return finishTranslation(storage, isStore, this.#protected[slot] === 1, out);
    }
    this.walks++;
    const code = translate(storage, asceHi, asceLo, va, isStore, prefix, facilities, out);
    if (out.abs !== -1) {
      // The walk reached a frame (a refusal after that is re-decided on every hit).
      this.#valid[slot] = 1;
      this.#vaPage[slot] = vaPage;
      this.#vaHi[slot] = vaHi;
      this.#asceLo[slot] = asceLo;
      this.#asceHi[slot] = asceHi;
      this.#prefix[slot] = prefix;
      this.#edat[slot] = edat;
      this.#absPage[slot] = out.abs - (va.lo & 0xfff);
      this.#protected[slot] = out.pageProtected ? 1 : 0;
      this.#tableReads[slot] = out.tableReads;
      for (let i = 0; i < out.tableReads; i++) this.#tablePages[slot * MAX_TABLE_READS + i] = out.tablePages[i]!;
      this.#markedAt[slot] = -1;
      out.tableSlot = slot;
    }
    return code;
  }

  /**
   * Sets R in `keys` on the table pages the walk of entry `slot` read, as the kernel's own
   * walk does on every memop; skipped when they were marked and no key was stored since
   * (StorageKeys.markEpoch), since marking again would change nothing.
   */
  markTableFetches(slot: number, keys: StorageKeys): void {
    if (this.#markedAt[slot] === keys.markEpoch) return;
    const reads = this.#tableReads[slot]!;
    for (let i = 0; i < reads; i++) keys.recordPage(this.#tablePages[slot * MAX_TABLE_READS + i]!, false);
    this.#markedAt[slot] = keys.markEpoch;
  }
}
