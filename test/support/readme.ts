// The README's runnable examples: each fenced block after an `<!-- example: NAME -->` line.
// `// → TEXT` on a line that logs says what it prints; a test runs the examples and compares.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './dist.js';

export interface ReadmeExample {
  readonly name: string;
  /** 'js' runs in every consumer; 'ts' only in the TypeScript ones. */
  readonly lang: 'js' | 'ts';
  readonly code: string;
  /** The `// →` annotations, in order. */
  readonly expected: string[];
}

export function readmeText(): string {
  return readFileSync(path.join(ROOT, 'README.md'), 'utf8');
}

export function readmeExamples(): ReadmeExample[] {
  const examples: ReadmeExample[] = [];
  const block = /<!-- example: ([\w-]+) -->\n```(js|ts)\n([\s\S]*?)\n```/g;
  for (const m of readmeText().matchAll(block)) {
    const code = m[3]!;
    const expected = [...code.matchAll(/\/\/ → (.*)$/gm)].map((a) => a[1]!.trim());
    examples.push({ name: m[1]!, lang: m[2] as 'js' | 'ts', code, expected });
  }
  return examples;
}

/** The same example for a CommonJS consumer: its `import { … } from 'kvm-s390'` as require(). */
export function asCommonJs(code: string): string {
  return code.replace(/^import \{([^}]*)\} from '([^']+)';$/gm, (_, names: string, from: string) => `const {${names}} = require('${from}');`);
}

/**
 * Checks printed lines against the annotations: each annotation starts with what the line
 * printed, followed by nothing or by a space and a remark ("4 (PGM_PROTECTION)").
 */
export function mismatches(example: ReadmeExample, stdout: string): string[] {
  const printed = stdout.split('\n').filter((line) => line.length > 0);
  const problems: string[] = [];
  if (printed.length !== example.expected.length) problems.push(`${example.name}: printed ${printed.length} lines, the README annotates ${example.expected.length}`);
  example.expected.forEach((want, i) => {
    const got = printed[i];
    const ok = got !== undefined && got.length > 0 && want.startsWith(got) && (want.length === got.length || /[\s:,]/.test(want[got.length]!));
    if (!ok) problems.push(`${example.name} line ${i + 1}: printed ${JSON.stringify(got)}, the README says "→ ${want}"`);
  });
  return problems;
}
