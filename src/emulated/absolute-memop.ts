// KVM_S390_MEM_OP on the vm fd: ABSOLUTE_READ / ABSOLUTE_WRITE / ABSOLUTE_CMPXCHG
// (docs/memop-semantics.md §5, §6). Absolute storage: no prefixing, no DAT, no low-address protection, no
// overrides, no injection. Validation order and the check-only walk depend on the profile.
import { ERRNO, MEMOP, MEMOP_F, MEM_OP_MAX_SIZE, PAGE_SIZE, PGM, CMPXCHG_MAX_SIZE } from '../abi/constants.js';
import { hasFlag, hasFlagsOutside } from '../abi/flags.js';
import type { MemOpRequest } from '../contract.js';
import type { ProfileSwitches } from './profiles.js';
import type { AbsoluteStorage } from './storage.js';
import type { StorageKeys } from './storage-keys.js';
import { describeKeyRule, keyAllowsAccess } from './key-protection.js';
import { type FaultRecorder, hex } from './faults.js';
import { byteLengthOf, zeroFill } from '../typed-arrays.js';
import { copyBytes } from './bytes.js';
import { checkBuffersHold } from './buffers.js';
import { PAGE_MASK, pageNumber } from './frame-numbers.js';

export interface AbsoluteMachine {
  readonly storage: AbsoluteStorage;
  readonly keys: StorageKeys;
  readonly switches: ProfileSwitches;
  readonly faults: FaultRecorder;
}

// Module constants, not MEMOP.* property loads, on the path V8 inlines.
const { ABSOLUTE_READ, ABSOLUTE_WRITE } = MEMOP;
const { SKEY_PROTECTION } = MEMOP_F;
const RW_FLAGS = MEMOP_F.CHECK_ONLY | MEMOP_F.SKEY_PROTECTION;

/** The shared size/flags/key validation; returns -errno, or the effective access key (≥ 0). */
function validateCommon(req: MemOpRequest, allowedFlags: number): number {
  if (hasFlagsOutside(req.flags, allowedFlags) || req.size === 0) return -ERRNO.EINVAL;
  if (req.size > MEM_OP_MAX_SIZE) return -ERRNO.E2BIG;
  if (hasFlag(req.flags, MEMOP_F.SKEY_PROTECTION)) return req.key > 15 ? -ERRNO.EINVAL : req.key;
  return 0;
}

/** Absolute address as a number; addresses ≥ 2^53 lose low bits but are never in memory. */
function absoluteNumber(gaddr: number | bigint): number {
  return typeof gaddr === 'number' ? gaddr : Number(gaddr);
}

/**
 * KVM_S390_MEM_OP on the vm fd. The common access is decided first, at once: ABSOLUTE_READ or
 * ABSOLUTE_WRITE with flags 0 or SKEY_PROTECTION, a buffer that holds it and no `old`, every
 * byte inside guest memory and every page's key allowing it. Such an access succeeds on every
 * profile that has the vm memop, whatever order its checks run in, so it skips the profile's
 * validation sequence. The key check is the full path's and records R/C as it goes; a refusal
 * leaves the marks it made (the full path then makes the same ones again).
 *
 * One function on purpose: it is larger than V8 inlines (460 bytes of bytecode), so the API
 * layer calls it, and V8 spends this call's own inlining budget on what the fast path calls
 * (keys, storage, copy). Split into smaller functions, V8 inlined them into the caller until
 * its budget ran out and an 8-byte access paid for several calls (bench/).
 */
