package io.graveyard;

import io.graveyard.internal.Native;
import io.graveyard.internal.NativeHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Objects;

/**
 * A catch-up subscription: history from its start, then live events, with no gap and no
 * duplicate; a {@link SubscriptionMessage#isCaughtUp() caught-up} notice marks the switch. Pulled
 * with {@link #next()} from one thread at a time. It never stops silently: a failure (the store
 * closed, the stream tombstoned, a cluster node gone: UNAVAILABLE, saying where to resume) is
 * thrown by {@code next}, after which the subscription has ended. {@link #close()} from any thread
 * wakes a blocked {@code next}, which then throws {@link ClosedException}.
 */
public final class Subscription implements AutoCloseable {
    private final NativeHandle handle;
    private final String what;

    Subscription(long handle, String what) {
        this.handle = new NativeHandle(handle, what);
        this.what = what;
    }

    /** The next message, waiting as long as it takes. */
    public SubscriptionMessage next() {
        return decode(handle.call(h -> Native.subscriptionNext(h, -1)));
    }

    /** The next message, or {@code null} if none came within {@code timeout}. */
    public SubscriptionMessage next(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("a timeout cannot be negative: " + timeout);
        }
        long millis = timeout.toMillis() > Long.MAX_VALUE / 2 ? Long.MAX_VALUE / 2 : timeout.toMillis();
        return decode(handle.call(h -> Native.subscriptionNext(h, millis)));
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

    private SubscriptionMessage decode(byte[] raw) {
        if (raw == null) {
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        return switch (b.get()) {
            case 0 -> SubscriptionMessage.caughtUp();
            case 1 -> SubscriptionMessage.event(Wire.event(b));
            default -> throw new ClosedException(what + " has ended");
        };
    }

    public boolean isClosed() {
        return handle.isClosed();
    }

    /** Ends the subscription; a {@code next} blocked in another thread throws {@link ClosedException}. Idempotent. */
    @Override
    public void close() {
        handle.close(Native::subscriptionCancel, Native::subscriptionFree);
    }

    @Override
    public String toString() {
        return "Subscription{" + what + (isClosed() ? ", closed" : "") + "}";
    }
}
