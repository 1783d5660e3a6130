// One backend rule for every command (--backend, else $KVM_S390_BACKEND, else auto), headers
// that say which rule chose, explain in the API's words, --quiet, reproducers under reports/,
// and the classification of differential disagreements.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explainDisagreement, PROFILE_DIFFERENCES } from '../src/conformance/profile-differences.js';
import type { Step } from '../src/conformance/scenario.js';
import { ROOT, ensureDistBuilt } from './support/dist.js';

const MAIN = path.join(ROOT, 'dist/cli/main.js');
let tmp: string;

function cli(args: string[], env: Record<string, string | undefined> = {}) {
  const base: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete base.KVM_S390_BACKEND;
  delete base.KVM_S390_PROFILE;
  for (const [k, v] of Object.entries(env)) if (v !== undefined) base[k] = v;
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd: tmp, encoding: 'utf8', env: base, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  ensureDistBuilt();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'kvm-s390-cli-rule-'));
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const backendOf = (json: string) => (JSON.parse(json) as { backend: { kind: string; profile: string } }).backend;

describe('one default backend rule', () => {
  it('probe, conformance and replay pick the same backend without --backend, and say why', () => {
    const probe = backendOf(cli(['probe', '--json']).stdout);
    const conf = cli(['conformance', '--quiet', '--filter', 'absolute/read', '--json', '-']);
    expect(conf.status).toBe(0);
    const run = (JSON.parse(conf.stdout) as { runs: { backend: string; profile: string; chosenBy: string }[] }).runs[0]!;
    expect([run.backend, run.profile]).toEqual([probe.kind, probe.profile]);
    expect(run.chosenBy).toMatch(/^auto: real KVM is (usable|unusable here)/);
    expect(conf.stderr).not.toContain('requested explicitly');
  });

  it('KVM_S390_BACKEND and KVM_S390_PROFILE decide for every command, and the header says so', () => {
    const env = { KVM_S390_BACKEND: 'emulated', KVM_S390_PROFILE: 'v5.18' };
    expect(backendOf(cli(['probe', '--json'], env).stdout)).toMatchObject({ kind: 'emulated', profile: 'v5.18' });
    const conf = cli(['conformance', '--quiet', '--filter', 'cmpxchg'], env);
    expect(conf.stdout).toMatch(/^Conformance on emulated\/v5\.18 \(KVM_S390_BACKEND=emulated\)/m);
    const explicit = cli(['conformance', '--quiet', '--filter', 'cmpxchg', '--backend', 'emulated', '--profile', 'classic'], env);
    expect(explicit.stdout).toMatch(/^Conformance on emulated\/classic \(--backend emulated\)/m);
    expect(cli(['probe'], { KVM_S390_BACKEND: 'qemu' }).status).toBe(2);
  });

  it('--quiet leaves stderr empty', () => {
    const r = cli(['conformance', '--quiet', '--backend', 'emulated', '--filter', 'storage-keys']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const loud = cli(['conformance', '--backend', 'emulated', '--filter', 'storage-keys']);
    expect(loud.stderr).not.toBe('');
  });
});

describe('explain speaks the API', () => {
  it("--mode read|write as check() takes them; fetch|store stay as aliases", () => {
    const json = (mode: string) => JSON.parse(cli(['explain', '--storage-key', '0x38', '--key', '5', '--mode', mode, '--json']).stdout) as Record<string, unknown>;
    expect(json('read')).toEqual(json('fetch'));
    expect(json('write')).toEqual(json('store'));
    expect(json('read')).toMatchObject({ mode: 'read', accessType: 'fetch', allowed: false });
    expect(cli(['explain', '--storage-key', '0x38', '--key', '5', '--mode', 'write']).stdout).toContain('Access: write (store)');
  });
});

describe('differential without KVM', () => {
  it('writes reproducers under reports/ and passes when every disagreement is a documented profile difference', () => {
    const r = cli(['conformance', '--differential', '--backend', 'emulated', '--seed', '5', '--count', '60', '--quiet']);
    expect(r.stdout).toMatch(/Disagreements: (\d+) \(\1 documented profile differences, 0 unexplained\)/);
    expect(r.stdout).toContain('Verdict: every disagreement is a documented profile difference');
    expect(r.status).toBe(0);
    expect(existsSync(path.join(tmp, 'reports/differential-5'))).toBe(true);
    expect(readdirSync(path.join(tmp, 'reports/differential-5')).length).toBeGreaterThan(0);
    expect(readdirSync(tmp).filter((f) => f.startsWith('kvm-s390-differential'))).toEqual([]);
  });

  it('a difference no profile switch accounts for is unexplained', () => {
    const steps: Step[] = [
      { do: 'createVm', vm: 0, memorySize: '0x100000' },
      { do: 'vm.memop', vm: 0, desc: { op: 4, gaddr: '0x1000', size: 8, flags: '0x0', key: 0, ar: 0, buf: '0000000000000000' } },
    ];
    // Same call, same result code, different bytes read: no kernel version explains that.
    const a = { ret: 0, bufAfter: '0000000000000000' };
    const b = { ret: 0, bufAfter: '0100000000000000' };
    expect(explainDisagreement(steps, 1, [a, b], ['newest', 'classic'])).toBeNull();
    // The same profile on both sides never differs.
    expect(explainDisagreement(steps, 1, [a, b], ['classic', 'classic'])).toBeNull();
    // A vm-fd memop refused with ENOTTY by pre-5.18 is documented, in either order.
    const enotty = { errno: 'ENOTTY' };
    expect(explainDisagreement(steps, 1, [a, enotty], ['newest', 'pre-5.18'])?.id).toBe('no-vm-memop');
    expect(explainDisagreement(steps, 1, [enotty, a], ['pre-5.18', 'newest'])?.id).toBe('no-vm-memop');
    for (const d of PROFILE_DIFFERENCES) expect(d.source).toMatch(/^docs\//);
  });
});
