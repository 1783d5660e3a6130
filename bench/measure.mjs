// Timing helpers for bench/run.mjs. Every figure is a median over several timed batches, after
// a warm-up, and an operation is always timed interleaved with its baseline (batch of the op,
// batch of the baseline, …) so that both see the same machine state (turbo, noise, GC).

const now = () => process.hrtime.bigint();

/**
 * A fresh batch loop per benchmark (new Function): each one has its own call site and
 * feedback vector, so one benchmark's closure cannot make another's call site polymorphic.
 */
export function makeLoop() {
  // eslint-disable-next-line no-new-func
  return new Function('fn', 'n', 'now', 'const t0 = now(); for (let i = 0; i < n; i++) fn(); return Number(now() - t0);');
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Iterations so that one batch of `fn` takes about `targetMs`. */
function calibrate(loop, fn, targetMs) {
  let n = 1;
  for (;;) {
    const ns = loop(fn, n, now);
    if (ns >= targetMs * 1e6 / 4 || n >= 1 << 26) return Math.max(1, Math.round(n * (targetMs * 1e6) / Math.max(ns, 1)));
    n *= 4;
  }
}

export const SETTINGS = {
  /** Timed batches per measurement (the median is reported). */
  runs: Number(process.env.BENCH_RUNS ?? 9),
  /** Warm-up batches (not timed). */
  warmup: Number(process.env.BENCH_WARMUP ?? 3),
  /** Length of one batch in ms. */
  batchMs: Number(process.env.BENCH_BATCH_MS ?? 25),
};

/** Median ns per call of `fn`. */
export function timeOne(fn, { batchMs = SETTINGS.batchMs, runs = SETTINGS.runs, warmup = SETTINGS.warmup } = {}) {
  const loop = makeLoop();
  const n = calibrate(loop, fn, batchMs);
  for (let i = 0; i < warmup; i++) loop(fn, n, now);
  const samples = [];
  for (let i = 0; i < runs; i++) samples.push(loop(fn, n, now) / n);
  return { ns: median(samples), samples, iterations: n };
}

/** Median ns per call of `fn` and of `base`, batches interleaved. */
export function timePair(fn, base, { batchMs = SETTINGS.batchMs, runs = SETTINGS.runs, warmup = SETTINGS.warmup } = {}) {
  const loopA = makeLoop();
  const loopB = makeLoop();
  const nA = calibrate(loopA, fn, batchMs);
  const nB = calibrate(loopB, base, batchMs);
  for (let i = 0; i < warmup; i++) {
    loopA(fn, nA, now);
    loopB(base, nB, now);
  }
  const a = [];
  const b = [];
  for (let i = 0; i < runs; i++) {
    a.push(loopA(fn, nA, now) / nA);
    b.push(loopB(base, nB, now) / nB);
  }
  return { ns: median(a), baseNs: median(b) };
}

export { median };
