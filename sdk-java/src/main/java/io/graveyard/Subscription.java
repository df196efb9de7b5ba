package io.graveyard;

import io.graveyard.internal.Native;
import io.graveyard.internal.NativeHandle;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * A catch-up subscription: history from its start, then live events, with no gap and no
 * duplicate; a {@link SubscriptionMessage#isCaughtUp() caught-up} notice marks the switch. Pulled
 * with {@link #next()} (or {@link #nextAsync()}); calls from several threads take turns. It never
 * stops silently: a failure (the store closed, the stream tombstoned, a cluster node gone:
 * UNAVAILABLE, saying where to resume) is thrown by {@code next}, after which the subscription has
 * ended and {@code next} throws {@link ClosedException}. {@link #close()} from any thread wakes a
 * waiting {@code next}, which then throws {@link ClosedException} too.
 */
public final class Subscription implements AutoCloseable {
    private final NativeHandle handle;

    Subscription(long handle, String what) {
        this.handle = new NativeHandle(handle, what);
    }

    /** The next message, waiting as long as it takes. */
    public SubscriptionMessage next() {
        return Calls.sync(handle, (h, f) -> Native.subscriptionNext(h, -1, f), this::decode);
    }

    /** The next message, or {@code null} if none came within {@code timeout}. */
    public SubscriptionMessage next(Duration timeout) {
        long millis = millis(timeout);
        return Calls.sync(handle, (h, f) -> Native.subscriptionNext(h, millis, f), this::decode);
    }

    /** {@link #next()}, async: completed from a native runtime thread. */
    public CompletableFuture<SubscriptionMessage> nextAsync() {
        return Calls.async(handle, (h, f) -> Native.subscriptionNext(h, -1, f), this::decode);
    }

    /** {@link #next(Duration)}, async: completed with {@code null} if none came within {@code timeout}. */
    public CompletableFuture<SubscriptionMessage> nextAsync(Duration timeout) {
        long millis = millis(timeout);
        return Calls.async(handle, (h, f) -> Native.subscriptionNext(h, millis, f), this::decode);
    }

    /** The next event, skipping the caught-up notice. */
    public RecordedEvent nextEvent() {
        while (true) {
            SubscriptionMessage m = next();
            if (m.isEvent()) {
                return m.getEvent();
            }
        }
    }

    private SubscriptionMessage decode(Object raw) {
        if (raw == null) {
            return null;
        }
        byte[] packed = (byte[]) raw;
        if (packed.length == 0) {
            throw new ClosedException(handle.what() + " has ended");
        }
        return Wire.subscriptionMessage(packed);
    }

    /** A wait in milliseconds, for the native side; the longest ones wait as long as it takes. */
    static long millis(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("a timeout cannot be negative: " + timeout);
        }
        try {
            return timeout.toMillis();
        } catch (ArithmeticException beyondLong) {
            return -1;
        }
    }

    public boolean isClosed() {
        return handle.isClosed();
    }

    /** Ends the subscription; a {@code next} waiting in another thread throws {@link ClosedException}. Idempotent. */
    @Override
    public void close() {
        handle.close(Native::subscriptionCancel, Native::subscriptionFree);
    }

    @Override
    public String toString() {
        return "Subscription{" + handle.what() + (isClosed() ? ", closed" : "") + "}";
    }
}
