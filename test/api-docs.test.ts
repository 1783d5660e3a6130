// The API reference is complete: TypeDoc (the same configuration as `npm run docs`) reports
// no warning — every export and member documented, no broken link — and every export has an
// @example, every function and method documents each parameter, its result and what it throws
// (constructors: their parameters).
import { Application, ReflectionKind, type DeclarationReflection, type SignatureReflection } from 'typedoc';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './support/dist.js';

/** Functions that cannot throw (pure lookups); everything else says what it throws. */
const NEVER_THROWS = new Set(['pgmName', 'errnoName']);
/** Result types with nothing to document under @returns. */
const NO_RESULT = new Set(['void', 'never', 'Promise<void>', 'void | Promise<void>']);

let exports: DeclarationReflection[];
let warnings: string[];

function hasTag(sig: SignatureReflection | DeclarationReflection, tag: `@${string}`): boolean {
  return sig.comment?.blockTags.some((t) => t.tag === tag) ?? false;
}

function callables(decl: DeclarationReflection): Array<{ name: string; sig: SignatureReflection }> {
  const own = (decl.signatures ?? []).map((sig) => ({ name: decl.name, sig }));
  const members = (decl.children ?? [])
    .filter((c) => c.kindOf(ReflectionKind.Method | ReflectionKind.Constructor) && !c.flags.isPrivate && !c.inheritedFrom && !c.flags.isExternal)
    .flatMap((c) => (c.signatures ?? []).map((sig) => ({ name: `${decl.name}.${c.name}`, sig })));
  return [...own, ...members];
}

beforeAll(async () => {
  warnings = [];
  const app = await Application.bootstrapWithPlugins({ options: path.join(ROOT, 'typedoc.json') });
  app.logger.log = (message: string, level: number) => {
    if (level >= 1) warnings.push(message);
  };
  const project = await app.convert();
  if (!project) throw new Error(`TypeDoc could not convert the sources:\n${warnings.join('\n')}`);
  app.validate(project);
  exports = (project.children ?? []).flatMap((c) => (c.kindOf(ReflectionKind.Module) ? (c.children ?? []) : [c]));
}, 120_000);

describe('API reference', () => {
  it('TypeDoc validation passes: nothing undocumented, no broken link', () => {
    expect(warnings).toEqual([]);
  });

  it('documents the public surface', () => {
    expect(exports.map((e) => e.name)).toEqual(expect.arrayContaining(['openBackend', 'Backend', 'Vm', 'Vcpu', 'KvmError', 'MEMOP', 'runCases', 'ALL_CASES', 'ConformanceCase']));
  });

  it('every export has an @example', () => {
    expect(exports.filter((e) => !hasTag(e, '@example') && !(e.signatures?.some((s) => hasTag(s, '@example')))).map((e) => e.name)).toEqual([]);
  });

  it('every function and method documents its parameters, result and throws', () => {
    const missing: string[] = [];
    for (const decl of exports) {
      for (const { name, sig } of callables(decl)) {
        for (const p of sig.parameters ?? []) if (!p.comment?.summary.length) missing.push(`${name}: @param ${p.name}`);
        const returnsVoid = NO_RESULT.has(sig.type?.toString() ?? 'void') || sig.kind === ReflectionKind.ConstructorSignature;
        if (!returnsVoid && !hasTag(sig, '@returns')) missing.push(`${name}: @returns`);
        const isConstructor = sig.kind === ReflectionKind.ConstructorSignature;
        if (!isConstructor && !NEVER_THROWS.has(name) && !hasTag(sig, '@throws')) missing.push(`${name}: @throws`);
      }
    }
    expect(missing).toEqual([]);
  });
});
