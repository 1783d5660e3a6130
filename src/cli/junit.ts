// JUnit XML as CI systems read it (Jenkins, GitLab, GitHub test reporters): one <testsuite>
// per backend and topic, one <testcase> per conformance case, <failure> and <skipped> children.
import os from 'node:os';
import type { CaseResult } from '../conformance/types.js';

/** Text or attribute value: the five XML specials escaped, characters XML 1.0 forbids dropped. */
export function xmlEscape(text: string): string {
  return text
    .replace(/[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\r/g, '&#13;')
    .replace(/\n/g, '&#10;')
    .replace(/\t/g, '&#9;');
}

/** Element text keeps its line breaks readable (only attribute values need them escaped). */
function xmlText(text: string): string {
  return text
    .replace(/[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

export interface JUnitRun {
  /** e.g. 'emulated/newest' or 'kvm' */
  label: string;
  results: readonly CaseResult[];
  timestamp: Date;
}

const secs = (ms: number) => (ms / 1000).toFixed(3);

export function junitXml(runs: readonly JUnitRun[]): string {
  const all = runs.flatMap((r) => r.results);
  const count = (rs: readonly CaseResult[], s: string) => rs.filter((r) => r.status === s).length;
  const total = (rs: readonly CaseResult[]) => rs.reduce((t, r) => t + r.durationMs, 0);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(
    `<testsuites name="kvm-s390 conformance" tests="${all.length}" failures="${count(all, 'failed')}" errors="0" skipped="${count(all, 'skipped')}" time="${secs(total(all))}">`,
  );
  let id = 0;
  for (const run of runs) {
    const topics = [...new Set(run.results.map((r) => r.topic))];
    for (const topic of topics) {
      const rs = run.results.filter((r) => r.topic === topic);
      const suite = `${run.label}.${topic}`;
      out.push(
        `  <testsuite id="${id++}" name="${xmlEscape(suite)}" package="kvm-s390" hostname="${xmlEscape(os.hostname())}" timestamp="${run.timestamp.toISOString().slice(0, 19)}" tests="${rs.length}" failures="${count(rs, 'failed')}" errors="0" skipped="${count(rs, 'skipped')}" time="${secs(total(rs))}">`,
      );
      for (const r of rs) {
        const open = `    <testcase classname="${xmlEscape(`kvm-s390.${suite}`)}" name="${xmlEscape(`${r.id}: ${r.title}`)}" time="${secs(r.durationMs)}"`;
        if (r.status === 'passed') {
          out.push(`${open}/>`);
          continue;
        }
        out.push(`${open}>`);
        if (r.status === 'skipped') {
          out.push(`      <skipped message="${xmlEscape(r.message ?? '')}"/>`);
        } else {
          const err = r.error;
          const type = err instanceof Error ? err.name : 'Error';
          const detail = err instanceof Error && err.stack ? err.stack : (r.message ?? '');
          out.push(`      <failure message="${xmlEscape(r.message ?? 'failed')}" type="${xmlEscape(type)}">${xmlText(detail)}</failure>`);
        }
        out.push('    </testcase>');
      }
      out.push('  </testsuite>');
    }
  }
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}
