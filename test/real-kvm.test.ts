// The kvm backend's own logic against a real s390x kernel: what the commit run does when the
// kernel refuses a state, and how fds and guest memory are released. These need real KVM (the
// Hercules test bed of ci/real-kvm runs them on each kernel) and skip elsewhere with the reason.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MEMOP, MEMOP_F, PGM } from '../src/abi/constants.js';
import { KvmError } from '../src/errors.js';
import { openKvmBackend } from '../src/kvm/backend.js';
import { realKvm } from './backends.js';

const kvm = realKvm();
const title = 'backend' in kvm ? 'real s390x KVM: the kvm backend' : `no KVM: ${kvm.unavailable.split('\n')[0]}`;
const MiB = 1n << 20n;
const PSW_64 = 0x0000000180000000n;
const CR0_LAP = 0x10000000n;

describe.skipIf(!('backend' in kvm))(title, () => {
  it('a prefix the kernel cannot load: the commit run fails, getState keeps the loaded state, a pending interrupt survives', () => {
    const b = openKvmBackend();
    const vm = b.createVm({ memorySize: 2n * MiB });
    const vcpu = vm.createVcpu(0, {});
    try {
      vcpu.reset('initial');
      vcpu.setState({ psw: { mask: PSW_64, addr: 0x1000n }, prefix: 0x4000 });
      // Queue a program interrupt: a LAP-protected store with INJECT.
      const cr = [...vcpu.getState().cr];
      cr[0] = cr[0]! | CR0_LAP;
      vcpu.setState({ cr });
      const store = { op: MEMOP.LOGICAL_WRITE, gaddr: 0x100n, size: 4, flags: MEMOP_F.INJECT_EXCEPTION, buf: new Uint8Array(4), key: 0, ar: 0, sidaOffset: 0, old: null };
      expect(vcpu.memop(store)).toBe(PGM.PROTECTION);
      // The handle takes what the public Vcpu refuses: a prefix beyond the 2 MiB of memory.
      let caught: unknown;
      try {
        vcpu.setState({ prefix: 0x400000 });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(KvmError);
      expect((caught as KvmError).syscall).toBe('KVM_RUN');
      expect(vcpu.getState().prefix).toBe(0x4000);
      expect(vcpu.getState().psw).toEqual({ mask: PSW_64, addr: 0x1000n });
      expect(vcpu.pendingProgramInterrupt()?.code).toBe(PGM.PROTECTION);
      // The vcpu still commits a good state afterwards.
      vcpu.clearPendingInterrupts();
      vcpu.setState({ prefix: 0x6000 });
      expect(vcpu.getState().prefix).toBe(0x6000);
    } finally {
      vcpu.close();
      vm.close();
      b.close();
    }
  });

  it('resets: getState reports PSW 0 and prefix 0 as the kernel now holds them', () => {
    const b = openKvmBackend();
    const vm = b.createVm({ memorySize: 2n * MiB });
    const vcpu = vm.createVcpu(0, {});
    try {
      for (const kind of ['initial', 'clear'] as const) {
        vcpu.setState({ psw: { mask: PSW_64, addr: 0x2000n }, prefix: 0x8000, ar: new Array(16).fill(7) });
        vcpu.reset(kind);
        const st = vcpu.getState();
        expect(st.prefix).toBe(0);
        expect(st.psw).toEqual({ mask: 0n, addr: 0n });
        if (kind === 'clear') expect(st.ar).toEqual(new Array(16).fill(0));
      }
    } finally {
      vcpu.close();
      vm.close();
      b.close();
    }
  });

  it('handles a program forgot to close: fds closed, and guest memory stays mapped while a vcpu can still reach it', () => {
    // A child with --expose-gc, so collection is forced rather than hoped for.
    const script = `
      import { openBackend } from ${JSON.stringify(path.resolve('dist/index.js'))};
      import { readdirSync, readFileSync } from 'node:fs';
      const fds = () => readdirSync('/proc/self/fd').length;
      const settle = async () => { for (let i = 0; i < 6; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); } };
      const b = openBackend({ kind: 'kvm' });
      const before = fds();
      (() => { for (let i = 0; i < 16; i++) { const vm = b.createVm({ memorySize: 1 << 20 }); vm.createVcpu(0); } })();
      const leaked = fds() - before;
      await settle();
      const afterGc = fds() - before;
      // Keep only a vcpu: its VM handle is collected, yet the memory must stay.
      let vcpu = (() => { const vm = b.createVm({ memorySize: 1 << 20 }); vm.write(0x3000, Uint8Array.of(42)); return vm.createVcpu(0); })();
      vcpu.setState({ psw: { mask: 0x0000000180000000n, addr: 0n }, prefix: 0 });
      await settle();
      const readBack = vcpu.read(0x3000, 1)[0];
      vcpu = null;
      await settle();
      console.log(JSON.stringify({ leaked, afterGc, readBack, afterAll: fds() - before }));
      b.close();
    `;
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out.leaked).toBe(32); // a vm fd and a vcpu fd each
    expect(out.afterGc).toBe(0);
    expect(out.readBack).toBe(42);
    expect(out.afterAll).toBe(0);
  });
});
