// Shared pieces of the fuzz tests (test/fuzz.test.ts, run long by `npm run fuzz`): the seed
// and case count, arbitrary "wrong" JS values, buffers of every kind a caller could pass, and
// the check that a thrown error is one of the library's typed errors.
import fc from 'fast-check';
import { KvmError } from '../src/errors.js';

/** An integer environment variable, or `fallback` when unset; anything else stops the run. */
function integerEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = /^(0x[0-9a-f]+|-?[0-9]+)$/i.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value)) throw new Error(`${name}="${text}" is not an integer`);
  return value;
}

/** FUZZ_SEED (decimal or 0x…) or a fixed default so `npm test` is reproducible. */
export const FUZZ_SEED = integerEnv('FUZZ_SEED', 0x6b766d) | 0;
/** FUZZ_RUNS: cases per property. `npm test` runs the short default. */
export const FUZZ_RUNS = integerEnv('FUZZ_RUNS', 0);

export function runsFor(defaultRuns: number): number {
  return FUZZ_RUNS > 0 ? FUZZ_RUNS : defaultRuns;
}

export function fcParams(defaultRuns: number, salt: number): fc.Parameters<unknown> {
  // Each property gets its own stream, derived from the one seed that is printed.
  return { seed: (FUZZ_SEED ^ Math.imul(salt, 0x9e3779b1)) | 0, numRuns: runsFor(defaultRuns), endOnFailure: false };
}

/** Values of every JS type that a careless caller might put anywhere. */
export const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    undefined,
    null,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    -0,
    -1,
    0.5,
    1.5,
    2 ** 31,
    2 ** 32,
    2 ** 53,
    2 ** 64,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    -(2 ** 53),
    '',
    '4',
    '0x10',
    true,
    false,
    -1n,
    1n << 64n,
    (1n << 64n) - 1n,
    1n << 200n,
    Symbol('junk'),
    {},
    [],
    [1, 2, 3],
    () => 0,
    new Date(0),
    new Map(),
    { valueOf: () => 4 },
    { length: 8 },
  ),
  fc.double(),
  fc.integer(),
  fc.bigInt(),
  fc.string({ maxLength: 4 }),
);

/** A buffer argument, described as data so that a failing case prints readably. */
export type BufferSpec =
  | { kind: 'absent' | 'null' }
  | { kind: 'u8' | 'pooled' | 'shared' | 'offset' | 'detached' | 'resizable' | 'int8' | 'clamped' | 'u16' | 'dataview' | 'arraybuffer' | 'array'; length: number; offset: number }
  | { kind: 'junk'; value: unknown };

export function bufferSpec(length: fc.Arbitrary<number>): fc.Arbitrary<BufferSpec> {
  const sized = (kind: Exclude<BufferSpec['kind'], 'absent' | 'null' | 'junk'>) =>
    fc.record({ kind: fc.constant(kind), length, offset: fc.integer({ min: 0, max: 40 }) });
  return fc.oneof(
    { weight: 12, arbitrary: sized('u8') },
    { weight: 3, arbitrary: sized('offset') },
    { weight: 3, arbitrary: sized('pooled') },
    { weight: 3, arbitrary: sized('shared') },
    { weight: 2, arbitrary: sized('detached') },
    { weight: 1, arbitrary: sized('resizable') },
    { weight: 1, arbitrary: fc.oneof(sized('int8'), sized('clamped'), sized('u16'), sized('dataview'), sized('arraybuffer'), sized('array')) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('absent' as const, 'null' as const) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('junk' as const), value: junk }) },
  );
}

export interface Materialized {
  value: unknown;
  /** The typed array handed over, if it is one that could legitimately be written. */
  view: Uint8Array | null;
  /** Bytes of everything the view's buffer holds, to see what a call changed. */
  snapshot(): Uint8Array | null;
}

let resizableWorks: boolean | undefined;
function makeResizable(length: number): ArrayBuffer | null {
  if (resizableWorks === false) return null;
  try {
    const ab = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(length, { maxByteLength: length * 2 + 16 });
    resizableWorks = true;
    return ab;
  } catch {
    resizableWorks = false;
    return null;
  }
}

