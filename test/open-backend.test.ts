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

describe('on an OS other than Linux', () => {
  it('auto gives the emulated backend, kind kvm explains, and no native code is ever loaded', async () => {
    const { spawnSync } = await import('node:child_process');
    const path = await import('node:path');
    const { ROOT, ensureDistBuilt } = await import('./support/dist.js');
    ensureDistBuilt();
    // A child that believes it runs on macOS and records every native-module load.
    const program = `
      Object.defineProperty(process, 'platform', { value: 'darwin' });
      const loads = [];
      const dlopen = process.dlopen;
      process.dlopen = (...args) => { loads.push(String(args[1])); return dlopen.apply(process, args); };
      const k = await import(${JSON.stringify(path.join(ROOT, 'dist/index.js'))});
      const auto = k.openBackend();
      let kvm;
      try { k.openBackend({ kind: 'kvm' }); } catch (err) { kvm = [err.code, err.syscall, err.reason]; }
      console.log(JSON.stringify({ auto: auto.kind, kvm, loads }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', program], { encoding: 'utf8', env: { ...process.env, KVM_S390_BACKEND: '' } });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { auto: string; kvm: string[]; loads: string[] };
    expect(out.auto).toBe('emulated');
    expect(out.kvm[0]).toBe('ENOSYS');
    expect(out.kvm[2]).toMatch(/KVM is a Linux interface and this is darwin/);
    expect(out.loads).toEqual([]);
  });
});
