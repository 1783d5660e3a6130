// The kernel's own memop selftest in one test-bed boot (ci/real-kvm/selftest.sh built it, the
// guest ran it): its KTAP output (selftest-memop.out) read into counts and a list of what failed.
// These are the machine's or the kernel's results, a baseline for the bed: report.mjs lists them
// apart and never adds them to our suite's counts.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const RESULT = /^(not )?ok (\d+)\s*(.*)$/;
const PLAN = /^1\.\.(\d+)\s*(?:#\s*(.*))?$/;

/** KTAP lines → tests. "ok N name # SKIP why", "ok N # XFAIL …" count as skipped / passed. */
export function parseKtap(text) {
  const tests = [];
  let planned = null;
  let planSkip = null;
  for (const line of text.split('\n').map((l) => l.trimEnd())) {
    const plan = PLAN.exec(line);
    if (plan) {
      planned = Number(plan[1]);
      if (plan[2]?.startsWith('SKIP')) planSkip = plan[2].slice(4).trim();
      continue;
    }
    const r = RESULT.exec(line);
    if (!r) continue;
    const hash = r[3].indexOf('#');
    const name = (hash < 0 ? r[3] : r[3].slice(0, hash)).trim();
    const directive = hash < 0 ? '' : r[3].slice(hash + 1).trim();
    let status = r[1] ? 'failed' : 'passed';
    if (/^SKIP\b/i.test(directive)) status = 'skipped';
    tests.push({ number: Number(r[2]), name: name || directive.replace(/^\w+\s*/, ''), status, ...(directive ? { directive } : {}) });
  }
  return { planned, planSkip, tests };
}

/**
 * The selftest library's "==== Test Assertion Failure ====" block in one line: where and what
 * (e.g. "s390/memop.c:370: uc.cmd == UCALL_SYNC: 0 != 0x1 (uc.cmd != UCALL_SYNC)"), without the
 * pid line and the backtrace that the guest cannot symbolise.
 */
export function assertionOf(output) {
  const lines = output.split('\n');
  const at = lines.findIndex((l) => l.includes('Test Assertion Failure'));
  if (at < 0) return null;
  const detail = lines
    .slice(at + 1)
    .map((l) => l.trim())
    .filter((l) => l && !/^pid=\d+|addr2line|^#|^0x[0-9a-f]+:? /i.test(l))
    .slice(0, 2);
  return detail.length ? detail.join(': ') : 'Test Assertion Failure';
}

/**
 * What report.mjs writes about the selftest: `lines` for summary.txt, `json` for selftest.json,
 * `problem` when the bed could not give this kernel a baseline (no build, no output).
 */
export function selftestSection(dir, steps) {
  const read = (name) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : null);
  const source = read('selftest-source.txt')?.trim() ?? null;
  if (!source) {
    const log = (read('selftest-build.log') ?? '').trim().split('\n');
    const why = log[log.length - 1] || 'selftest.sh was not run';
    return { problem: `no selftest baseline for this kernel: ${why}`, brief: 'no selftest baseline', json: { built: false, why }, lines: [`selftest memop: no baseline for this kernel: ${why}`] };
  }
  const output = read('selftest-memop.out');
  const step = /^selftest-memop exit=(\d+) seconds=([\d.]+)/m.exec(steps ?? '');
  if (output === null) {
    const why = 'built but brought back no output (see console.log)';
    return { problem: `selftest memop ${why}`, brief: 'selftest brought back nothing', json: { built: true, source, why }, lines: [`selftest memop (${source}): ${why}`] };
  }
  const { planned, planSkip, tests } = parseKtap(output);
  const count = (s) => tests.filter((t) => t.status === s).length;
  const failures = tests.filter((t) => t.status === 'failed').map((t) => `test ${t.number} ${t.name}`);
  // A failed TEST_ASSERT aborts the binary: the tests after it never report, so the plan says
  // how many are missing and the assertion text says why.
  const missing = planned !== null && !planSkip ? Math.max(0, planned - tests.length) : 0;
  if (missing > 0) {
    const assertion = assertionOf(output);
    failures.push(`test ${tests.length + 1} aborted the run (${missing} of ${planned} never reported)${assertion ? `: ${assertion}` : ''}`);
  }
  const exitStatus = step ? Number(step[1]) : null;
  const KSFT_SKIP = 4;
  const cleanExit = exitStatus === 0 || (exitStatus === KSFT_SKIP && planSkip !== null);
  if (tests.length === 0 && planSkip === null && missing === 0) failures.push(`printed no KTAP results (exit ${exitStatus ?? '?'})`);
  else if (exitStatus !== null && !cleanExit && failures.length === 0) failures.push(`exited with status ${exitStatus} although every reported test passed`);
  const json = {
    built: true,
    source,
    exitStatus,
    seconds: step ? Number(step[2]) : null,
    planned,
    ...(planSkip !== null ? { skippedWhole: planSkip } : {}),
    passed: count('passed'),
    failed: failures.length,
    skipped: count('skipped') + (planSkip !== null ? 1 : 0),
    notRun: missing > 0 ? missing - 1 : 0,
    tests,
    failures,
  };
  const head =
    `selftest memop (${source}, exit ${exitStatus ?? '?'}): ${json.passed} passed, ${json.failed} failed, ${json.skipped} skipped` +
    (json.notRun ? `, ${json.notRun} not run` : '') +
    (planSkip !== null ? ` (whole test skipped: ${planSkip})` : '') +
    ' — the kernel’s own test on this machine, not counted above';
  const brief = `selftest memop ${json.passed} passed, ${json.failed} failed, ${json.skipped} skipped`;
  const lines = [head, ...failures.map((f) => `  selftest failure (machine or kernel, not ours): ${f}`)];
  return { json, lines, brief };
}
