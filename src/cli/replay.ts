// `kvm-s390 replay FILE`: runs a scenario (or the scenario inside a differential report)
// again on one backend and prints each step's result.
import { readFileSync } from 'node:fs';
import type { KernelProfile } from '../contract.js';
import { openChosenBackend, type BackendChoice } from './backend-choice.js';
import { UsageError } from './format.js';
import { ScenarioRunner, formatResult, formatStep, parseScenario, type StepResult } from '../conformance/scenario.js';

export interface ReplayOptions {
  /** Absent: $KVM_S390_BACKEND, else auto. */
  backend?: BackendChoice;
  /** Absent: $KVM_S390_PROFILE, else newest. */
  profile?: KernelProfile;
  json: boolean;
}

interface ReportSide {
  label: string;
}

const strip = (r: unknown) => {
  const { message: _m, ...rest } = (r ?? {}) as StepResult;
  return JSON.stringify(rest);
};

export function replayCommand(file: string, opts: ReplayOptions): number {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${file}: ${(err as Error).message}`);
  }
  const scenario = parseScenario(doc, file);
  const report = doc as { sides?: ReportSide[]; difference?: { step: number; results: unknown[] } };
  const { backend, label, why } = openChosenBackend(opts.backend, opts.profile);
  let results: StepResult[];
  try {
    results = new ScenarioRunner(backend).run(scenario.steps);
  } finally {
    backend.close();
  }
  // For a report: which recorded side this run agrees with at the differing step.
  let verdict: string | undefined;
  let matches: string[] | undefined;
  if (report.difference && report.sides && results[report.difference.step]) {
    const mine = strip(results[report.difference.step]);
    matches = report.sides.filter((_, i) => strip(report.difference!.results[i]) === mine).map((s) => s.label);
    verdict = matches.length
      ? `step ${report.difference.step + 1} matches ${matches.join(' and ')}`
      : `step ${report.difference.step + 1} matches neither recorded side (${report.sides.map((s) => s.label).join(', ')})`;
  }
  if (opts.json) {
    process.stdout.write(
      JSON.stringify({ backend: { kind: backend.kind, profile: backend.profile }, steps: scenario.steps.map((s, i) => ({ step: s, result: results[i] })), matches: matches ?? null }, null, 2) +
        '\n',
    );
    return 0;
  }
  const lines = [`Replaying ${file} on ${label} (${why}): ${scenario.steps.length} steps`];
  scenario.steps.forEach((s, i) => {
    lines.push(`${String(i + 1).padStart(3)}. ${formatStep(s)}`);
    lines.push(`     → ${formatResult(results[i]!)}`);
  });
  if (verdict) lines.push(`Recorded difference: ${verdict}`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
