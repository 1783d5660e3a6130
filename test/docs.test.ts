// The shipped docs/ copies of the specification stay identical to the project's spec in
// shared/spec (beside the repository in every workspace and in CI), apart from their one-line
// header; and every docs/ page a source comment points at exists.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/dist.js';

const SHARED_SPEC = path.resolve(ROOT, '../shared/spec');

function withoutHeader(text: string): string {
  return text.replace(/^<!--[^\n]*-->\n\n/, '');
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

describe('shipped docs', () => {
  it.skipIf(!existsSync(SHARED_SPEC))('docs/memop-semantics.md and docs/selftest-vectors.md are the shared spec (skipped: no ../shared/spec here)', () => {
    for (const name of ['memop-semantics.md', 'selftest-vectors.md']) {
      const shipped = withoutHeader(readFileSync(path.join(ROOT, 'docs', name), 'utf8'));
      expect(shipped, `docs/${name} differs from shared/spec/${name}: copy it again`).toBe(readFileSync(path.join(SHARED_SPEC, name), 'utf8'));
    }
  });

  it('every docs/ page the sources cite ships', () => {
    const cited = new Set<string>();
    for (const file of sourceFiles(path.join(ROOT, 'src'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/docs\/([\w-]+\.md)/g)) cited.add(m[1]!);
    }
    expect(cited.size).toBeGreaterThan(1);
    for (const page of cited) expect(existsSync(path.join(ROOT, 'docs', page)), page).toBe(true);
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
    expect(pkg.files).toContain('docs');
  });

  it('no source comment cites the unshipped "spec §"', () => {
    const offenders = sourceFiles(path.join(ROOT, 'src')).filter((f) => /\bspec §/.test(readFileSync(f, 'utf8')));
    expect(offenders.map((f) => path.relative(ROOT, f))).toEqual([]);
  });
});
