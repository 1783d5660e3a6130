// The README's tables and figures match what the code does: the conformance table (cases per
// topic and their outcome on emulated/newest), the kernel-profile table, and the documented
// commands, options and environment variables exist. (The examples run in test/package.test.ts.)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/dist.js';
import { ALL_CASES, KERNEL_PROFILES, openBackend, runCases } from '../src/index.js';
import { readmeText } from './support/readme.js';

const readme = readmeText();

/** The rows of the README's conformance table: topic → [cases, passed, failed, skipped]. */
function conformanceTable(): Map<string, number[]> {
  const start = readme.indexOf('$ npx kvm-s390 conformance\n');
  expect(start).toBeGreaterThan(0);
  const rows = new Map<string, number[]>();
  for (const line of readme.slice(start).split('\n').slice(1)) {
    if (line.startsWith('Wall time')) break;
    const m = /^([a-z-]+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+[\d.]+$/.exec(line);
    if (m) rows.set(m[1]!, m.slice(2, 6).map(Number));
  }
  return rows;
}

describe('README figures', () => {
  it('the conformance table is what a run on emulated/newest gives', async () => {
    using backend = openBackend({ kind: 'emulated', profile: 'newest' });
    const results = await runCases(backend, ALL_CASES);
    const expected = new Map<string, number[]>();
    for (const r of [...results.map((x) => ({ ...x, key: x.topic })), ...results.map((x) => ({ ...x, key: 'total' }))]) {
      const row = expected.get(r.key) ?? [0, 0, 0, 0];
      row[0]! += 1;
      row[r.status === 'passed' ? 1 : r.status === 'failed' ? 2 : 3]! += 1;
      expected.set(r.key, row);
    }
    expect(Object.fromEntries(conformanceTable())).toEqual(Object.fromEntries(expected));
    expect(readme).toMatch(new RegExp(`Conformance on emulated/newest`));
  });

  it('the kernel-profile table lists every profile', () => {
    const section = readme.slice(readme.indexOf('### Kernel profiles'), readme.indexOf('### The conformance suite'));
    const listed = [...section.matchAll(/^\| `([^`]+)`/gm)].map((m) => m[1]);
    expect(listed).toEqual([...KERNEL_PROFILES]);
  });

  it('documents the commands, options and environment variables that exist', () => {
    for (const word of ['KVM_S390_BACKEND', 'KVM_S390_PROFILE', 'KVM_S390_ADDON', '--cases-module', '--quiet', '--differential', 'replay', 'explain', 'npm run docs', 'reports/differential-SEED']) {
      expect(readme, word).toContain(word);
    }
  });

  it('the performance table quotes bench/results.json (the committed run of npm run bench)', () => {
    const results = JSON.parse(readFileSync(path.join(ROOT, 'bench/results.json'), 'utf8')) as {
      rows: { ratio?: number; opsPerSec: number; mbPerSec?: number; baselineMbPerSec?: number }[];
    };
    const section = readme.slice(readme.indexOf('## Performance'), readme.indexOf('## Documentation'));
    const table = section.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| operation'));
    expect(table.length).toBeGreaterThan(5);
    const ratios = new Set(results.rows.filter((r) => r.ratio !== undefined).map((r) => r.ratio!.toFixed(2)));
    const shares = new Set(results.rows.filter((r) => r.mbPerSec && r.baselineMbPerSec).map((r) => ((r.mbPerSec! / r.baselineMbPerSec!) * 100).toFixed(0)));
    const millions = new Set(results.rows.map((r) => (r.opsPerSec / 1e6).toFixed(2)));
    for (const row of table) {
      const result = row.split('|')[2]!;
      for (const m of result.matchAll(/(\d+\.\d\d)×/g)) expect(ratios, `${m[1]}× in "${row}"`).toContain(m[1]);
      for (const m of result.matchAll(/(\d+) %/g)) expect(shares, `${m[1]} % in "${row}"`).toContain(m[1]);
      for (const m of result.matchAll(/(\d+\.\d\d) M/g)) expect(millions, `${m[1]} M in "${row}"`).toContain(m[1]);
    }
  });
});
