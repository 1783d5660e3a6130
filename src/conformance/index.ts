export { ALL_CASES } from './cases/index.js';
export { runCase, runCases, selectCases, SkipCase, type RunOptions } from './runner.js';
export type { CaseContext, CaseResult, CaseStatus, ConformanceCase } from './types.js';
export { SeededRandom } from './random.js';
