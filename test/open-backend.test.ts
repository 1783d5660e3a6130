// openBackend()'s defaults come from KVM_S390_BACKEND and KVM_S390_PROFILE when the caller
// gives no kind or profile; explicit options win; bad values are refused with the variable's name.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ArgumentRangeError, KvmError, openBackend } from '../src/index.js';
import { realKvm } from './backends.js';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('openBackend defaults from the environment', () => {
  it('KVM_S390_BACKEND=emulated and KVM_S390_PROFILE pick the emulated backend and its profile', () => {
    vi.stubEnv('KVM_S390_BACKEND', 'emulated');
    vi.stubEnv('KVM_S390_PROFILE', 'v5.18');
    using backend = openBackend();
    expect(backend.kind).toBe('emulated');
    expect(backend.profile).toBe('v5.18');
    expect(backend.reason).toBe('KVM_S390_BACKEND=emulated');
  });

  it('explicit options win over the environment', () => {
    vi.stubEnv('KVM_S390_BACKEND', 'kvm');
    vi.stubEnv('KVM_S390_PROFILE', 'v5.18');
    using backend = openBackend({ kind: 'emulated', profile: 'classic' });
    expect([backend.kind, backend.profile]).toEqual(['emulated', 'classic']);
  });

  it('KVM_S390_BACKEND=kvm means real KVM or an explained KvmError, never a silent fallback', () => {
    vi.stubEnv('KVM_S390_BACKEND', 'kvm');
    const kvm = realKvm();
    if ('backend' in kvm) {
      using backend = openBackend();
      expect(backend.kind).toBe('kvm');
    } else {
      expect(() => openBackend()).toThrow(KvmError);
    }
  });

  it('an empty variable is unset; an unknown value is refused naming the variable', () => {
    vi.stubEnv('KVM_S390_BACKEND', '');
    vi.stubEnv('KVM_S390_PROFILE', '');
    openBackend({ kind: 'emulated' }).close();
    vi.stubEnv('KVM_S390_BACKEND', 'qemu');
    expect(() => openBackend()).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('$KVM_S390_BACKEND') }));
    vi.stubEnv('KVM_S390_BACKEND', 'emulated');
    vi.stubEnv('KVM_S390_PROFILE', 'v4.0');
    expect(() => openBackend()).toThrow(ArgumentRangeError);
    expect(() => openBackend()).toThrow(/\$KVM_S390_PROFILE must be one of/);
  });
});
