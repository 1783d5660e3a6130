#!/usr/bin/env node
// npm run fuzz: the long randomized run of test/fuzz*.test.ts. FUZZ_SEED picks the seed
// (default: a fresh one, printed first so the run can be repeated), FUZZ_RUNS the cases per
// property (default 100,000). Extra arguments go to vitest.
//   FUZZ_SEED=123 npm run fuzz          repeat a run
//   FUZZ_RUNS=1000000 npm run fuzz      longer
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const seed = process.env.FUZZ_SEED && process.env.FUZZ_SEED !== '' ? Number(process.env.FUZZ_SEED) | 0 : randomInt(0, 2 ** 31 - 1);
const runs = process.env.FUZZ_RUNS && process.env.FUZZ_RUNS !== '' ? Number(process.env.FUZZ_RUNS) : 100_000;
console.log(`fuzz: FUZZ_SEED=${seed} FUZZ_RUNS=${runs} (repeat with: FUZZ_SEED=${seed} FUZZ_RUNS=${runs} npm run fuzz)`);
const vitest = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));
const r = spawnSync(process.execPath, [vitest, 'run', 'test/fuzz', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, FUZZ_SEED: String(seed), FUZZ_RUNS: String(runs) },
});
console.log(`fuzz: ${r.status === 0 ? 'clean' : 'FAILED'} — FUZZ_SEED=${seed} FUZZ_RUNS=${runs}`);
process.exit(r.status ?? 1);
