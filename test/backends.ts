// Which backends this host can run, for tests that run one body against each of them.
import { openBackend, type Backend } from '../src/index.js';
import { KERNEL_PROFILES, type KernelProfile } from '../src/contract.js';
import { KvmError } from '../src/errors.js';

export interface BackendUnderTest {
  readonly name: string;
  open(): Backend;
}

export const emulatedBackends: readonly BackendUnderTest[] = [
  ...KERNEL_PROFILES.map((profile: KernelProfile) => ({
    name: `emulated/${profile}`,
    open: () => openBackend({ kind: 'emulated', profile }),
  })),
  // The machine of the real-kernel test bed: Hercules has no EDAT-2 (facility 78).
  { name: 'emulated/newest on a machine without EDAT-2', open: () => openBackend({ kind: 'emulated', profile: 'newest', machine: { edat2: false } }) },
];

/** Real KVM if this host can open it; otherwise the reason it cannot. */
export function realKvm(): { backend: BackendUnderTest } | { unavailable: string } {
  try {
    openBackend({ kind: 'kvm' }).close();
    return { backend: { name: 'kvm', open: () => openBackend({ kind: 'kvm' }) } };
  } catch (err) {
    if (err instanceof KvmError) return { unavailable: err.message };
    throw err;
  }
}
