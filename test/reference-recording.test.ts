// Against a real machine a step that differs only in the reference bit is a machine difference
// (the architecture lets R be missed or set spuriously); everything else, the change bit
// included, must still match, and comparing goes on past such a step.
import { describe, expect, it } from 'vitest';
import { compareRuns, firstDifference } from '../src/conformance/differential.js';
import { REFERENCE_RECORDING, withoutReferenceBits } from '../src/conformance/reference-recording.js';
import type { StepResult } from '../src/conformance/scenario.js';
import { ScenarioRunner, type Step } from '../src/conformance/scenario.js';
import { openBackend } from '../src/api/backend.js';

describe('withoutReferenceBits', () => {
  it('clears R in key bytes and KEYOP answers and leaves ACC, F and C alone', () => {
    const masked = withoutReferenceBits({ ret: 0, keysAfter: '9c04fe', keys: '06', key: '0x9e', buf: '0404' });
    expect(masked).toEqual({ ret: 0, keysAfter: '9800fa', keys: '02', key: '0x9a', buf: '0404' });
  });

  it('leaves results that carry no keys as they are', () => {
    for (const r of [{ ret: 0, keysAfter: 'outside' }, { ret: 0, keysAfter: null }, { errno: 'EFAULT', keysAfter: { errno: 'EFAULT' } }]) {
      expect(withoutReferenceBits(r)).toEqual(r);
    }
  });
});

describe('compareRuns', () => {
  const a: StepResult[] = [{ ok: true }, { ret: 0, keysAfter: '00' }, { ret: 0, keysAfter: '06' }];
  const rOnly: StepResult[] = [{ ok: true }, { ret: 0, keysAfter: '04' }, { ret: 0, keysAfter: '06' }];
  const cToo: StepResult[] = [{ ok: true }, { ret: 0, keysAfter: '04' }, { ret: 0, keysAfter: '04' }];

  it('between two models every bit counts', () => {
    expect(compareRuns(a, rOnly, false)).toEqual({ diff: 1, referenceOnly: -1 });
    expect(firstDifference(a, rOnly)).toBe(1);
  });

  it('against a real machine an R-only step is noted and the comparison goes on', () => {
    expect(compareRuns(a, rOnly, true)).toEqual({ diff: -1, referenceOnly: 1 });
  });

  it('a change-bit difference after it is still a disagreement', () => {
    expect(compareRuns(a, cToo, true)).toEqual({ diff: 2, referenceOnly: 1 });
  });

  it('the explanation points at the errata', () => {
    expect(REFERENCE_RECORDING.source).toMatch(/spec-errata\.md/);
  });
});

describe('on results the runner produces', () => {
  // The same scenario with and without a read: the only trace the read leaves is R on its page.
  const base: Step[] = [
    { do: 'createVm', vm: 0, memorySize: '0x100000' },
    { do: 'setStorageKeys', vm: 0, startGfn: '0x0', keys: '00'.repeat(4) },
  ];
  const read: Step = { do: 'vm.memop', vm: 0, desc: { op: 4, gaddr: '0x1ff8', size: 8, flags: '0x0', key: 0, ar: 0, buf: { repeat: '00', length: 8 } } } as Step;
  const probe: Step = { do: 'getStorageKeys', vm: 0, startGfn: '0x0', count: 4 };
  const write: Step = { do: 'vm.memop', vm: 0, desc: { op: 5, gaddr: '0x1000', size: 1, flags: '0x0', key: 0, ar: 0, buf: '01' } } as Step;

  function run(steps: Step[]): StepResult[] {
    const backend = openBackend({ kind: 'emulated', profile: 'newest' });
    try {
      return new ScenarioRunner(backend).run(steps);
    } finally {
      backend.close();
    }
  }

  it('a read the machine did not record is tolerated, a write it did not record is not', () => {
    const withRead = run([...base, read, probe]);
    const withoutRead = run([...base, { ...probe }, probe]);
    expect(withRead[3]!.keys).toBe('00040000');
    expect(compareRuns(withRead.slice(3), withoutRead.slice(3), true)).toEqual({ diff: -1, referenceOnly: 0 });
    const withWrite = run([...base, write, probe]);
    expect(withWrite[3]!.keys).toBe('00060000');
    expect(compareRuns(withWrite.slice(3), withoutRead.slice(3), true).diff).toBe(0);
  });
});