/** Makes the buffer a spec describes, filled with a pattern derived from `fill`. */
export function materialize(spec: BufferSpec, fill: number): Materialized {
  const pattern = (u: Uint8Array) => {
    for (let i = 0; i < u.length; i++) u[i] = (fill + i * 131) & 0xff;
    return u;
  };
  const over = (view: Uint8Array, value: unknown = view): Materialized => ({
    value,
    view,
    snapshot: () => (view.buffer.byteLength === 0 && view.length === 0 ? new Uint8Array(0) : new Uint8Array(view.buffer).slice()),
  });
  switch (spec.kind) {
    case 'absent':
      return { value: undefined, view: null, snapshot: () => null };
    case 'null':
      return { value: null, view: null, snapshot: () => null };
    case 'junk':
      return { value: spec.value, view: null, snapshot: () => null };
    case 'u8':
      return over(pattern(new Uint8Array(spec.length)));
    case 'offset': {
      const ab = new ArrayBuffer(spec.offset + spec.length + 16);
      pattern(new Uint8Array(ab));
      return over(new Uint8Array(ab, spec.offset, spec.length));
    }
    case 'pooled': {
      // Small Buffers share Node's 8 KiB pool: a write past the view would hit someone else.
      const b = Buffer.allocUnsafe(spec.length);
      pattern(b);
      return over(b);
    }
    case 'shared': {
      const sab = new SharedArrayBuffer(spec.offset + spec.length + 16);
      pattern(new Uint8Array(sab));
      const view = new Uint8Array(sab, spec.offset, spec.length);
      return { value: view, view, snapshot: () => new Uint8Array(sab).slice() };
    }
    case 'detached': {
      const ab = new ArrayBuffer(spec.length);
      const view = pattern(new Uint8Array(ab));
      structuredClone(ab, { transfer: [ab] });
      return { value: view, view, snapshot: () => new Uint8Array(0) };
    }
    case 'resizable': {
      const ab = makeResizable(spec.length);
      if (ab === null) return over(pattern(new Uint8Array(spec.length)));
      const view = pattern(new Uint8Array(ab)); // length-tracking
      return over(view);
    }
    case 'int8':
      return { value: new Int8Array(spec.length).fill(7), view: null, snapshot: () => null };
    case 'clamped':
      return { value: new Uint8ClampedArray(spec.length).fill(7), view: null, snapshot: () => null };
    case 'u16':
      return { value: new Uint16Array(spec.length).fill(7), view: null, snapshot: () => null };
    case 'dataview':
      return { value: new DataView(new ArrayBuffer(spec.length)), view: null, snapshot: () => null };
    case 'arraybuffer':
      return { value: new ArrayBuffer(spec.length), view: null, snapshot: () => null };
    case 'array':
      return { value: Array.from({ length: Math.min(spec.length, 64) }, () => 7), view: null, snapshot: () => null };
  }
}

const ERR_CODES = new Set(['ERR_OUT_OF_RANGE', 'ERR_INVALID_ARG_TYPE', 'ERR_BUFFER_TOO_SMALL', 'ERR_INVALID_ARG_VALUE', 'ERR_BUFFER_OUT_OF_BOUNDS']);

/** Returns a short label when `err` is a typed error of this library; otherwise throws. */
export function typedError(err: unknown): string {
  if (err instanceof KvmError) {
    if (typeof err.code !== 'string' || !/^E[A-Z0-9]+$/.test(err.code) || !Number.isInteger(err.errno) || err.errno <= 0 || typeof err.syscall !== 'string') {
      throw new Error(`malformed KvmError escaped: ${String(err)} code=${String(err.code)} errno=${String(err.errno)}`);
    }
    return `KvmError ${err.code}`;
  }
  if ((err instanceof RangeError || err instanceof TypeError) && typeof (err as { code?: unknown }).code === 'string') {
    const code = (err as { code: string }).code;
    if (!ERR_CODES.has(code)) throw new Error(`argument error with an unexpected code ${code}: ${err.message}`);
    return `${err.name} ${code}`;
  }
  throw new Error(`an untyped error escaped: ${err instanceof Error ? `${err.name}: ${err.message}\n${err.stack}` : String(err)}`);
}

/** Index of the first byte where a and b differ in [from, to), or -1. */
export function firstDifference(a: Uint8Array, b: Uint8Array, from: number, to: number): number {
  if (Buffer.compare(a.subarray(from, to), b.subarray(from, to)) === 0) return -1;
  for (let i = from; i < to; i++) if (a[i] !== b[i]) return i;
  return -1;
}
