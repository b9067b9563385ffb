export * from './hec/index.js';
export * from './kafka/index.js';