export function vmMemop(m: AbsoluteMachine, req: MemOpRequest): number {
  const { op, gaddr, size, flags, buf } = req;
  const fastKey = flags === 0 ? 0 : flags === SKEY_PROTECTION ? req.key : 16;
  const fastStore = op === ABSOLUTE_WRITE;
  if (
    typeof gaddr === 'number' && buf !== null && req.old === null && fastKey <= 15 && size !== 0 &&
    size <= MEM_OP_MAX_SIZE && (fastStore || op === ABSOLUTE_READ) && gaddr + size <= m.storage.size &&
    // `=== true`: a bare truth test of a field V8 cannot type is a full ToBoolean (map loads).
    byteLengthOf(buf) >= size && m.switches.vmMemop === true
  ) {
    if ((gaddr & PAGE_MASK) + size <= PAGE_SIZE) {
      // Within one page: most accesses a VMM makes.
      if (m.keys.accessPage(pageNumber(gaddr), fastKey, fastStore)) {
        m.faults.clear();
        m.storage.copyWithinPage(gaddr, buf, 0, size, fastStore);
        return 0;
      }
    } else if (m.keys.accessRange(pageNumber(gaddr), pageNumber(gaddr + size - 1) + 1, fastKey, fastStore) < 0) {
      m.faults.clear();
      if (fastStore) m.storage.writeRange(gaddr, buf, 0, size);
      else m.storage.readRange(gaddr, buf, 0, size);
      return 0;
    }
  }
  checkBuffersHold(req);
  m.faults.clear();
  if (!m.switches.vmMemop) return -ERRNO.ENOTTY;
  const isRw = req.op === MEMOP.ABSOLUTE_READ || req.op === MEMOP.ABSOLUTE_WRITE;
  const isCmpxchg = req.op === MEMOP.ABSOLUTE_CMPXCHG && (m.switches.memopExtension & 2) !== 0;
  if (m.switches.vmOpCheckedFirst) {
    if (isRw) return absoluteReadWrite(m, req);
    if (isCmpxchg) return absoluteCmpxchg(m, req);
    return -ERRNO.EINVAL;
  }
  // 5.18–6.2: one validation for every op, the first-byte pre-check, then the op switch.
  const key = validateCommon(req, RW_FLAGS);
  if (key < 0) return key;
  if (!m.storage.contains(absoluteNumber(req.gaddr))) {
    return m.faults.fail(PGM.ADDRESSING, `absolute ${hex(req.gaddr)} is outside guest memory (size ${hex(m.storage.size)})`);
  }
  if (!isRw) return -ERRNO.EINVAL;
  return absoluteAccess(m, req, key);
}

function absoluteReadWrite(m: AbsoluteMachine, req: MemOpRequest): number {
  const key = validateCommon(req, RW_FLAGS);
  if (key < 0) return key;
  if (m.switches.absoluteFirstBytePrecheck && !m.storage.contains(absoluteNumber(req.gaddr))) {
    return m.faults.fail(PGM.ADDRESSING, `absolute ${hex(req.gaddr)} is outside guest memory (size ${hex(m.storage.size)})`);
  }
  return absoluteAccess(m, req, key);
}

function outsideMemory(m: AbsoluteMachine, abs: number, isStore: boolean): number {
  return m.faults.fail(
    PGM.ADDRESSING,
    `${isStore ? 'store to' : 'fetch from'} absolute ${hex(abs)}: outside guest memory (size ${hex(m.storage.size)})`,
  );
}

function keyRefused(m: AbsoluteMachine, abs: number, key: number, isStore: boolean): number {
  const pageAddress = abs - (abs & PAGE_MASK);
  const storageKey = m.keys.get(pageAddress / PAGE_SIZE);
  const mode = isStore ? 'store' : 'fetch';
  return m.faults.fail(
    PGM.PROTECTION,
    describeKeyRule('refused', storageKey, key, mode, `absolute page ${hex(pageAddress)}`) +
      ' (absolute accesses have no overrides)',
  );
}

/** ABSOLUTE_READ / ABSOLUTE_WRITE after validation. */
function absoluteAccess(m: AbsoluteMachine, req: MemOpRequest, key: number): number {
  const isStore = req.op === MEMOP.ABSOLUTE_WRITE;
  const start = absoluteNumber(req.gaddr);
  const { storage, keys } = m;
  if (hasFlag(req.flags, MEMOP_F.CHECK_ONLY)) return checkAbsoluteRange(m, start, req.size, key, isStore);
  if (isStore && req.buf === null) return -ERRNO.EFAULT;

  // The first fragment refused, as a fragment-by-fragment walk would find it: a fragment is
  // outside memory when it starts at or after the memslot's end (after the first fragment,
  // fragments start on page boundaries: the first outside one starts at memEnd), otherwise
  // its page's key decides. A read has no side effect on the guest, so it copies
  // only when none is refused: a failed read leaves `buf` untouched, exactly as the kernel's
  // bounce buffer. A write stores the fragments before the refused one, as the kernel does.
  // The copies go in runs of contiguous pages (storage.readRange/writeRange).
  const memEnd = Math.ceil(storage.size / PAGE_SIZE) * PAGE_SIZE;
  const end = start + req.size;
  let okEnd = start;
  let result = 0;
  if (!storage.contains(start)) {
    result = outsideMemory(m, start, isStore);
  } else {
    okEnd = Math.min(end, memEnd);
    // The kernel accesses page by page: the pages before a refused one were read (into its
    // bounce buffer) or stored, and their keys record it.
    const refused = keys.accessRange(pageNumber(start), pageNumber(okEnd - 1) + 1, key, isStore);
    if (refused >= 0) {
      okEnd = Math.max(start, refused * PAGE_SIZE);
      result = keyRefused(m, okEnd, key, isStore);
    }
    if (result === 0 && okEnd < end) result = outsideMemory(m, okEnd, isStore);
  }
  const done = okEnd - start;
  if (!isStore) {
    // The kernel read the pages before a refusal, or all of them before failing to copy them
    // out to a NULL buffer: the host faulted them in.
    if (result !== 0 || req.buf === null) {
      if (done > 0) storage.touchRange(start, done);
      return result !== 0 ? result : -ERRNO.EFAULT;
    }
    storage.readRange(start, req.buf, 0, req.size);
    return 0;
  }
  if (done > 0) storage.writeRange(start, req.buf!, 0, done);
  return result;
}

