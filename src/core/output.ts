/**
 * The output buffer every algorithm fills between two `takeOutput()` calls. Keeping the ordering rule
 * (persist, then send, then report) in one place means no algorithm can release a message before the
 * durable state it depends on.
 */
import type { ElectionEvent, Envelope, Message, NodeId, Output } from './types.js';

export class OutputBuffer<M extends Message, D> {
  private durable: D | null = null;
  private messages: Envelope<M>[] = [];
  private events: ElectionEvent[] = [];

  /** Record that `state` must be durable before anything sent in this batch leaves the node. */
  persist(state: D): void {
    this.durable = state;
  }

  send(to: NodeId, message: M): void {
    this.messages.push({ to, message });
  }

  /** Send `message` to each of `targets` except `self`. */
  broadcast(targets: readonly NodeId[], self: NodeId, message: M): void {
    for (const to of targets) if (to !== self) this.messages.push({ to, message });
  }

  emit(event: ElectionEvent): void {
    this.events.push(event);
  }

  take(): Output<M, D> {
    const output: Output<M, D> = { persist: this.durable, messages: this.messages, events: this.events };
    this.durable = null;
    this.messages = [];
    this.events = [];
    return output;
  }
}
