// The differences between kernel versions, as one table of switches (spec §0.1, §13).
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
  /** LAP and key-protection exceptions carry a TEID (5.18+); before only the code. */
  readonly protectionTeid: boolean;
  /**
   * "Uses storage keys" belongs to the host process (mm_uses_skeys(current->mm)), so one VM
   * enabling keys makes GET_SKEYS of every VM of that process return keys. The gmap rewrite
   * made it per VM (gmap->uses_skeys).
   */
  readonly keyUsePerProcess: boolean;
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
  protectionTeid: true,
  keyUsePerProcess: false,
};

const CLASSIC: ProfileSwitches = {
  ...NEWEST,
  keyop: false,
  absoluteFirstBytePrecheck: true,
  absoluteCheckKeyZeroSkipsMemslot: true,
  cmpxchgNewestOrder: false,
  setSkeysCheckAllFirst: false,
  keyUsePerProcess: true,
};

const V5_18: ProfileSwitches = {
  ...CLASSIC,
  memopExtension: 1,
  commonValidation: false,
  vmOpCheckedFirst: false,
};

const PRE_5_18: ProfileSwitches = {
  ...V5_18,
  memopExtension: 0,
  vmMemop: false,
  logicalKeys: false,
  protectionTeid: false,
};

export const PROFILES: Readonly<Record<KernelProfile, ProfileSwitches>> = Object.freeze({
  newest: NEWEST,
  classic: CLASSIC,
  'v5.18': V5_18,
  'pre-5.18': PRE_5_18,
});
