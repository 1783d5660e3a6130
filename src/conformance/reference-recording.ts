// Reference recording on a real host. The architecture makes the change bit exact but not the
// reference bit: a reference may go unrecorded (Principles of Operation, "Reference
// Recording"). 7.2 in the test bed leaves the guest's R unset after accesses to pages that
// transparent huge pages back, which the host decides (none of 500 scenarios with THP off, 2 to
// 21 with it on): no deterministic model can match that. So against real KVM a result that
// differs only in R the model set and the host did not is a machine difference, counted and
// reported but not a disagreement, and comparing goes on. Everything else must match: C, ACC,
// F, data, return codes, and R the host set where the model did not (an access the model does
// not know about: 6.12's table fetches were one, and the model now has them).
// docs/spec-errata.md, "§9 a real host records references inexactly".
import type { ProfileDifference } from './profile-differences.js';
import type { StepResult } from './scenario.js';
import { differOnlyInKeyBytes } from './key-bytes.js';

/** The storage-key reference bit, as it sits in a key byte and in a KEYOP answer. */
const REFERENCE_BIT = 0x04;

export const REFERENCE_RECORDING: ProfileDifference = {
  id: 'reference-recording',
  title: 'only reference bits differ: the host left R unset where the model set it, which the architecture allows (7.2 does so on pages that transparent huge pages back)',
  source: 'docs/spec-errata.md, "§9 a real host records references inexactly"',
};

/**
 * True when `real` (a real host's result) differs from `model` (the emulator's) and only in
 * reference bits the model set and the host left unset: a reference the host did not record,
 * which the architecture allows. R the host set where the model did not is not excused: that
 * is an access the model does not know about (as the kernels' table fetches were).
 */
export function onlyMissedReferences(real: StepResult, model: StepResult): boolean {
  return differOnlyInKeyBytes(real, model, (r, m) => m === (r | REFERENCE_BIT) && (r & REFERENCE_BIT) === 0, true);
}
