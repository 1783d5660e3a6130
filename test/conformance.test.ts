// The library's conformance cases, run unchanged against every backend this host has:
// the emulated backend for each kernel profile, and real KVM when it can be opened.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { ALL_CASES, runCase } from '../src/conformance/index.js';
import type { Backend } from '../src/index.js';
import { emulatedBackends, realKvm, type BackendUnderTest } from './backends.js';

function suiteFor(target: BackendUnderTest): void {
  describe(target.name, () => {
    let backend: Backend;
    beforeAll(() => {
      backend = target.open();
    });
    afterAll(() => backend?.close());
    for (const c of ALL_CASES) {
      it(`${c.id}: ${c.title}`, async (ctx) => {
        const result = await runCase(backend, c);
        if (result.status === 'skipped') ctx.skip(result.message);
        if (result.status === 'failed') throw result.error;
      });
    }
  });
}

for (const target of emulatedBackends) suiteFor(target);

const kvm = realKvm();
if ('backend' in kvm) suiteFor(kvm.backend);
else describe.skip(`kvm (no KVM: ${kvm.unavailable})`, () => it('real-backend conformance', () => {}));
