/** What the liveness checkers share: when the last fault happened, to check a promise once faults stopped. */
import type { Engine } from '../engine.js';
import { NO_VIOLATIONS, type Checker, type SimEvent, type SimEventType } from '../events.js';

export abstract class AfterFaults implements Checker {
  abstract readonly name: string;
  readonly wants: readonly SimEventType[] = ['fault'];
  protected lastDisturbanceMs = 0;
  /** Whether any fault happened yet (else the quiet time counts from the start). */
  protected sawFault = false;

  constructor(protected readonly engine: Engine) {}

  observe(event: SimEvent): readonly string[] {
    if (event.type === 'fault') {
      this.lastDisturbanceMs = this.engine.now;
      this.sawFault = true;
    }
    return NO_VIOLATIONS;
  }

  /** Whether the last fault is at least `boundMs` ago and no message is being lost. */
  protected quietFor(boundMs: number): boolean {
    return this.engine.network.loss === 0 && this.engine.now - this.lastDisturbanceMs >= boundMs;
  }

  /** The promise, checked once when the run ends. */
  abstract finish(): readonly string[];
}
