// LOGICAL_READ / LOGICAL_WRITE through a vcpu (docs/memop-semantics.md §4, §8): validation per profile, ASCE
// selection, then the range walked page fragment by page fragment. A check-only access tests
// keys inline; a real access first translates every fragment (LAP, DAT, addressing) and only
// then copies page by page under the key, so a key failure leaves earlier pages stored.
import { ERRNO, MEMOP, MEMOP_F, MEM_OP_MAX_SIZE, NUM_ACRS, PAGE_SIZE, PGM } from '../abi/constants.js';
import { hasFlag, hasFlagsOutside } from '../abi/flags.js';
import type { MemOpRequest } from '../contract.js';
import { translateAccessRegister, type ArContext, type ArTranslation } from './access-registers.js';
import {
  AS,
  addressSpaceControl,
  addressingMode,
  advance,
  asNumber,
  datEnabled,
  formatAddress,
  fromU64,
  toEffective,
  type Address64,
  type AddressingMode,
} from './address-space.js';
import { asceIsPrivate, emptyTranslation, type DatFacilities, type Translation } from './dat.js';
import { describeKeyRule, decideKeyRule } from './key-protection.js';
import { realToAbsolute } from './prefixing.js';
import type { EmulatedVcpu } from './vcpu.js';
import { PAGE_MASK, pageNumber } from './frame-numbers.js';

/** CR0 bits (low word). */
const CR0_LOW_ADDRESS_PROTECTION = 0x10000000; // bit 35
const CR0_FETCH_PROTECTION_OVERRIDE = 0x02000000; // bit 38
const CR0_STORAGE_PROTECTION_OVERRIDE = 0x01000000; // bit 39
const CR0_EDAT = 0x00800000; // bit 40
const ASCE_REAL = 0x20;

/** Why a PGM_PROTECTION happened: selects the TEID bits (docs/memop-semantics.md §8.9). */
const enum Protection {
  None = 0,
  LowAddress = 1,
  Key = 2,
  Dat = 3,
  AccessList = 4,
}

const TEID_B56 = 0x80n;
const TEID_B60 = 0x8n;
const TEID_B61 = 0x4n;
const FSI_STORE = 0x400n;
const FSI_FETCH = 0x800n;

/** 64 KiB touches at most 17 pages. */
const MAX_FRAGMENTS = MEM_OP_MAX_SIZE / PAGE_SIZE + 1;

/**
 * Per-access state, reused: the memop path allocates nothing while it succeeds. Each vcpu owns
 * one (see newLogicalAccess), never the module: an access in flight on one vcpu can then not
 * be changed by an access on another, and none of the code below runs the caller's
 * JavaScript (buffers are touched through src/typed-arrays.ts only), so nothing can re-enter
 * the same vcpu mid-access either.
 */
export interface LogicalAccess {
  readonly vcpu: EmulatedVcpu;
  isStore: boolean;
  key: number;
  ar: number;
  /** The exception access id the page walk reports (`ar`, or 0 in the pre-5.18 check-only walk). */
  walkAccessId: number;
  mode: AddressingMode;
  asc: number;
  fetchOverride: boolean;
  storageOverride: boolean;
  fragments: number;
  readonly abs: Float64Array;
  readonly effHi: Uint32Array;
  readonly effLo: Uint32Array;
  readonly len: Uint32Array;
  readonly ga: Address64;
  readonly translation: Translation;
  readonly arResult: ArTranslation;
  readonly datFacilities: DatFacilities;
  readonly arContext: ArContext;
}

type Access = LogicalAccess;

