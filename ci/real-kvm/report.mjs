// Reads what one test-bed boot brought back (reports/real-kvm/<release>/) and prints the
// kernel's line: "real KVM <release> (<profile>): N passed, M failed, K skipped". N, M and K add
// up conformance cases, vitest tests and the differential run (one test; passed when no
// disagreement is unexplained). Exits 1 when anything failed or a step brought nothing back. The
// kernel's own memop selftest is reported apart (selftest-report.mjs, selftest.json).
// Usage: node report.mjs DIR SUITE
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { selftestSection } from './selftest-report.mjs';

const [dir, suite] = process.argv.slice(2);
const read = (name) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : null);
const json = (name) => {
  const text = read(name);
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
};
const problems = [];
const boot = json('boot.json');
if (!boot) problems.push('the boot left no boot.json');
else if (boot.guestStatus === null) problems.push(`the guest never finished (${boot.timedOut ? 'timed out' : 'Hercules ended'} after ${boot.seconds} s; see console.log)`);

const release = (read('release') ?? '?').trim();
const probe = json('probe.json');
const profile = probe?.profile?.name ?? '?';
if (!probe) problems.push('probe brought back no JSON');
else if (probe.backend?.kind !== 'kvm' || !probe.kvm?.usable) problems.push(`probe: real KVM not usable: ${JSON.stringify(probe.kvm ?? probe).slice(0, 300)}`);

let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];

const conf = json('conformance.json');
if (!conf) problems.push('conformance brought back no JSON');
else {
  for (const r of (conf.runs ?? []).flatMap((run) => run.results)) {
    if (r.status === 'passed') passed++;
    else if (r.status === 'skipped') skipped++;
    else {
      failed++;
      failures.push(`conformance ${r.id}: ${(r.message ?? r.error ?? '').toString().split('\n')[0]}`);
    }
  }
}

const vitest = json('vitest.json');
if (existsSync(join(dir, 'vitest.out')) && !vitest) problems.push('vitest brought back no JSON report');
for (const file of vitest?.testResults ?? []) {
  for (const t of file.assertionResults) {
    if (t.status === 'passed') passed++;
    else if (t.status === 'failed') {
      failed++;
      failures.push(`vitest ${t.ancestorTitles.join(' > ')} > ${t.title}: ${(t.failureMessages?.[0] ?? '').split('\n')[0]}`);
    } else skipped++;
  }
  if (file.status === 'failed' && file.assertionResults.length === 0) {
    failed++;
    failures.push(`vitest ${file.name}: ${file.message?.split('\n')[0] ?? 'failed to load'}`);
  }
}

/** run.sh --differential-report-only: list the differential's disagreements without failing on them. */
const differentialReportOnly = process.env.KVM_S390_BED_DIFFERENTIAL === 'report';
const notes = [];
const diff = json('differential.json');
if (existsSync(join(dir, 'differential.out'))) {
  if (!diff) problems.push('differential brought back no JSON');
  else {
    // A disagreement counts as explained only when the differential engine names the documented
    // difference behind it (a machine facility, a kernel bug the profile models).
    const unexplained = (diff.disagreements ?? []).filter((d) => !d.explanation);
    const referenceOnly = (diff.disagreements ?? []).filter((d) => d.explanation?.id === 'reference-recording').length;
    if (referenceOnly > 0) notes.push(`differential: ${referenceOnly} of ${diff.count ?? '?'} differed only in R (machine reference recording)`);
    if (unexplained.length === 0) passed++;
    else if (differentialReportOnly) {
      notes.push(`differential ${unexplained.length} unexplained of ${diff.count ?? '?'} (reported, not gating)`);
      failures.push(`differential (not gating): ${unexplained.length} unexplained disagreements of ${diff.count ?? '?'} scenarios (reproducers in differential.tar)`);
    } else {
      failed++;
      failures.push(`differential: ${unexplained.length} unexplained disagreements of ${diff.count ?? '?'} scenarios (reproducers in differential.tar)`);
    }
  }
}

for (const p of problems) {
  failed++;
  failures.push(`bed: ${p}`);
}
const steps = read('steps.txt');
// The kernel's own selftest is the bed's baseline: shown on the line, never in our counts.
const selftest = selftestSection(dir, steps);
writeFileSync(join(dir, 'selftest.json'), JSON.stringify(selftest.json, null, 2) + '\n');
const line = `real KVM ${release} (${profile}): ${passed} passed, ${failed} failed, ${skipped} skipped; ${[...notes, selftest.brief].join('; ')}`;
writeFileSync(join(dir, 'summary.txt'), [line, `Debian ${suite}`, steps ?? '', ...failures, '', ...selftest.lines].join('\n') + '\n');
if (selftest.problem) console.error(`   ${selftest.problem}`);
for (const f of failures.slice(0, 40)) console.error(`   ${f}`);
if (failures.length > 40) console.error(`   … ${failures.length - 40} more in ${join(dir, 'summary.txt')}`);
console.log(line);
process.exit(failed ? 1 : 0);
