/**
 * The embedding API's event listeners (node.ts `on`, NodeEvents): a typed registry, one set of
 * listeners per event. A listener's exception is the embedding service's bug: it is surfaced like an
 * EventEmitter would, but only after the node has finished the step that emitted (a microtask), so it
 * never interrupts the host loop.
 */
type Listener = (payload: never) => void;

export class Listeners<Events extends object> {
  private readonly byEvent = new Map<keyof Events, Set<Listener>>();

  /** Subscribes to an event; returns the function that unsubscribes. */
  on<E extends keyof Events>(event: E, listener: (payload: Events[E]) => void): () => void {
    let set = this.byEvent.get(event);
    if (!set) this.byEvent.set(event, (set = new Set()));
    set.add(listener as Listener);
    return () => void set.delete(listener as Listener);
  }

  /** Calls every listener of `event`; returns whether anyone listens. */
  emit<E extends keyof Events>(event: E, payload: Events[E]): boolean {
    const listeners = this.byEvent.get(event);
    if (!listeners || listeners.size === 0) return false;
    for (const listener of listeners) {
      try {
        (listener as (payload: Events[E]) => void)(payload);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    return true;
  }
}