/** The scratch state of one vcpu's logical accesses. */
export function newLogicalAccess(vcpu: EmulatedVcpu): LogicalAccess {
  return {
    vcpu,
    isStore: false,
    key: 0,
    ar: 0,
    walkAccessId: 0,
    mode: 24,
    asc: 0,
    fetchOverride: false,
    storageOverride: false,
    fragments: 0,
    abs: new Float64Array(MAX_FRAGMENTS),
    effHi: new Uint32Array(MAX_FRAGMENTS),
    effLo: new Uint32Array(MAX_FRAGMENTS),
    len: new Uint32Array(MAX_FRAGMENTS),
    ga: { hi: 0, lo: 0 },
    translation: emptyTranslation(),
    arResult: { asceHi: 0, asceLo: 0, detail: '' },
    datFacilities: { edat1: false, edat2: false },
    arContext: { storage: vcpu.vm.storage, prefix: 0, cr: vcpu.cr, acrs: vcpu.ar, outsideMemory: PGM.ADDRESSING, fetchesMarkReferenceIn: vcpu.vm.keys },
  };
}

/** The kernel's argument checks (docs/memop-semantics.md §4.1); returns -errno or the access key (≥ 0). */
function validate(vcpu: EmulatedVcpu, req: MemOpRequest): number {
  const sw = vcpu.vm.switches;
  const allowed = MEMOP_F.CHECK_ONLY | MEMOP_F.INJECT_EXCEPTION | (sw.logicalKeys ? MEMOP_F.SKEY_PROTECTION : 0);
  const keyed = sw.logicalKeys && hasFlag(req.flags, MEMOP_F.SKEY_PROTECTION);
  if (sw.commonValidation) {
    if (hasFlagsOutside(req.flags, allowed) || req.size === 0) return -ERRNO.EINVAL;
    if (req.size > MEM_OP_MAX_SIZE) return -ERRNO.E2BIG;
    if (keyed && req.key > 15) return -ERRNO.EINVAL;
    if (req.ar >= NUM_ACRS) return -ERRNO.EINVAL;
    if (vcpu.isProtected) return -ERRNO.EINVAL;
  } else {
    if (hasFlagsOutside(req.flags, allowed) || req.size === 0 || req.ar >= NUM_ACRS) return -ERRNO.EINVAL;
    if (req.size > MEM_OP_MAX_SIZE) return -ERRNO.E2BIG;
    if (vcpu.isProtected) return -ERRNO.EINVAL;
    if (keyed && req.key > 15) return -ERRNO.EINVAL;
  }
  return keyed ? req.key : 0;
}

/**
 * LOGICAL_READ / LOGICAL_WRITE. One function on purpose, validation and walk together: it is
 * larger than V8 inlines, so the API layer calls it and keeps its own inlining budget for the
 * descriptor checks (split, V8 inlined the first part and then had no budget left for them).
 */
