/**
 * Batching of calls made while earlier ones run (e.g. many changes in one statement).
 */
export { makeBatcher, type Batcher, type BatcherOptions } from "./batcher.js";
