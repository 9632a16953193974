// The targetRef policy engine: which policies select a proxy, in which order, merged how.
// Pure functions of (proxy view, policies); see docs/policies.md.
export * from './target-ref.js';
export * from './proxy-view.js';
export * from './select.js';
export * from './merge.js';
export * from './kinds.js';
export * from './rules.js';
export * from './destinations.js';
