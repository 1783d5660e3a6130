// The test bed's report of the kernel's own memop selftest (ci/real-kvm/selftest-report.mjs via
// report.mjs): KTAP as the selftest prints it, its failures kept apart from our suite's counts,
// and a kernel without a baseline said so. Runs report.mjs as run.sh does, on files laid out as
// one boot brings them back.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module of the CI scripts, without type declarations
import { parseKtap } from '../ci/real-kvm/selftest-report.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPORT = path.join(ROOT, 'ci/real-kvm/report.mjs');

/** What memop prints when the kernel lacks the cmpxchg extension (6.1): header, plan, results. */
const MEMOP_ON_6_1 = `TAP version 13
1..4
ok 1 simple copy
ok 2 copy with storage keys
ok 3 # SKIP cmpxchg with storage keys - requirements not met (kernel has extension cap 0x1)
ok 4 termination
# Totals: pass:3 fail:0 xfail:0 xpass:0 skip:1 error:0
`;

/** A TEST_ASSERT in the third test aborts the binary: no result line for it or after it. */
const MEMOP_ABORTED = `TAP version 13
1..5
ok 1 simple copy
ok 2 copy with storage keys
==== Test Assertion Failure ====
  s390/memop.c:370: uc.cmd == UCALL_SYNC
  pid=139 tid=139 errno=0 - Success
sh: line 0: addr2line: not found
  0 != 0x1 (uc.cmd != UCALL_SYNC)
`;

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A boot's report folder with our suite all passed (one conformance case) plus the given files. */
function bootDir(files: Record<string, string>): string {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'selftest-report-'));
  dir = folder;
  const base: Record<string, string> = {
    'boot.json': JSON.stringify({ guestStatus: 0, seconds: 100 }),
    release: '7.2.12+deb14-s390x\n',
    'probe.json': JSON.stringify({ profile: { name: 'newest' }, backend: { kind: 'kvm' }, kvm: { usable: true } }),
    'conformance.json': JSON.stringify({ runs: [{ results: [{ id: 'c1', status: 'passed' }] }] }),
  };
  for (const [name, text] of Object.entries({ ...base, ...files })) writeFileSync(path.join(folder, name), text);
  return folder;
}

function report(folder: string) {
  const r = spawnSync(process.execPath, [REPORT, folder, 'forky'], { encoding: 'utf8' });
  return {
    status: r.status,
    line: r.stdout.trim(),
    summary: readFileSync(path.join(folder, 'summary.txt'), 'utf8'),
    json: JSON.parse(readFileSync(path.join(folder, 'selftest.json'), 'utf8')),
  };
}

describe('parseKtap', () => {
  it('reads passes, a skip with its reason, and the plan', () => {
    const { planned, planSkip, tests } = parseKtap(MEMOP_ON_6_1);
    expect(planned).toBe(4);
    expect(planSkip).toBeNull();
    expect(tests.map((t: { status: string }) => t.status)).toEqual(['passed', 'passed', 'skipped', 'passed']);
    expect(tests[2]).toMatchObject({ number: 3, name: 'cmpxchg with storage keys - requirements not met (kernel has extension cap 0x1)' });
    expect(tests[0].name).toBe('simple copy');
  });

  it('reads "not ok", and a plan that skips the whole test', () => {
    expect(parseKtap('1..2\nok 1 a\nnot ok 2 b\n').tests[1]).toMatchObject({ number: 2, name: 'b', status: 'failed' });
    expect(parseKtap('TAP version 13\n1..0 # SKIP KVM_CAP_S390_MEM_OP not available\n')).toMatchObject({ planned: 0, planSkip: 'KVM_CAP_S390_MEM_OP not available', tests: [] });
  });
});

describe('report.mjs with the selftest', () => {
  it('shows the selftest apart and does not add it to our counts', () => {
    const r = report(bootDir({ 'selftest-source.txt': 'linux-source-6.1=6.1.176-1\n', 'selftest-memop.out': MEMOP_ON_6_1, 'steps.txt': 'selftest-memop exit=0 seconds=2.5\n' }));
    expect(r.status).toBe(0);
    expect(r.line).toBe('real KVM 7.2.12+deb14-s390x (newest): 1 passed, 0 failed, 0 skipped; selftest memop 3 passed, 0 failed, 1 skipped');
    expect(r.json).toMatchObject({ built: true, source: 'linux-source-6.1=6.1.176-1', exitStatus: 0, seconds: 2.5, planned: 4, passed: 3, failed: 0, skipped: 1, failures: [] });
    expect(r.summary).toContain('selftest memop (linux-source-6.1=6.1.176-1, exit 0): 3 passed, 0 failed, 1 skipped');
  });

  it('lists an aborted selftest as the machine’s or kernel’s failure, and our suite still passes', () => {
    const r = report(bootDir({ 'selftest-source.txt': 'linux-source-7.2=7.2.12-1\n', 'selftest-memop.out': MEMOP_ABORTED, 'steps.txt': 'selftest-memop exit=134 seconds=1\n' }));
    expect(r.status).toBe(0);
    expect(r.line).toMatch(/: 1 passed, 0 failed, 0 skipped; selftest memop 2 passed, 1 failed, 0 skipped$/);
    expect(r.json).toMatchObject({ exitStatus: 134, failed: 1, notRun: 2 });
    expect(r.json.failures[0]).toBe('test 3 aborted the run (3 of 5 never reported): s390/memop.c:370: uc.cmd == UCALL_SYNC: 0 != 0x1 (uc.cmd != UCALL_SYNC)');
    expect(r.summary).toContain('selftest failure (machine or kernel, not ours): test 3 aborted the run');
  });

  it('says why a kernel has no baseline when the build failed', () => {
    const why = 'selftest.sh: linux-source-7.3 7.3~rc2-1 (the kernel’s version) is not served by http://deb.debian.org/debian';
    const r = report(bootDir({ 'selftest-build.log': `Err:1 …\n${why}\n` }));
    expect(r.status).toBe(0);
    expect(r.line).toMatch(/; no selftest baseline$/);
    expect(r.json).toEqual({ built: false, why });
    expect(r.summary).toContain(`selftest memop: no baseline for this kernel: ${why}`);
  });

  it('reports a selftest that printed nothing parseable', () => {
    const r = report(bootDir({ 'selftest-source.txt': 'linux-source-7.2=7.2.12-1\n', 'selftest-memop.out': 'Segmentation fault\n', 'steps.txt': 'selftest-memop exit=139 seconds=0.1\n' }));
    expect(r.json).toMatchObject({ passed: 0, failed: 1, failures: ['printed no KTAP results (exit 139)'] });
    expect(r.status).toBe(0);
  });
});