export function logicalMemop(vcpu: EmulatedVcpu, req: MemOpRequest): number {
  // The common request passes every check of every profile, in whatever order they run:
  // decided here at once, the full validation only for anything else.
  const { flags, size } = req;
  const key =
    (flags === 0 || (flags === MEMOP_F.SKEY_PROTECTION && req.key <= 15 && vcpu.vm.switches.logicalKeys === true)) &&
    size !== 0 && size <= MEM_OP_MAX_SIZE && req.ar < NUM_ACRS && vcpu.isProtected === false
      ? flags === 0 ? 0 : req.key
      : validate(vcpu, req);
  if (key < 0) return key;
  const isStore = req.op === MEMOP.LOGICAL_WRITE;
  const checkOnly = hasFlag(req.flags, MEMOP_F.CHECK_ONLY);
  if (!checkOnly && isStore && req.buf === null) return -ERRNO.EFAULT;

  const a = vcpu.logicalAccess;
  const { ga, translation, arResult } = a;
  const vm = vcpu.vm;
  const cr0 = vcpu.crLo[0]!;
  a.isStore = isStore;
  a.key = key;
  a.ar = req.ar;
  a.mode = addressingMode(vcpu.pswHi, vcpu.pswLo);
  a.asc = addressSpaceControl(vcpu.pswHi);
  const inject = hasFlag(req.flags, MEMOP_F.INJECT_EXCEPTION);
  const legacyCheck = checkOnly && vm.switches.legacyCheckOnly;
  a.walkAccessId = legacyCheck ? 0 : req.ar;
  fromU64(req.gaddr, ga);
  // check_gva_range hands the caller's address, not yet effective, to the ASCE selection, so an
  // access-register exception of a check-only access names that address in its TEID.
  const rawHi = ga.hi;
  const rawLo = ga.lo;
  toEffective(ga, a.mode);

  // ASCE selection, once per memop (docs/memop-semantics.md §8.3).
  const dat = datEnabled(vcpu.pswHi);
  let asceHi = 0;
  let asceLo = ASCE_REAL;
  if (dat) {
    if (a.asc === AS.ACCESS_REGISTER) {
      const code = translateAccessRegister(arContext(a), req.ar, isStore, arResult);
      if (code < 0) return code;
      if (code !== 0) {
        const teidRaw = checkOnly && !legacyCheck;
        return raise(a, inject, code, teidRaw ? rawHi : ga.hi, teidRaw ? rawLo : ga.lo, Protection.AccessList, false, arResult.detail, a.ar);
      }
      asceHi = arResult.asceHi;
      asceLo = arResult.asceLo;
    } else {
      const crIndex = a.asc === AS.PRIMARY ? 1 : a.asc === AS.SECONDARY ? 7 : 13;
      asceHi = vcpu.crHi[crIndex]!;
      asceLo = vcpu.crLo[crIndex]!;
    }
  }
  const privateSpace = dat && asceIsPrivate(asceLo);
  const lap = (cr0 & CR0_LOW_ADDRESS_PROTECTION) !== 0 && !privateSpace;
  a.fetchOverride = (cr0 & CR0_FETCH_PROTECTION_OVERRIDE) !== 0 && !privateSpace;
  a.storageOverride = (cr0 & CR0_STORAGE_PROTECTION_OVERRIDE) !== 0;
  // `=== true` on these fields: a bare truth test of a field V8 cannot type is a full ToBoolean.
  const edat1 = (cr0 & CR0_EDAT) !== 0 && vm.facilities.edat1 === true;
  const facilities = a.datFacilities;
  facilities.edat1 = edat1;
  facilities.edat2 = edat1 && vm.facilities.edat2 === true;
  const keysChecked = checkOnly && key !== 0;

  // Phase 1 (or the whole check-only walk): every fragment translated, in order.
  let offset = ga.lo & PAGE_MASK;
  let remaining = req.size;
  let n = 0;
  while (remaining > 0) {
    const len = Math.min(PAGE_SIZE - offset, remaining);
    toEffective(ga, a.mode);
    if (isStore && lap && ga.hi === 0 && (ga.lo & ~0x11ff) === 0) {
      return raise(a, inject, PGM.PROTECTION, ga.hi, ga.lo, Protection.LowAddress, false, 'low-address protection (CR0 bit 35)', a.walkAccessId);
    }
    let abs: number;
    if (dat) {
      const code = vcpu.tlb.translate(vm.storage, asceHi, asceLo, ga, isStore, vcpu.prefix, facilities, translation);
      markTableFetches(vcpu, translation);
      if (code !== 0 && !(legacyCheck && code === PGM.ADDRESSING && (asceLo & ASCE_REAL) !== 0)) {
        return raise(a, inject, code, ga.hi, ga.lo, translation.datProtected ? Protection.Dat : Protection.None, false, translation.detail, a.walkAccessId);
      }
      abs = translation.abs;
    } else {
      abs = realToAbsolute(asNumber(ga.hi, ga.lo), vcpu.prefix);
      // Before 5.18 the check-only walk built this addressing exception with code 0: no failure.
      if (!vm.storage.contains(abs) && !legacyCheck) {
        return raise(a, inject, PGM.ADDRESSING, ga.hi, ga.lo, Protection.None, false, `its absolute address is outside guest memory (size 0x${vm.storage.size.toString(16)})`, a.walkAccessId);
      }
    }
    a.abs[n] = abs;
    a.effHi[n] = ga.hi;
    a.effLo[n] = ga.lo;
    a.len[n] = len;
    if (keysChecked && !keyAllows(a, n)) {
      return raise(a, inject, PGM.PROTECTION, ga.hi, ga.lo, Protection.Key, false, keyReason(a, n), a.walkAccessId);
    }
    n++;
    advance(ga, len);
    remaining -= len;
    offset = 0;
  }
  a.fragments = n;
  if (checkOnly) return 0;
  return isStore ? storeFragments(a, req.buf!, inject) : fetchFragments(a, req.buf, inject);
}

