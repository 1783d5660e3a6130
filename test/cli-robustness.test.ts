// The CLI and the fuzz runner against input that used to end in a wrong exit status, a stack
// trace or a hang (issue 10 items 11 and 12), run as a user runs them: child processes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, ensureDistBuilt } from './support/dist.js';

const MAIN = path.join(ROOT, 'dist/cli/main.js');
let tmp: string;

function run(file: string, args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [file, ...args], { cwd: tmp, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

const cli = (...args: string[]) => run(MAIN, args);
const oneLine = (text: string) => text.trim().split('\n').length === 1 && !/\n\s+at /.test(text);

beforeAll(() => {
  ensureDistBuilt();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'kvm-s390-cli-robust-'));
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('conformance', () => {
  it('a case that never settles fails after --case-timeout: exit 1 with the summary, not exit 0', () => {
    const mod = path.join(tmp, 'hangs.mjs');
    writeFileSync(
      mod,
      `export const cases = [
        { id: 'extra/hangs', topic: 'extra', title: 'never settles', source: 'test', run() { return new Promise(() => {}); } },
        { id: 'extra/passes', topic: 'extra', title: 'passes', source: 'test', run() {} },
      ];\n`,
    );
    const r = cli('conformance', '--cases-module', mod, '--filter', 'extra/', '--case-timeout', '300', '--json', 'hang.json');
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/extra\/hangs: did not settle within 300 ms/);
    expect(r.stdout).toMatch(/total +2 +1 +1 +0/);
  });

  it('--json and --junit to a path that cannot be written: exit 2 in one line, before any case runs', () => {
    for (const option of ['--json', '--junit']) {
      const r = cli('conformance', option, path.join(tmp, 'no-such-dir', 'out.file'));
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^kvm-s390: ${option} .*no-such-dir.*ENOENT`));
      expect(oneLine(r.stderr), r.stderr).toBe(true);
      expect(r.stdout).toBe(''); // no run happened
    }
  });
});

describe('replay of hand-written files', () => {
  const scenario = (steps: unknown[]) => JSON.stringify({ format: 'kvm-s390-scenario/1', steps });
  const cases: [string, string, RegExp][] = [
    ['missing-size', scenario([{ do: 'createVm', vm: 0 }]), /step 0: createVm: "memorySize" must be a u64/],
    ['bad-desc', scenario([{ do: 'createVm', vm: 0, memorySize: '0x100000' }, { do: 'vm.memop', vm: 0, desc: { op: 'read' } }]), /step 1: desc.op must be an integer/],
    ['bad-keys', scenario([{ do: 'setStorageKeys', vm: 0, startGfn: '0', keys: 'xyz' }]), /step 0: setStorageKeys: "keys" must be hex bytes/],
    ['bad-keyop', scenario([{ do: 'createVm', vm: 0, memorySize: '0x100000' }, { do: 'keyop', vm: 0, operation: 0, guestAddr: 'page 1', key: 0 }]), /step 1: keyop: "guestAddr" must be a u64/],
    ['bad-state', scenario([{ do: 'setState', vcpu: 0, cr: [1, 2] }]), /step 0: setState: "cr" must be 16 u64s/],
    ['null-step', scenario([null]), /step 0: not an object/],
    ['huge-buffer', scenario([{ do: 'vm.memop', vm: 0, desc: { op: 0, gaddr: '0', size: 1, flags: '0', key: 0, ar: 0, buf: { repeat: '00', length: 1e12 } } }]), /desc.buf must be/],
    ['four-gib', scenario([{ do: 'createVm', vm: 0, memorySize: '0x100000000' }]), /above the 64 MiB a scenario may use/],
    ['deep', `${'{"scenario":'.repeat(200_000)}{}${'}'.repeat(200_000)}`, /not a scenario file/],
  ];
  it('a well-formed keyop step replays: SSKE then ISKE answers the key SSKE stored', () => {
    const steps = [
      { do: 'createVm', vm: 0, memorySize: '0x100000' },
      { do: 'keyop', vm: 0, operation: 3, guestAddr: '0x1000', key: 0x30 },
      { do: 'keyop', vm: 0, operation: 1, guestAddr: '0x1000', key: 0 },
    ];
    writeFileSync(path.join(tmp, 'keyop.json'), scenario(steps));
    const r = cli('replay', 'keyop.json', '--backend', 'emulated');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/KEYOP_ISKE, guestAddr 0x1000.*\n\s*→ ret=0 key=0x30/);
  });
  for (const [name, text, message] of cases) {
    it(`${name}: exit 2 with one line`, () => {
      writeFileSync(path.join(tmp, `${name}.json`), text);
      const r = cli('replay', `${name}.json`, '--backend', 'emulated');
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(oneLine(r.stderr), r.stderr).toBe(true);
    });
  }
});

describe('npm run fuzz', () => {
  it('refuses a FUZZ_SEED or FUZZ_RUNS that is not an integer instead of using 0', () => {
    for (const env of [{ FUZZ_SEED: 'abc' }, { FUZZ_SEED: '12abc' }, { FUZZ_RUNS: 'many' }, { FUZZ_RUNS: '0' }]) {
      const r = run(path.join(ROOT, 'scripts/fuzz.mjs'), ['--help'], env);
      expect(r.status, JSON.stringify(env)).toBe(2);
      expect(r.stderr).toMatch(/is not an integer/);
    }
  });

  it('gives vitest a time limit that grows with FUZZ_RUNS', () => {
    // --help makes vitest print its usage and exit at once; the first line shows the limit chosen.
    const r = run(path.join(ROOT, 'scripts/fuzz.mjs'), ['--help'], { FUZZ_SEED: '7', FUZZ_RUNS: '100000' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/FUZZ_SEED=7 FUZZ_RUNS=100000, 1000 s per property/);
  });
});
