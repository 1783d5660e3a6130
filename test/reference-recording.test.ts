// Against a real host a step whose results differ only in reference bits the model set and the
// host left unset is a machine difference (the architecture lets a reference go unrecorded);
// everything else, R the host set where the model did not and the change bit included, must
// still match, and comparing goes on past such a step.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/dist.js';
import { compareRuns } from '../src/conformance/differential.js';
import { REFERENCE_RECORDING, onlyMissedReferences } from '../src/conformance/reference-recording.js';
import { ScenarioRunner, type Step, type StepResult } from '../src/conformance/scenario.js';
import { openBackend } from '../src/api/backend.js';

describe('onlyMissedReferences(real, model)', () => {
  it('excuses R the model set and the host did not, in key bytes and KEYOP answers', () => {
    expect(onlyMissedReferences({ ret: 0, keysAfter: '9800fa' }, { ret: 0, keysAfter: '9c04fe' })).toBe(true);
    expect(onlyMissedReferences({ ret: 0, keys: '02' }, { ret: 0, keys: '06' })).toBe(true);
    expect(onlyMissedReferences({ ret: 0, key: '0x9a' }, { ret: 0, key: '0x9e' })).toBe(true);
  });

  it('does not excuse R the host set and the model did not', () => {
    expect(onlyMissedReferences({ ret: 4, keysAfter: '04' }, { ret: 4, keysAfter: '00' })).toBe(false);
    expect(onlyMissedReferences({ ret: 0, key: '0x4' }, { ret: 0, key: '0x0' })).toBe(false);
  });

  it('does not excuse C, ACC, F, data or return codes, nor equal results', () => {
    expect(onlyMissedReferences({ ret: 0, keysAfter: '04' }, { ret: 0, keysAfter: '06' })).toBe(false);
    expect(onlyMissedReferences({ ret: 0, keysAfter: '30' }, { ret: 0, keysAfter: '34' })).toBe(true);
    expect(onlyMissedReferences({ ret: 0, keysAfter: '20' }, { ret: 0, keysAfter: '34' })).toBe(false);
    expect(onlyMissedReferences({ ret: 0, keysAfter: '00' }, { ret: 0, keysAfter: '0c' })).toBe(false);
    expect(onlyMissedReferences({ ret: 0, buf: '00', keysAfter: '00' }, { ret: 0, buf: '01', keysAfter: '04' })).toBe(false);
    expect(onlyMissedReferences({ ret: 5, keysAfter: '00' }, { ret: 0, keysAfter: '04' })).toBe(false);
    expect(onlyMissedReferences({ ret: 0, keysAfter: '04' }, { ret: 0, keysAfter: '04' })).toBe(false);
    expect(onlyMissedReferences({ ret: 0, keysAfter: 'outside' }, { ret: 0, keysAfter: null })).toBe(false);
  });
});

describe('compareRuns', () => {
  const model: StepResult[] = [{ ok: true }, { ret: 0, keysAfter: '04' }, { ret: 0, keysAfter: '06' }];
  const missed: StepResult[] = [{ ok: true }, { ret: 0, keysAfter: '00' }, { ret: 0, keysAfter: '06' }];
  const missedThenC: StepResult[] = [{ ok: true }, { ret: 0, keysAfter: '00' }, { ret: 0, keysAfter: '04' }];

  it('between two models every bit counts', () => {
    expect(compareRuns(missed, model, null)).toEqual({ diff: 1, referenceOnly: -1 });
    expect(compareRuns(model, missed, null)).toEqual({ diff: 1, referenceOnly: -1 });
  });

  it('a reference the host did not record is noted and the comparison goes on, on either side', () => {
    expect(compareRuns(missed, model, 0)).toEqual({ diff: -1, referenceOnly: 1 });
    expect(compareRuns(model, missed, 1)).toEqual({ diff: -1, referenceOnly: 1 });
  });

  it('R the host set where the model did not is a disagreement', () => {
    expect(compareRuns(model, missed, 0)).toEqual({ diff: 1, referenceOnly: -1 });
  });

  it('a change-bit difference after a missed reference is still a disagreement', () => {
    expect(compareRuns(missedThenC, model, 0)).toEqual({ diff: 2, referenceOnly: 1 });
  });

  it('the explanation names an errata entry that exists', () => {
    const heading = /^docs\/spec-errata\.md, "(.+)"$/.exec(REFERENCE_RECORDING.source)?.[1];
    expect(heading).toBeDefined();
    expect(readFileSync(path.join(ROOT, 'docs/spec-errata.md'), 'utf8').split('\n')).toContain(`## ${heading}`);
  });
});

describe('on results the runner produces', () => {
  // The same scenario with and without a read: the only trace the read leaves is R on its page.
  const base: Step[] = [
    { do: 'createVm', vm: 0, memorySize: '0x100000' },
    { do: 'setStorageKeys', vm: 0, startGfn: '0x0', keys: '00'.repeat(4) },
  ];
  const read = { do: 'vm.memop', vm: 0, desc: { op: 4, gaddr: '0x1ff8', size: 8, flags: '0x0', key: 0, ar: 0, buf: { repeat: '00', length: 8 } } } as Step;
  const write = { do: 'vm.memop', vm: 0, desc: { op: 5, gaddr: '0x1000', size: 1, flags: '0x0', key: 0, ar: 0, buf: '01' } } as Step;
  const probe: Step = { do: 'getStorageKeys', vm: 0, startGfn: '0x0', count: 4 };

  function run(steps: Step[]): StepResult[] {
    const backend = openBackend({ kind: 'emulated', profile: 'newest' });
    try {
      return new ScenarioRunner(backend).run(steps);
    } finally {
      backend.close();
    }
  }

  it('a read the host did not record is tolerated; one it recorded that the model did not, or a missed write, is not', () => {
    const withRead = run([...base, read, probe]).slice(3);
    const withoutRead = run([...base, probe, probe]).slice(3);
    const withWrite = run([...base, write, probe]).slice(3);
    expect(withRead[0]!.keys).toBe('00040000');
    expect(withWrite[0]!.keys).toBe('00060000');
    expect(compareRuns(withoutRead, withRead, 0)).toEqual({ diff: -1, referenceOnly: 0 });
    expect(compareRuns(withRead, withoutRead, 0).diff).toBe(0);
    expect(compareRuns(withoutRead, withWrite, 0).diff).toBe(0);
  });
});
