#!/usr/bin/env node
// npm run fuzz: the long randomized run of test/fuzz*.test.ts. FUZZ_SEED picks the seed
// (default: a fresh one, printed first so the run can be repeated), FUZZ_RUNS the cases per
// property (default 100,000). Extra arguments go to vitest.
//   FUZZ_SEED=123 npm run fuzz          repeat a run
//   FUZZ_RUNS=1000000 npm run fuzz      longer
// The per-test time limit grows with FUZZ_RUNS (vitest's default 120 s is for `npm test`'s
// short runs); FUZZ_TIMEOUT_MS overrides it.
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';

/** Milliseconds a property may take per case on a slow, shared 2-core machine. */
const MS_PER_CASE = 10;
const MIN_TIMEOUT_MS = 120_000;

function integerFrom(name, text, min, max) {
  const value = /^(0x[0-9a-f]+|-?[0-9]+)$/i.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    console.error(`fuzz: ${name}="${text}" is not an integer in ${min}..${max}`);
    process.exit(2);
  }
  return value;
}

const env = (name) => (process.env[name] !== undefined && process.env[name] !== '' ? process.env[name] : undefined);
const root = fileURLToPath(new URL('../', import.meta.url));
const seed = env('FUZZ_SEED') === undefined ? randomInt(0, 2 ** 31 - 1) : integerFrom('FUZZ_SEED', env('FUZZ_SEED'), -(2 ** 31), 2 ** 32 - 1) | 0;
const runs = env('FUZZ_RUNS') === undefined ? 100_000 : integerFrom('FUZZ_RUNS', env('FUZZ_RUNS'), 1, 1e9);
const timeoutMs = env('FUZZ_TIMEOUT_MS') === undefined ? Math.max(MIN_TIMEOUT_MS, runs * MS_PER_CASE) : integerFrom('FUZZ_TIMEOUT_MS', env('FUZZ_TIMEOUT_MS'), 1000, 2 ** 31 - 1);
console.log(`fuzz: FUZZ_SEED=${seed} FUZZ_RUNS=${runs}, ${timeoutMs / 1000} s per property (repeat with: FUZZ_SEED=${seed} FUZZ_RUNS=${runs} npm run fuzz)`);
const vitest = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));
const r = spawnSync(process.execPath, [vitest, 'run', 'test/fuzz', `--testTimeout=${timeoutMs}`, `--hookTimeout=${timeoutMs}`, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, FUZZ_SEED: String(seed), FUZZ_RUNS: String(runs) },
});
console.log(`fuzz: ${r.status === 0 ? 'clean' : 'FAILED'} — FUZZ_SEED=${seed} FUZZ_RUNS=${runs}`);
process.exit(r.status ?? 1);
