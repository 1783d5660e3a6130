// The one rule every command uses to pick its backend, the library's own: --backend when
// given, else $KVM_S390_BACKEND, else auto (real KVM when usable, else emulated); --profile,
// else $KVM_S390_PROFILE, else newest. `why` says in a few words which of these decided.
import { BACKEND_ENV, openBackend, type Backend } from '../api/backend.js';
import type { BackendKind, KernelProfile } from '../contract.js';
import { UsageError } from './format.js';

export type BackendChoice = 'auto' | BackendKind;

export interface ChosenBackend {
  readonly backend: Backend;
  /** 'emulated/newest' or 'kvm (classic)'. */
  readonly label: string;
  /** Which rule chose it, for headers: '--backend emulated', 'auto: real KVM is unusable here (…)'. */
  readonly why: string;
}

export function backendLabel(backend: Backend): string {
  return backend.kind === 'kvm' ? `kvm (${backend.profile})` : `emulated/${backend.profile}`;
}

export function openChosenBackend(kind: BackendChoice | undefined, profile: KernelProfile | undefined): ChosenBackend {
  const backend = openBackend({ kind, profile });
  const fromEnv = process.env[BACKEND_ENV];
  let why: string;
  if (kind !== undefined) why = `--backend ${kind}`;
  else if (fromEnv) why = `${BACKEND_ENV}=${fromEnv}`;
  else if (backend.kind === 'kvm') why = 'auto: real KVM is usable';
  else why = `auto: real KVM is unusable here, ${backend.reason.replace(/^real KVM unusable: /, '').split(' (')[0]}; kvm-s390 probe says why`;
  if (backend.kind === 'kvm' && profile !== undefined && profile !== backend.profile) why += `; --profile ${profile} ignored: real KVM is its own kernel`;
  return { backend, label: backendLabel(backend), why };
}

/** The kind a command runs on when none was given: $KVM_S390_BACKEND, else auto. */
export function resolveChoice(kind: BackendChoice | undefined): BackendChoice {
  if (kind !== undefined) return kind;
  const fromEnv = process.env[BACKEND_ENV];
  if (!fromEnv) return 'auto';
  if (fromEnv !== 'auto' && fromEnv !== 'kvm' && fromEnv !== 'emulated') {
    throw new UsageError(`$${BACKEND_ENV} must be auto, kvm or emulated, not "${fromEnv}"`);
  }
  return fromEnv;
}
