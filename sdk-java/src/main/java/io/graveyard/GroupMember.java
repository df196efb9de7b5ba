package io.graveyard;

import io.graveyard.internal.Native;
import io.graveyard.internal.NativeHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Objects;

/**
 * A member of a consumer group: receives deliveries ({@link #next()}) and settles them ({@link #ack},
 * {@link #nack}). At-least-once: an event not settled within the group's ack timeout, or held by a
 * member that leaves, is delivered again. Closing the member leaves the group. Thread-safe; a
 * settle issued while another thread waits in {@code next} goes through within a fraction of a
 * second. {@link #close()} wakes a blocked {@code next}, which then throws {@link ClosedException}.
 */
public final class GroupMember implements AutoCloseable {
    private final NativeHandle handle;
    private final String group;
    private final String name;

    GroupMember(long handle, String group, String name) {
        this.handle = new NativeHandle(handle, "member '" + name + "' of group '" + group + "'");
        this.group = group;
        this.name = name;
    }

    public String group() {
        return group;
    }

    public String name() {
        return name;
    }

    /** The next delivery, waiting as long as it takes. NOT_FOUND if the group was deleted. */
    public Delivery next() {
        return decode(handle.call(h -> Native.memberNext(h, -1)));
    }

    /** The next delivery, or {@code null} if none came within {@code timeout}. */
    public Delivery next(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("a timeout cannot be negative: " + timeout);
        }
        long millis = timeout.toMillis() > Long.MAX_VALUE / 2 ? Long.MAX_VALUE / 2 : timeout.toMillis();
        return decode(handle.call(h -> Native.memberNext(h, millis)));
    }

    private Delivery decode(byte[] raw) {
        if (raw == null) {
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        long token = b.getLong();
        int attempt = b.getInt();
        long parked = b.getLong();
        return new Delivery(this, token, Wire.event(b), attempt, parked);
    }

    /** Acknowledges deliveries in one durable commit (all or none). */
    public void ack(Delivery... deliveries) {
        long[] tokens = tokens(deliveries);
        handle.run(h -> Native.memberAck(h, tokens));
    }

    /** Nacks deliveries with one action. */
    public void nack(NackAction action, Delivery... deliveries) {
        Objects.requireNonNull(action, "action");
        long[] tokens = tokens(deliveries);
        handle.run(h -> Native.memberNack(h, action.ordinal(), tokens));
    }

    private long[] tokens(Delivery[] deliveries) {
        Objects.requireNonNull(deliveries, "deliveries");
        long[] tokens = new long[deliveries.length];
        for (int i = 0; i < deliveries.length; i++) {
            Delivery d = Objects.requireNonNull(deliveries[i], "a delivery is null");
            if (d.member() != this) {
                throw new InvalidArgumentException("the delivery of event " + d.event().id()
                        + " was handed to another member (" + d.member().name() + " of group '" + d.member().group()
                        + "'): settle it through that member");
            }
            tokens[i] = d.token();
        }
        return tokens;
    }

    public boolean isClosed() {
        return handle.isClosed();
    }

    /** Leaves the group: what this member had in flight is delivered again to the others. Idempotent. */
    @Override
    public void close() {
        handle.close(Native::memberCancel, Native::memberFree);
    }

    @Override
    public String toString() {
        return "GroupMember{" + name + " of " + group + (isClosed() ? ", closed" : "") + "}";
    }
}
