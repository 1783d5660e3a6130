export * from './constants.js';
export * from './structs.js';
export * from './flags.js';
