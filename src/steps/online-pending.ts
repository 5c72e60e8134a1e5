import type { StepKind } from '../plan/model.js';
import type { StepHandler } from './handler.js';

/** Handlers for online-mode kinds; the planner does not emit these kinds yet. */
export function notYetSupported<K extends StepKind>(kind: K): StepHandler<K> {
  return {
    render: (step) => step.sql,
    run: () => Promise.reject(new Error(`step kind ${kind} (online mode) is not supported by this version; use mode: offline`)),
  };
}
