// `kvm-s390 conformance`: the library's conformance cases without vitest, with a progress
// line, a summary by topic, JSON and JUnit reports, and a non-zero exit on any failure.
import { closeSync, openSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { openChosenBackend, type BackendChoice } from './backend-choice.js';
import { KERNEL_PROFILES, type KernelProfile } from '../contract.js';
import { ALL_CASES, runCases, selectCases } from '../conformance/index.js';
import type { CaseResult, ConformanceCase } from '../conformance/types.js';
import { seconds } from '../conformance/text.js';
import { table, UsageError } from './format.js';
import { junitXml, type JUnitRun } from './junit.js';

export interface ConformanceOptions {
  /** Absent: $KVM_S390_BACKEND, else auto (emulated for --profile all). */
  backend?: BackendChoice;
  /** A profile, 'all', or absent: $KVM_S390_PROFILE, else newest. */
  profile?: string;
  /** No progress on stderr. */
  quiet?: boolean;
  filter?: string;
  json?: string;
  junit?: string;
  /** An ES module exporting `cases`: more conformance cases, run after the library's. */
  casesModule?: string;
  /** Per-case limit in ms; a case that does not settle in time fails. */
  caseTimeoutMs?: number;
}

/**
 * A report file opened before the run, so that a path that cannot be written is a usage error
 * at once, not a stack trace after every case has run.
 */
class ReportFile {
  readonly #fd: number;

  constructor(readonly path: string, option: string) {
    try {
      this.#fd = openSync(path, 'w');
    } catch (err) {
      throw new UsageError(`${option} ${path}: cannot write it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }

  write(text: string): void {
    try {
      writeSync(this.#fd, text);
    } finally {
      closeSync(this.#fd);
    }
  }
}

async function loadCases(file: string): Promise<ConformanceCase[]> {
  let mod: { cases?: unknown; default?: unknown };
  try {
    mod = (await import(pathToFileURL(path.resolve(file)).href)) as typeof mod;
  } catch (err) {
    throw new UsageError(`--cases-module ${file}: ${(err as Error).message}`);
  }
  const cases = mod.cases ?? mod.default;
  const valid = (c: unknown): c is ConformanceCase => {
    const x = c as Partial<ConformanceCase> | null;
    return !!x && typeof x.id === 'string' && typeof x.topic === 'string' && typeof x.title === 'string' && typeof x.run === 'function';
  };
  if (!Array.isArray(cases) || !cases.every(valid)) {
    throw new UsageError(`--cases-module ${file}: must export "cases", an array of { id, topic, title, source, run(ctx) }`);
  }
  return cases;
}

interface Run {
  label: string;
  kind: string;
  profile: KernelProfile;
  reason: string;
  why: string;
  results: CaseResult[];
  durationMs: number;
  started: Date;
}

/** Where progress goes: stderr, overwritten in place on a terminal, one line per case otherwise. */
class Progress {
  readonly #tty = process.stderr.isTTY === true;
  #last = 0;

  update(label: string, r: CaseResult, index: number, total: number): void {
    const mark = r.status === 'passed' ? 'ok  ' : r.status === 'failed' ? 'FAIL' : 'skip';
    const count = `${String(index + 1).padStart(String(total).length)}/${total}`;
    if (this.#tty) {
      const width = process.stderr.columns ?? 100;
      const now = Date.now();
      if (r.status === 'failed') {
        process.stderr.write(`\r\x1b[K${mark} ${label} ${r.id}: ${r.message ?? ''}\n`);
      } else if (now - this.#last < 50 && index + 1 < total) {
        return;
      }
      this.#last = now;
      process.stderr.write(`\r\x1b[K${`[${count}] ${label} ${r.id}`.slice(0, width - 1)}`);
    } else {
      process.stderr.write(`${mark} [${count}] ${label} ${r.id}${r.status === 'passed' ? '' : ` — ${r.message ?? ''}`}\n`);
    }
  }

  done(): void {
    if (this.#tty) process.stderr.write('\r\x1b[K');
  }
}

function profilesOf(opt: string | undefined, backend: BackendChoice | undefined): (KernelProfile | undefined)[] {
  if (opt === undefined) return [undefined];
  if (opt === 'all') {
    if (backend !== undefined && backend !== 'emulated') throw new UsageError('--profile all needs the emulated backend (real KVM has one profile: its kernel)');
    return [...KERNEL_PROFILES];
  }
  if (!(KERNEL_PROFILES as readonly string[]).includes(opt)) {
    throw new UsageError(`--profile: "${opt}" is not one of ${KERNEL_PROFILES.join(', ')}, all`);
  }
  return [opt as KernelProfile];
}

function summaryRows(results: readonly CaseResult[]): (string | number)[][] {
  const topics = [...new Set(results.map((r) => r.topic))];
  const rows = topics.map((t) => {
    const rs = results.filter((r) => r.topic === t);
    const n = (s: string) => rs.filter((r) => r.status === s).length;
    return [t, rs.length, n('passed'), n('failed'), n('skipped'), (rs.reduce((s, r) => s + r.durationMs, 0) / 1000).toFixed(2)];
  });
  const n = (s: string) => results.filter((r) => r.status === s).length;
  rows.push(['total', results.length, n('passed'), n('failed'), n('skipped'), (results.reduce((s, r) => s + r.durationMs, 0) / 1000).toFixed(2)]);
  return rows;
}

export async function conformanceCommand(opts: ConformanceOptions): Promise<number> {
  const profiles = profilesOf(opts.profile, opts.backend);
  // --profile all is a comparison of models: it picks the emulated backend unless told otherwise.
  const kind = opts.profile === 'all' ? 'emulated' : opts.backend;
  const cases = opts.casesModule ? [...ALL_CASES, ...(await loadCases(opts.casesModule))] : ALL_CASES;
  const selected = selectCases(cases, opts.filter);
  if (selected.length === 0) throw new UsageError(`--filter "${opts.filter}" matches none of the ${cases.length} cases`);
  const jsonFile = opts.json && opts.json !== '-' ? new ReportFile(opts.json, '--json') : undefined;
  const junitFile = opts.junit ? new ReportFile(opts.junit, '--junit') : undefined;
  const runs: Run[] = [];
  const progress = opts.quiet ? null : new Progress();
  for (const profile of profiles) {
    const { backend, label, why: chosenBy } = openChosenBackend(kind, profile);
    const why = opts.profile === 'all' && opts.backend === undefined ? '--profile all' : chosenBy;
    const started = new Date();
    const t0 = performance.now();
    try {
      const results = await runCases(backend, cases, {
        filter: opts.filter,
        caseTimeoutMs: opts.caseTimeoutMs,
        onResult: (r, i, total) => progress?.update(label, r, i, total),
      });
      progress?.done();
      runs.push({ label, kind: backend.kind, profile: backend.profile, reason: backend.reason, why, results, durationMs: performance.now() - t0, started });
    } finally {
      backend.close();
    }
  }

  const out: string[] = [];
  for (const run of runs) {
    out.push(`Conformance on ${run.label} (${run.why}); host ${os.type()} ${os.release()} ${process.arch}`);
    if (opts.filter) out.push(`Filter "${opts.filter}": ${run.results.length} of ${cases.length} cases`);
    out.push('');
    out.push(table(['topic', 'cases', 'passed', 'failed', 'skipped', 'seconds'], summaryRows(run.results)));
    const failed = run.results.filter((r) => r.status === 'failed');
    if (failed.length) {
      out.push('');
      out.push('Failed:');
      for (const f of failed) out.push(`  ${f.id}: ${f.message ?? ''}`);
    }
    out.push(`Wall time: ${seconds(run.durationMs)}`);
    out.push('');
  }
  // With --json - the JSON owns stdout; the human summary moves to stderr.
  (opts.json === '-' ? process.stderr : process.stdout).write(out.join('\n'));

  if (opts.json) {
    const doc = {
      format: 'kvm-s390-conformance/1',
      host: { release: os.release(), arch: process.arch, node: process.version },
      filter: opts.filter ?? null,
      runs: runs.map((r) => ({
        label: r.label,
        backend: r.kind,
        profile: r.profile,
        reason: r.reason,
        chosenBy: r.why,
        startedAt: r.started.toISOString(),
        durationMs: Math.round(r.durationMs),
        totals: {
          cases: r.results.length,
          passed: r.results.filter((x) => x.status === 'passed').length,
          failed: r.results.filter((x) => x.status === 'failed').length,
          skipped: r.results.filter((x) => x.status === 'skipped').length,
        },
        results: r.results.map(({ id, topic, title, status, message, durationMs }) => ({ id, topic, title, status, message: message ?? null, durationMs: Number(durationMs.toFixed(3)) })),
      })),
    };
    const text = JSON.stringify(doc, null, 2) + '\n';
    if (opts.json === '-') process.stdout.write(text);
    else jsonFile!.write(text);
  }
  if (opts.junit) {
    const junitRuns: JUnitRun[] = runs.map((r) => ({ label: r.label, results: r.results, timestamp: r.started }));
    junitFile!.write(junitXml(junitRuns));
  }
  return runs.some((r) => r.results.some((x) => x.status === 'failed')) ? 1 : 0;
}
