/**
 * A binary min-heap of simulator events ordered by (time, sequence). The sequence number breaks ties
 * in insertion order, which keeps runs deterministic when two events fall on the same instant.
 *
 * The keys are kept beside the items, position for position, in two plain number arrays: the sift
 * loops compare only those. (The engine queues events of five shapes; reading `time` and `seq` off
 * them in every comparison was polymorphic, and the heap was the simulator's busiest code.)
 */
export interface Timed {
  readonly time: number;
  readonly seq: number;
}

export class EventHeap<E extends Timed> {
  private readonly items: E[] = [];
  private readonly times: number[] = [];
  private readonly seqs: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(item: E): void {
    const { items, times, seqs } = this;
    const time = item.time;
    const seq = item.seq;
    let i = items.length;
    items.push(item);
    times.push(time);
    seqs.push(seq);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const parentTime = times[parent]!;
      if (!(time < parentTime || (time === parentTime && seq < seqs[parent]!))) break;
      items[i] = items[parent]!;
      times[i] = parentTime;
      seqs[i] = seqs[parent]!;
      i = parent;
    }
    items[i] = item;
    times[i] = time;
    seqs[i] = seq;
  }

  /** Every queued item, in no particular order (for inspection: the stepping API's snapshot). */
  all(): readonly E[] {
    return this.items;
  }

  peek(): E | undefined {
    return this.items[0];
  }

  pop(): E | undefined {
    const { items, times, seqs } = this;
    const top = items[0];
    const last = items.pop();
    const lastTime = times.pop()!;
    const lastSeq = seqs.pop()!;
    if (top === undefined || last === undefined || items.length === 0) return top;
    const n = items.length;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && (times[right]! < times[left]! || (times[right] === times[left] && seqs[right]! < seqs[left]!))) child = right;
      const childTime = times[child]!;
      if (!(childTime < lastTime || (childTime === lastTime && seqs[child]! < lastSeq))) break;
      items[i] = items[child]!;
      times[i] = childTime;
      seqs[i] = seqs[child]!;
      i = child;
    }
    items[i] = last;
    times[i] = lastTime;
    seqs[i] = lastSeq;
    return top;
  }
}
