// `kvm-s390 probe`: which backend this host gets and why, the kernel, every memop-related
// capability with its meaning, the kernel profile, and when real KVM is unusable the exact
// reason and what to do about it.
import os from 'node:os';
import { CAP, CAP_NAMES, ERRNO, MEMOP_EXT } from '../abi/constants.js';
import { openBackend, type Backend } from '../api/backend.js';
import { openChosenBackend, type BackendChoice } from './backend-choice.js';
import type { GuestFacilities, KernelProfile } from '../contract.js';
import { KvmError } from '../errors.js';

export interface ProbeOptions {
  /** Absent: $KVM_S390_BACKEND, else auto. */
  backend?: BackendChoice;
  /** Absent: $KVM_S390_PROFILE, else newest. */
  profile?: KernelProfile;
  json: boolean;
}

const ORDER = [
  CAP.S390_MEM_OP,
  CAP.S390_MEM_OP_EXTENSION,
  CAP.S390_SKEYS,
  CAP.S390_PROTECTED,
  CAP.S390_KEYOP,
  CAP.S390_PSW,
  CAP.SYNC_REGS,
  CAP.S390_INJECT_IRQ,
  CAP.S390_IRQ_STATE,
  CAP.S390_VCPU_RESETS,
];

/** What a capability's answer means for memops (docs/memop-semantics.md §0.1, §12). */
export function capabilityMeaning(cap: number, value: number): string {
  switch (cap) {
    case CAP.S390_MEM_OP:
      return value > 0 ? `KVM_S390_MEM_OP on vcpu fds; largest size ${value} bytes` : 'no KVM_S390_MEM_OP (not s390 or older than Linux 4.3)';
    case CAP.S390_MEM_OP_EXTENSION: {
      if (value <= 0) return 'no extension: logical memops without storage keys, no vm-fd memop (before 5.18)';
      const bits: string[] = [];
      if (value & MEMOP_EXT.CAP_BASE || value > 0) bits.push('BASE (vm-fd absolute read/write, SKEY_PROTECTION, key field)');
      if (value & MEMOP_EXT.CAP_CMPXCHG) bits.push('CMPXCHG (ABSOLUTE_CMPXCHG, op 6)');
      const unknown = value & ~(MEMOP_EXT.CAP_BASE | MEMOP_EXT.CAP_CMPXCHG);
      if (unknown) bits.push(`unknown bits 0x${unknown.toString(16)}`);
      return bits.join(' + ');
    }
    case CAP.S390_SKEYS:
      return value > 0 ? 'KVM_S390_GET_SKEYS / KVM_S390_SET_SKEYS on the vm fd' : 'no storage-key ioctls';
    case CAP.S390_PROTECTED:
      return value > 0 ? 'protected virtualization: SIDA_READ/SIDA_WRITE usable for PV vcpus' : 'no protected virtualization (SIDA ops unusable)';
    case CAP.S390_KEYOP:
      return value > 0
        ? 'KVM_S390_KEYOP on the vm fd (ISKE, RRBE, SSKE on one guest page: vm.keyop): kernel after the gmap rewrite'
        : 'no KVM_S390_KEYOP: vm.keyop fails with ENOTTY (kernel before the gmap rewrite)';
    case CAP.S390_PSW:
      return value > 0 ? 'PSW in kvm_run' : 'no PSW in kvm_run';
    case CAP.SYNC_REGS:
      return value > 0 ? 'synced registers in kvm_run (prefix, CRs, ARs)' : 'no synced registers';
    case CAP.S390_INJECT_IRQ:
      return value > 0 ? 'KVM_S390_IRQ (vcpu interrupt injection)' : 'no KVM_S390_IRQ';
    case CAP.S390_IRQ_STATE:
      return value > 0 ? 'KVM_S390_GET/SET_IRQ_STATE (read back an injected program interrupt)' : 'no IRQ state ioctls';
    case CAP.S390_VCPU_RESETS:
      return value > 0 ? 'KVM_S390_NORMAL_RESET / CLEAR_RESET' : 'only KVM_S390_INITIAL_RESET';
    default:
      return '';
  }
}

/** What the user should do about a KvmError from opening or using real KVM. */
export function fixFor(err: KvmError): string {
  const detail = /\((.*)\)$/s.exec(err.message)?.[1];
  if (err.syscall === 'KVM_CREATE_VM' && err.errno === ERRNO.EINVAL) {
    return 'run "sysctl vm.allocate_pgste=1" as root (the process needs PGSTE page tables), then start node again';
  }
  if (err.errno === ERRNO.EACCES || err.errno === ERRNO.EPERM) {
    return 'add your user to the "kvm" group: sudo usermod -aG kvm $USER, then log in again (or run as root)';
  }
  if (process.arch !== 's390x') {
    return `this is ${process.arch}: KVM_S390_MEM_OP exists only on IBM Z (s390x) Linux; use the emulated backend (--backend emulated), which is what "auto" does`;
  }
  if (err.errno === ERRNO.ENOENT && err.syscall.startsWith('open')) {
    return 'load the kvm module (sudo modprobe kvm) and make sure the LPAR/host allows virtualization (SIE)';
  }
  return detail ?? 'see the reason above';
}

