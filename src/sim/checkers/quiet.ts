/** What the liveness checkers share: when the last fault happened, to check a promise once faults stopped. */
import type { Engine } from '../engine.js';
import { NO_VIOLATIONS, type Checker, type SimEvent } from '../events.js';

export abstract class AfterFaults implements Checker {
  abstract readonly name: string;
  readonly wants = ['fault'] as const;
  protected lastDisturbanceMs = 0;

  constructor(protected readonly engine: Engine) {}

  observe(event: SimEvent): readonly string[] {
    if (event.type === 'fault') this.lastDisturbanceMs = this.engine.now;
    return NO_VIOLATIONS;
  }

  /** Whether the last fault is at least `boundMs` ago and no message is being lost. */
  protected quietFor(boundMs: number): boolean {
    return this.engine.network.loss === 0 && this.engine.now - this.lastDisturbanceMs >= boundMs;
  }

  /** The promise, checked once when the run ends. */
  abstract finish(): readonly string[];
}
