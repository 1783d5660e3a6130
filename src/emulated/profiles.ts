// The differences between kernel versions, as one table of switches (docs/memop-semantics.md §0.1, §13).
import type { KernelProfile } from '../contract.js';

export interface ProfileSwitches {
  /** KVM_CAP_S390_MEM_OP_EXTENSION answer: 0, 1 (base) or 3 (base + cmpxchg). */
  readonly memopExtension: number;
  /** KVM_CAP_S390_KEYOP exists. */
  readonly keyop: boolean;
  /** The vm fd understands KVM_S390_MEM_OP at all (else the ioctl is unknown: ENOTTY). */
  readonly vmMemop: boolean;
  /** Logical memops understand SKEY_PROTECTION and check storage keys. */
  readonly logicalKeys: boolean;
  /**
   * ≥6.3 common validation: logical memops check E2BIG, key and then `ar` separately.
   * Before: one combined EINVAL for flags/size 0/ar first, then E2BIG, PV, key (§4.1).
   */
  readonly commonValidation: boolean;
  /** ≥6.3: vm memop dispatches on op first (EINVAL) before size checks; 5.18–6.2 last (§5.1). */
  readonly vmOpCheckedFirst: boolean;
  /** Absolute ops answer 5 when the first byte is outside memory, before anything else (§5.1 step 4). */
  readonly absoluteFirstBytePrecheck: boolean;
  /** Absolute check-only with key 0 succeeds per fragment without a memslot check (§5.2). */
  readonly absoluteCheckKeyZeroSkipsMemslot: boolean;
  /** Cmpxchg validation order of the gmap rewrite (§6.1) instead of the classic one. */
  readonly cmpxchgNewestOrder: boolean;
  /** SET_SKEYS rejects a reserved bit in any byte before changing any key (§9). */
  readonly setSkeysCheckAllFirst: boolean;
  /**
   * Check-only logical accesses go page by page through the old guest_translate_address
   * (gaccess.c before the 5.18 rewrite into guest_range_to_gpas): the exception access id of
   * LAP and DAT exceptions is 0 instead of `ar`, and an addressing exception of a real
   * translation (DAT off, or a real-space ASCE) is built with code 0, so the check passes.
   */
  readonly legacyCheckOnly: boolean;
  /**
   * A table of access-register translation (ALD, ALE, ASTE, authority table) outside guest
   * memory makes the memop fail with -EFAULT: read_guest_real went to kvm_read_guest until
   * "KVM: s390: gaccess: Check if guest address is in memslot" (6.12, also taken by stable
   * trees) made access_guest_real answer PGM_ADDRESSING.
   */
  readonly arTablesFaultOutsideMemory: boolean;
  /**
   * "Uses storage keys" belongs to the host process (mm_uses_skeys(current->mm)), so one VM
   * enabling keys makes GET_SKEYS of every VM of that process return keys. The gmap rewrite
   * made it per VM (gmap->uses_skeys).
   */
  readonly keyUsePerProcess: boolean;
  /**
   * While the VM has not enabled storage keys, an access marks R and C (observed on 7.2: a
   * fresh page reads 0x06 after its first access; the host's zeroing of the new page is the
   * store). With keys enabled only the access itself counts (0x30 → 0x34 on a read).
   */
  readonly firstAccessWithoutKeysMarksChange: boolean;
  /**
   * SET_SKEYS drops a non-zero key for a page whose 1 MiB host segment has no page table yet:
   * the kernel faults the page in after set_guest_storage_key fails, then moves on to the
   * next key instead of retrying (kvm_s390_set_skeys, until the gmap rewrite). Key 0 there is
   * a no-op that faults nothing in. Seen on 6.1 and 6.12 in the real-kernel test bed.
   */
  readonly setSkeysDropsKeyWithoutPageTable: boolean;
  /**
   * An access-register-mode memop translates the access registers of the calling host thread,
   * not the guest's: ar_translation first stored the CPU's current ARs into the vcpu's copy
   * (save_access_regs), which outside SIE are the host's, and then reads the ALET from there, so
   * the guest's ARs are overwritten too. Fixed in 6.9 ("KVM: s390: fix access register usage in
   * ioctls"); 6.1 in the test bed still has it. In a Node process ARs 2-15 are 0 (primary
   * space) and ARs 0-1 hold the thread pointer, so only AR 2-15 results are predictable: the
   * model takes those as 0 and leaves AR 0-1 as they are.
   */
  readonly memopUsesHostAccessRegisters: boolean;
}

const NEWEST: ProfileSwitches = {
  memopExtension: 3,
  keyop: true,
  vmMemop: true,
  logicalKeys: true,
  commonValidation: true,
  vmOpCheckedFirst: true,
  absoluteFirstBytePrecheck: false,
  absoluteCheckKeyZeroSkipsMemslot: false,
  cmpxchgNewestOrder: true,
  setSkeysCheckAllFirst: true,
  legacyCheckOnly: false,
  arTablesFaultOutsideMemory: false,
  keyUsePerProcess: false,
  firstAccessWithoutKeysMarksChange: true,
  setSkeysDropsKeyWithoutPageTable: false,
  memopUsesHostAccessRegisters: false,
};

const CLASSIC: ProfileSwitches = {
  ...NEWEST,
  keyop: false,
  absoluteFirstBytePrecheck: true,
  absoluteCheckKeyZeroSkipsMemslot: true,
  cmpxchgNewestOrder: false,
  setSkeysCheckAllFirst: false,
  keyUsePerProcess: true,
  setSkeysDropsKeyWithoutPageTable: true,
  firstAccessWithoutKeysMarksChange: false,
};

/** 6.3–6.11: classic without the 6.12 memslot check of access-register tables. */
const V6_3: ProfileSwitches = {
  ...CLASSIC,
  arTablesFaultOutsideMemory: true,
  memopUsesHostAccessRegisters: true,
};

const V5_18: ProfileSwitches = {
  ...CLASSIC,
  memopUsesHostAccessRegisters: true,
  memopExtension: 1,
  commonValidation: false,
  vmOpCheckedFirst: false,
  arTablesFaultOutsideMemory: true,
};

const PRE_5_18: ProfileSwitches = {
  ...V5_18,
  memopExtension: 0,
  vmMemop: false,
  logicalKeys: false,
  legacyCheckOnly: true,
};

export const PROFILES: Readonly<Record<KernelProfile, ProfileSwitches>> = Object.freeze({
  newest: NEWEST,
  classic: CLASSIC,
  'v6.3': V6_3,
  'v5.18': V5_18,
  'pre-5.18': PRE_5_18,
});