/** Phase 2 of a store: page by page, each under the key; a refusal leaves earlier pages stored. */
function storeFragments(a: Access, src: Uint8Array, inject: boolean): number {
  let allowed = a.fragments;
  if (a.key !== 0) {
    for (let i = 0; i < a.fragments; i++) {
      if (!keyAllows(a, i)) {
        allowed = i;
        break;
      }
    }
  }
  copyFragments(a, src, allowed, true);
  if (allowed === a.fragments) return 0;
  return raise(a, inject, PGM.PROTECTION, a.effHi[allowed]!, a.effLo[allowed]!, Protection.Key, allowed > 0, keyReason(a, allowed), a.ar);
}

/** Phase 2 of a fetch: all keys first, so a refused read never touches the caller's buffer. */
function fetchFragments(a: Access, dst: Uint8Array | null, inject: boolean): number {
  if (a.key !== 0) {
    for (let i = 0; i < a.fragments; i++) {
      if (!keyAllows(a, i)) {
        // The kernel read the pages before the refused one into its bounce buffer.
        recordFetched(a, i);
        return raise(a, inject, PGM.PROTECTION, a.effHi[i]!, a.effLo[i]!, Protection.Key, false, keyReason(a, i), a.ar);
      }
    }
  }
  if (dst === null) {
    // The kernel read into its bounce buffer before the copy to the NULL pointer failed.
    recordFetched(a, a.fragments);
    return -ERRNO.EFAULT;
  }
  copyFragments(a, dst, a.fragments, false);
  return 0;
}

/**
 * Copies the first `count` fragments between guest storage and `bytes` and records the
 * access in their pages' keys. Fragments whose absolute addresses follow each other
 * (adjacent frames) go as one range: the storage copies contiguous pages at once.
 */
function copyFragments(a: Access, bytes: Uint8Array, count: number, isStore: boolean): void {
  const { storage, keys } = a.vcpu.vm;
  let done = 0;
  let i = 0;
  while (i < count) {
    const abs = a.abs[i]!;
    let len = a.len[i]!;
    keys.recordPage(pageNumber(abs), isStore);
    for (i++; i < count && a.abs[i] === abs + len; i++) {
      keys.recordPage(pageNumber(a.abs[i]!), isStore);
      len += a.len[i]!;
    }
    if ((abs & PAGE_MASK) + len <= PAGE_SIZE) storage.copyWithinPage(abs, bytes, done, len, isStore);
    else if (isStore) storage.writeRange(abs, bytes, done, len);
    else storage.readRange(abs, bytes, done, len);
    done += len;
  }
}

/**
 * The kernel read every table entry of the walk (those before a failure too) through the host
 * mapping, which sets R in the tables' keys (docs/spec-errata.md §9, §13). A walk the
 * translation buffer holds is marked from there; a walk it does not hold, from `translation`.
 */
function markTableFetches(vcpu: EmulatedVcpu, translation: Translation): void {
  const keys = vcpu.vm.keys;
  if (translation.tableSlot >= 0) vcpu.tlb.markTableFetches(translation.tableSlot, keys);
  else for (let i = 0; i < translation.tableReads; i++) keys.recordPage(translation.tablePages[i]!, false);
}

/** Reference bits of the pages of the first `count` fragments, which were fetched. */
function recordFetched(a: Access, count: number): void {
  const keys = a.vcpu.vm.keys;
  for (let i = 0; i < count; i++) keys.recordPage(pageNumber(a.abs[i]!), false);
}