/** CHECK_ONLY walk over absolute storage (docs/memop-semantics.md §5.2, check_gpa_range). */
function checkAbsoluteRange(m: AbsoluteMachine, start: number, size: number, key: number, isStore: boolean): number {
  const skipMemslotForKeyZero = m.switches.absoluteCheckKeyZeroSkipsMemslot;
  let abs = start;
  let done = 0;
  while (done < size) {
    const len = Math.min(PAGE_SIZE - (abs & PAGE_MASK), size - done);
    if (!(key === 0 && skipMemslotForKeyZero)) {
      if (!m.storage.contains(abs)) return outsideMemory(m, abs, isStore);
      if (!keyAllowsAccess(m.keys.get(pageNumber(abs)), key, isStore)) {
        return keyRefused(m, abs, key, isStore);
      }
    }
    abs += len;
    done += len;
  }
  return 0;
}

const CMPXCHG_SIZES = new Set([1, 2, 4, 8, 16]);

/** ABSOLUTE_CMPXCHG (docs/memop-semantics.md §6). */
function absoluteCmpxchg(m: AbsoluteMachine, req: MemOpRequest): number {
  const key = validateCommon(req, MEMOP_F.SKEY_PROTECTION);
  if (key < 0) return key;
  if (req.size > CMPXCHG_MAX_SIZE) return -ERRNO.EINVAL;
  if (req.buf === null || req.old === null) return -ERRNO.EFAULT;
  const abs = absoluteNumber(req.gaddr);
  const lowByte = typeof req.gaddr === 'number' ? req.gaddr & 0xff : Number(req.gaddr & 0xffn);
  const misaligned = (lowByte & (req.size - 1)) !== 0;
  if (m.switches.cmpxchgNewestOrder) {
    if (misaligned) return -ERRNO.EINVAL;
    if (!m.storage.contains(abs)) return outsideMemory(m, abs, true);
  } else {
    if (!m.storage.contains(abs)) return outsideMemory(m, abs, true);
    if (misaligned) return -ERRNO.EINVAL;
  }
  if (!CMPXCHG_SIZES.has(req.size)) return -ERRNO.EINVAL;

  const size = req.size;
  const old = req.old;
  // Protection is raised whether or not the comparison would succeed (store-type access).
  if (key !== 0 && !keyAllowsAccess(m.keys.get(pageNumber(abs)), key, true)) {
    zeroFill(old, 0, size);
    return keyRefused(m, abs, key, true);
  }
  const offset = abs & PAGE_MASK;
  const current = m.storage.pageIfTouched(pageNumber(abs));
  let equal = true;
  for (let i = 0; i < size; i++) {
    if ((current === undefined ? 0 : current[offset + i]!) !== old[i]) {
      equal = false;
      break;
    }
  }
  // COMPARE AND SWAP is a store-type access whether or not it exchanges: the real kernels
  // (6.12, 7.2 in the test bed) report R and C after an unequal comparison too.
  m.keys.recordPage(pageNumber(abs), true);
  if (equal) {
    m.storage.copyWithinPage(abs, req.buf, 0, size, true);
  } else if (current === undefined) {
    zeroFill(old, 0, size);
  } else {
    copyBytes(old, 0, current, offset, size);
  }
  return 0;
}
