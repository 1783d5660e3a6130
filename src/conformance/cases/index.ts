// Every conformance case of the library, in a stable order.
import type { ConformanceCase } from '../types.js';
import { absoluteCases } from './absolute.js';
import { cmpxchgCases } from './cmpxchg.js';
import { storageKeyCases } from './storage-keys.js';
import { storageKeyBitCases } from './storage-key-bits.js';
import { apiCases } from './api.js';
import { selftestVcpuCases } from './selftest-vcpu.js';
import { logicalCases } from './logical.js';
import { logicalHistoryCases } from './logical-history.js';
import { translationChangeCases } from './translation-changes.js';

/**
 * Every conformance case of the library: the kernel selftest's scenarios and one case per rule
 * of docs/memop-semantics.md, for every backend.
 *
 * @example
 * ```ts
 * const results = await runCases(openBackend(), ALL_CASES);
 * ```
 */
export const ALL_CASES: readonly ConformanceCase[] = [
  ...absoluteCases,
  ...cmpxchgCases,
  ...storageKeyCases,
  ...storageKeyBitCases,
  ...selftestVcpuCases,
  ...logicalCases,
  ...logicalHistoryCases,
  ...translationChangeCases,
  ...apiCases,
];
