// The engine's own typed-array operations, taken once from %TypedArray%.prototype when this
// module loads. A caller's Uint8Array may be a subclass, carry own properties named
// `byteLength` or `set`, or be a Proxy: looking anything up on it runs the caller's code, which
// can detach or resize the buffer, or call back into us mid-access. These functions read and
// write the view's internal slots only, so they run no JavaScript but the engine's.
const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;

function getter(name: string | symbol): (this: unknown) => unknown {
  const descriptor = Object.getOwnPropertyDescriptor(TypedArrayPrototype, name);
  if (descriptor?.get === undefined) throw new Error(`%TypedArray%.prototype has no ${String(name)} getter`);
  return descriptor.get as (this: unknown) => unknown;
}

function method(name: string): (this: unknown, ...args: never[]) => unknown {
  const value = (TypedArrayPrototype as Record<string, unknown>)[name];
  if (typeof value !== 'function') throw new Error(`%TypedArray%.prototype has no ${name} method`);
  return value as (this: unknown, ...args: never[]) => unknown;
}

// `call.bind(f)` turns `f` into a plain function of (this, ...args), the way Node's own
// primordials do; V8 calls it as directly as `f` itself.
const call = Function.prototype.call;
const tagOf = call.bind(getter(Symbol.toStringTag)) as (value: unknown) => string | undefined;
const lengthOf = call.bind(getter('byteLength')) as (view: Uint8Array) => number;
const offsetOf = call.bind(getter('byteOffset')) as (view: Uint8Array) => number;
const bufferOf = call.bind(getter('buffer')) as (view: Uint8Array) => ArrayBufferLike;
const setInto = call.bind(method('set')) as (target: Uint8Array, source: Uint8Array, offset: number) => void;
const fillIn = call.bind(method('fill')) as (target: Uint8Array, value: number, start: number, end: number) => void;

/** True for a real Uint8Array or Buffer (any subclass), false for everything else, Proxies included. */
export function isUint8Array(value: unknown): value is Uint8Array {
  return tagOf(value) === 'Uint8Array';
}

/**
 * The bytes a Uint8Array holds now: 0 when its ArrayBuffer is detached or a shrunk resizable
 * buffer left it out of bounds. Never `.length` or an own `byteLength`: besides being
 * overridable, on Node 20 (V8 11.3) optimized code that has seen SharedArrayBuffer- or
 * resizable-buffer-backed views can return a detached view's old `.length`
 * (test/robustness.test.ts); the intrinsic getter checks for detachment every time.
 */
export function byteLengthOf(view: Uint8Array): number {
  return lengthOf(view);
}

/** A plain Uint8Array over `length` bytes of `view` from `start` on: no species, no subclass. */
export function plainView(view: Uint8Array, start: number, length: number): Uint8Array {
  return new Uint8Array(bufferOf(view), offsetOf(view) + start, length);
}

/** `target.set(source, offset)` as the engine does it, whatever `target` or `source` override. */
export function copyInto(target: Uint8Array, source: Uint8Array, offset: number): void {
  setInto(target, source, offset);
}

/** `target.fill(0, start, end)` as the engine does it. */
export function zeroFill(target: Uint8Array, start: number, end: number): void {
  fillIn(target, 0, start, end);
}