/** Key-controlled protection for fragment `i`, with both overrides (docs/memop-semantics.md §8.7). */
function keyAllows(a: Access, i: number): boolean {
  const key = a.key;
  if (key === 0) return true;
  const storageKey = a.vcpu.vm.keys.get(pageNumber(a.abs[i]!));
  if (storageKey >> 4 === key) return true;
  if (!a.isStore) {
    if ((storageKey & 0x08) === 0) return true;
    if (a.fetchOverride && a.effHi[i] === 0 && a.effLo[i]! < 2048 && a.effLo[i]! + a.len[i]! <= 2048) return true;
  }
  return a.storageOverride && storageKey >> 4 === 9;
}

function keyReason(a: Access, i: number): string {
  const abs = a.abs[i]!;
  const page = abs - (abs & PAGE_MASK);
  const storageKey = a.vcpu.vm.keys.get(page / PAGE_SIZE);
  const overrides = { fetchProtectionOverride: a.fetchOverride, storageProtectionOverride: a.storageOverride };
  const rule = decideKeyRule(storageKey, a.key, a.isStore ? 'store' : 'fetch', overrides, a.effLo[i]!, a.len[i]!);
  return describeKeyRule(rule, storageKey, a.key, a.isStore ? 'store' : 'fetch', `page 0x${page.toString(16)} (absolute)`);
}

/**
 * Records the failure, queues the program interrupt when asked (docs/memop-semantics.md §8.9), and returns the
 * code. `terminating`: a store refused by a key after earlier pages were stored.
 */
function raise(
  a: Access,
  inject: boolean,
  code: number,
  hi: number,
  lo: number,
  protection: Protection,
  terminating: boolean,
  why: string,
  ar: number,
): number {
  const vcpu = a.vcpu;
  const what = `${a.isStore ? 'store to' : 'fetch from'} ${formatAddress(hi, lo)}`;
  vcpu.vm.faults.fail(code, protection === Protection.Key ? why.replace(/^(fetch|store) with key (\d+) (from|to) /, `${what} with key $2: `) : `${what}: ${why}`);
  if (inject) vcpu.pending = { code, teid: teidFor(a, code, hi, lo, protection, terminating), accessId: accessIdFor(code, ar) };
  return code;
}

function teidFor(a: Access, code: number, hi: number, lo: number, protection: Protection, terminating: boolean): bigint {
  const withAddress = (): bigint =>
    (BigInt(hi) << 32n) | BigInt((lo & ~0xfff) >>> 0) | (a.isStore ? FSI_STORE : FSI_FETCH) | BigInt(a.asc);
  switch (code) {
    case PGM.PROTECTION: {
      let bits = 0n;
      if (!terminating) {
        if (protection === Protection.LowAddress) bits = TEID_B56;
        else if (protection === Protection.Key) bits = TEID_B60;
        else if (protection === Protection.Dat) bits = TEID_B61;
        else if (protection === Protection.AccessList) bits = TEID_B60 | TEID_B61;
      }
      return withAddress() | bits;
    }
    case PGM.SEGMENT_TRANSLATION:
    case PGM.PAGE_TRANSLATION:
    case PGM.ASCE_TYPE:
    case PGM.REGION_FIRST_TRANS:
    case PGM.REGION_SECOND_TRANS:
    case PGM.REGION_THIRD_TRANS:
      return withAddress();
    default:
      return 0n;
  }
}

/** trans_exc stores the access id only for protection, translation and AR exceptions. */
function accessIdFor(code: number, ar: number): number {
  switch (code) {
    case PGM.ADDRESSING:
    case PGM.TRANSLATION_SPEC:
    case PGM.ALET_SPECIFICATION:
      return 0;
    default:
      return ar;
  }
}

function arContext(a: Access): ArContext {
  const vcpu = a.vcpu;
  const c = a.arContext;
  c.prefix = vcpu.prefix;
  if (vcpu.vm.switches.memopUsesHostAccessRegisters) {
    // The kernel stored the host thread's ARs over the guest's before reading the ALET.
    for (let n = 2; n < vcpu.ar.length; n++) vcpu.ar[n] = 0;
  }
  c.outsideMemory = vcpu.vm.switches.arTablesFaultOutsideMemory ? -ERRNO.EFAULT : PGM.ADDRESSING;
  return c;
}
