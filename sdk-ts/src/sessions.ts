// Subscriptions and consumer-group members as async iterators. The addon hands out batches (every
// message ready at once crosses in one promise); leaving a `for await` loop (`return()`) ends the
// native session, and garbage collection frees it if nobody does.
import type { NativeMember, NativeSubscription } from "./native";
import { call, type CallOptions } from "./call";
import { type NackAction, type RecordedEvent, type SubscriptionMessage, nackActionCode } from "./model";
import { decodeDeliveryBatch, decodeMessageBatch } from "./packed";
import { ClosedError } from "./errors";

/** How many messages one native call may hand out. */
const BATCH = 512;
/** What a native `next` resolves to when nothing came in time, or the session is over. */
const TIMEOUT = -2;
const ENDED = -3;

/** What `poll` gives when nothing came within its timeout. */
export const TIMED_OUT = "timeout" as const;
/** What `poll` gives once the session is over. */
export const ENDED_SESSION = "ended" as const;

/** What both kinds of session share: a queue filled a batch at a time. */
abstract class Session<T> implements AsyncIterableIterator<T>, AsyncDisposable {
  #queue: T[] = [];
  #head = 0;
  #ended = false;
  readonly #signal: AbortSignal | undefined;

  protected constructor(signal: AbortSignal | undefined) {
    this.#signal = signal;
    // Aborting the signal given at subscribe or join time ends the session even when nobody
    // is waiting on it.
    signal?.addEventListener(
      "abort",
      () => {
        this.#ended = true;
        this.cancel();
      },
      { once: true },
    );
  }

  protected abstract fetch(timeoutMs: number, signal: AbortSignal | undefined): Promise<Buffer | number>;
  /** The items of a native batch (docs: bindings/node/README.md). */
  protected abstract decodeBatch(batch: Buffer): T[];
  /** Ends the native session. */
  abstract cancel(): void;

  /**
   * What a cancelled session fetched but did not hand out is not handed out: a member's
   * deliveries went back to its group when it left.
   */
  protected end(): void {
    this.#queue = [];
    this.#head = 0;
    this.#ended = true;
  }

