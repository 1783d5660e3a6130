// Assertions for cases, independent of any test runner (the CLI runs cases without vitest).
import assert from 'node:assert/strict';
import { pgmName } from '../abi/constants.js';
import { KvmError } from '../errors.js';

export { assert };

/**
 * Asserts that `fn` throws a KvmError with errno name `code` (one of `code` when a list), and
 * that the error names the rule that refused the call (its `reason`).
 */
export function expectErrno(fn: () => unknown, code: string | readonly string[], what = 'the call'): KvmError {
  const allowed = typeof code === 'string' ? [code] : code;
  let result: unknown;
  try {
    result = fn();
  } catch (err) {
    if (err instanceof KvmError) {
      assert.ok(allowed.includes(err.code), `${what}: expected ${allowed.join(' or ')}, got ${err.code} (${err.message})`);
      assert.ok(err.reason !== null && err.reason.length > 0, `${what}: ${err.code} carries no reason (${err.message})`);
      assert.ok(!err.reason.startsWith('no argument rule'), `${what}: no rule of the model explains ${err.code}: ${err.reason}`);
      return err;
    }
    throw err;
  }
  assert.fail(`${what}: expected ${allowed.join(' or ')}, but it returned ${String(result)}`);
}

const showCode = (code: number) => (code === 0 ? '0 (success)' : `${pgmName(code)} (0x${code.toString(16)})`);

/** Asserts a memop result equals `expected` (0 or a program-interruption code). */
export function expectResult(actual: number, expected: number, what = 'memop'): void {
  assert.equal(actual, expected, `${what}: expected ${showCode(expected)}, got ${showCode(actual)}`);
}

/** Asserts two byte arrays are equal, reporting the first differing offset. */
export function expectBytes(actual: Uint8Array, expected: Uint8Array, what = 'bytes'): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) {
      assert.fail(`${what}: first difference at offset ${i}: 0x${actual[i]!.toString(16)} != 0x${expected[i]!.toString(16)}`);
    }
  }
}

/** Asserts every byte equals `value`. */
export function expectFilled(actual: Uint8Array, value: number, what = 'bytes'): void {
  const i = actual.findIndex((b) => b !== value);
  if (i >= 0) assert.fail(`${what}: byte ${i} is 0x${actual[i]!.toString(16)}, expected all 0x${value.toString(16)}`);
}