interface CapInfo {
  cap: number;
  name: string;
  value: number;
  meaning: string;
}

export function probeCommand(opts: ProbeOptions): number {
  let kvmError: KvmError | null = null;
  let vmError: KvmError | null = null;
  let kvmUsable = false;
  try {
    const kvm = openBackend({ kind: 'kvm' });
    try {
      kvm.createVm({ memorySize: 1 << 20 }).close();
      kvmUsable = true;
    } catch (err) {
      if (!(err instanceof KvmError)) throw err;
      vmError = err;
    } finally {
      kvm.close();
    }
  } catch (err) {
    if (!(err instanceof KvmError)) throw err;
    kvmError = err;
  }

  let backend: Backend;
  let chosenBecause: string;
  try {
    ({ backend, why: chosenBecause } = openChosenBackend(opts.backend, opts.profile));
  } catch (err) {
    if (!(err instanceof KvmError) || !opts.json) throw err;
    process.stdout.write(JSON.stringify({ error: { code: err.code, errno: err.errno, syscall: err.syscall, message: err.message, fix: fixFor(err) } }, null, 2) + '\n');
    return 1;
  }
  try {
    const caps: CapInfo[] = ORDER.map((cap) => {
      const value = backend.checkExtension(cap);
      return { cap, name: CAP_NAMES[cap]!, value, meaning: capabilityMeaning(cap, value) };
    });
    const host = { kernelRelease: os.release(), arch: process.arch, platform: process.platform, node: process.version };
    const problem = kvmError ?? vmError;
    const kvm = {
      usable: kvmUsable,
      ...(problem
        ? { error: { stage: kvmError ? 'open' : 'create-vm', code: problem.code, errno: problem.errno, syscall: problem.syscall, message: problem.message, fix: fixFor(problem) } }
        : {}),
    };
    let facilities: GuestFacilities | null = null;
    if (backend.kind === 'emulated' || kvmUsable) {
      const vm = backend.createVm({ memorySize: 1 << 20 });
      try {
        facilities = vm.facilities;
      } finally {
        vm.close();
      }
    }
    const profile = {
      name: backend.profile,
      source: backend.kind === 'kvm' ? 'inferred from KVM_CAP_S390_MEM_OP_EXTENSION and KVM_CAP_S390_KEYOP' : 'modelled by the emulated backend',
    };
    if (opts.json) {
      process.stdout.write(
        JSON.stringify({ backend: { kind: backend.kind, profile: backend.profile, reason: backend.reason, chosenBy: chosenBecause }, host, kvm, profile, capabilities: caps, facilities }, null, 2) + '\n',
      );
      return 0;
    }
    const lines: string[] = [];
    lines.push(`Backend:        ${backend.kind}${backend.kind === 'emulated' ? ` (profile ${backend.profile})` : ''}`);
    const why = chosenBecause.startsWith('auto: real KVM is unusable')
      ? 'auto: real KVM is unusable on this host (see below); the emulated backend works on any machine'
      : chosenBecause;
    lines.push(`  why:          ${why}`);
    lines.push(`Host:           Linux ${host.kernelRelease}, ${host.arch}, Node ${host.node}`);
    if (kvmUsable) {
      lines.push('Real KVM:       usable (opened /dev/kvm and created a VM)');
    } else if (problem) {
      lines.push(`Real KVM:       unusable — ${problem.code} from ${problem.syscall}`);
      lines.push(`  reason:       ${problem.message}`);
      lines.push(`  fix:          ${fixFor(problem)}`);
    }
    lines.push(`Kernel profile: ${profile.name} (${profile.source})`);
    lines.push(`Capabilities (KVM_CHECK_EXTENSION, answered by the ${backend.kind === 'kvm' ? 'host kernel' : `emulated backend, profile ${backend.profile}`}):`);
    const w = Math.max(...caps.map((c) => c.name.length));
    for (const c of caps) lines.push(`  ${String(c.cap).padStart(3)} ${c.name.padEnd(w)} = ${String(c.value).padEnd(5)}  ${c.meaning}`);
    if (facilities) {
      const yes = (b: boolean) => (b ? 'yes' : 'no');
      lines.push(`Guest facilities (${backend.kind === 'kvm' ? "the VM's CPU model, which follows this machine" : 'modelled'}):`);
      lines.push(`    8 EDAT-1 (1 MiB frames)   ${yes(facilities.edat1)}`);
      lines.push(`   78 EDAT-2 (2 GiB frames)   ${yes(facilities.edat2)}`);
      if (facilities.installed) lines.push(`  installed: ${facilities.installed.join(' ')}`);
    }
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  } finally {
    backend.close();
  }
}