  /**
   * The next item, waiting at most `timeoutMs` (absent: as long as it takes): `"timeout"` when
   * nothing came in time (the session goes on), `"ended"` once it is over. A failure that ended
   * the session (a tombstoned stream, a closed store) is thrown once; then it is `"ended"`.
   */
  async poll(timeoutMs?: number, options: CallOptions = {}): Promise<T | typeof TIMED_OUT | typeof ENDED_SESSION> {
    if (this.#head < this.#queue.length) return this.#take();
    if (this.#ended) return ENDED_SESSION;
    // Errors are the native session's to repeat or not: a subscription's failure comes once,
    // then "ended"; a member of a deleted group gets NOT_FOUND from every call.
    const batch = await this.fetch(timeoutMs ?? -1, options.signal ?? this.#signal);
    if (this.#ended) return ENDED_SESSION; // cancelled while it waited
    if (batch === TIMEOUT) return TIMED_OUT;
    if (batch === ENDED || typeof batch === "number") {
      this.#ended = true;
      return ENDED_SESSION;
    }
    this.#queue = this.decodeBatch(batch);
    this.#head = 0;
    return this.#take();
  }

  #take(): T {
    const item = this.#queue[this.#head];
    this.#queue[this.#head++] = undefined as unknown as T; // let it be collected once handed out
    return item;
  }

  async next(): Promise<IteratorResult<T, undefined>> {
    try {
      const item = await this.poll();
      return item === ENDED_SESSION || item === TIMED_OUT ? { done: true, value: undefined } : { done: false, value: item };
    } catch (e) {
      this.#ended = true;
      this.cancel();
      throw e;
    }
  }

  /** Leaving a `for await` loop ends the session. */
  return(): Promise<IteratorResult<T, undefined>> {
    this.#ended = true;
    this.cancel();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }
}

/**
 * A subscription: history, a `caughtUp` marker, then live events, in order, never silently
 * stopping (a failure is thrown). Iterate with `for await`; leaving the loop ends it.
 */
export class Subscription extends Session<SubscriptionMessage> {
  readonly #native: NativeSubscription;

  /** @internal */
  constructor(native: NativeSubscription, signal: AbortSignal | undefined) {
    super(signal);
    this.#native = native;
  }

  protected fetch(timeoutMs: number, signal: AbortSignal | undefined): Promise<Buffer | number> {
    return call(signal, (t) => this.#native.next(BATCH, timeoutMs, t));
  }

  protected decodeBatch(batch: Buffer): SubscriptionMessage[] {
    return decodeMessageBatch(batch);
  }

  cancel(): void {
    this.end();
    this.#native.cancel();
  }
}

/** An event handed to one member of a consumer group, to settle with `ack` or `nack`. */
export class GroupDelivery {
  /** @internal */
  constructor(
    readonly member: GroupMember,
    /** Names the delivery in acks and nacks (through any member of the group on this store). */
    readonly id: bigint,
    /** 1 for the first delivery, more for redeliveries. */
    readonly attempt: number,
    /** The revision of the parked copy, for an event a replay handed back. */
    readonly parkedRevision: bigint | undefined,
    readonly event: RecordedEvent,
  ) {}

  ack(options: CallOptions = {}): Promise<void> {
    return this.member.ack([this], options);
  }

  nack(action: NackAction, options: CallOptions = {}): Promise<void> {
    return this.member.nack([this], action, options);
  }
}

/**
 * A member of a consumer group: its deliveries as an async iterator. Settle each with `ack`
 * or `nack` (retry, park or skip); leaving the loop leaves the group, and what this member
 * held unsettled is delivered again.
 */
export class GroupMember extends Session<GroupDelivery> {
  readonly #native: NativeMember;
  #left = false;

  /** @internal */
  constructor(native: NativeMember, signal: AbortSignal | undefined) {
    super(signal);
    this.#native = native;
  }

  protected fetch(timeoutMs: number, signal: AbortSignal | undefined): Promise<Buffer | number> {
    return call(signal, (t) => this.#native.next(BATCH, timeoutMs, t));
  }

  protected decodeBatch(batch: Buffer): GroupDelivery[] {
    return decodeDeliveryBatch(batch, (id, attempt, parked, event) => new GroupDelivery(this, id, attempt, parked, event));
  }

  /** Acknowledges deliveries (or their ids), in one commit. */
  async ack(deliveries: readonly (GroupDelivery | bigint)[], options: CallOptions = {}): Promise<void> {
    this.#requireJoined();
    const ids = idsOf(deliveries);
    await call(options.signal, (t) => this.#native.ack(ids, t));
  }

  /** Settles deliveries (or their ids) with an action: `"retry"`, `"park"` or `"skip"`. */
  async nack(deliveries: readonly (GroupDelivery | bigint)[], action: NackAction, options: CallOptions = {}): Promise<void> {
    this.#requireJoined();
    const ids = idsOf(deliveries);
    const code = nackActionCode(action);
    await call(options.signal, (t) => this.#native.nack(ids, code, t));
  }

  /** Leaves the group (as leaving a `for await` loop does): what this member held unsettled is delivered again. */
  cancel(): void {
    this.#left = true;
    this.end();
    this.#native.cancel();
  }

  #requireJoined(): void {
    if (this.#left) {
      throw new ClosedError("this member left its group: settle through another member of the group, or join again");
    }
  }
}

function idsOf(deliveries: readonly (GroupDelivery | bigint)[]): BigUint64Array {
  const ids = new BigUint64Array(deliveries.length);
  deliveries.forEach((d, i) => {
    ids[i] = typeof d === "bigint" ? d : d.id;
  });
  return ids;
}
