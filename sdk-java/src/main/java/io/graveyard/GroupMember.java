package io.graveyard;

import io.graveyard.internal.Native;
import io.graveyard.internal.NativeHandle;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * A member of a consumer group: receives deliveries ({@link #next()}) and settles them ({@link #ack},
 * {@link #nack}). At-least-once: an event not settled within the group's ack timeout, or held by a
 * member that leaves, is delivered again. Closing the member leaves the group. Thread-safe; a
 * settle issued while another thread waits in {@code next} goes through at once. A delivery can be
 * settled through any member of its group joined through the same client, not only the one it was
 * handed to. {@link #close()} wakes a blocked {@code next}, which then throws
 * {@link ClosedException}.
 *
 * <p>Every call has an {@code ...Async} twin returning a {@link CompletableFuture}, completed from a
 * native runtime thread (see {@link GraveyardClient}).
 */
public final class GroupMember implements AutoCloseable {
    private final NativeHandle handle;
    private final GraveyardClient client;
    private final String group;
    private final String name;

    GroupMember(long handle, GraveyardClient client, String group, String name) {
        this.handle = new NativeHandle(handle, "member '" + name + "' of group '" + group + "'");
        this.client = client;
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
        return Calls.sync(handle, (h, f) -> Native.memberNext(h, -1, f), this::decode);
    }

    /** The next delivery, or {@code null} if none came within {@code timeout}. */
    public Delivery next(Duration timeout) {
        long millis = Subscription.millis(timeout);
        return Calls.sync(handle, (h, f) -> Native.memberNext(h, millis, f), this::decode);
    }

    /** {@link #next()}, async. */
    public CompletableFuture<Delivery> nextAsync() {
        return Calls.async(handle, (h, f) -> Native.memberNext(h, -1, f), this::decode);
    }

    /** {@link #next(Duration)}, async: completed with {@code null} if none came within {@code timeout}. */
    public CompletableFuture<Delivery> nextAsync(Duration timeout) {
        long millis = Subscription.millis(timeout);
        return Calls.async(handle, (h, f) -> Native.memberNext(h, millis, f), this::decode);
    }

    private Delivery decode(Object raw) {
        if (raw == null) {
            return null;
        }
        byte[] packed = (byte[]) raw;
        if (packed.length == 0) {
            throw new ClosedException(handle.what() + " is closed");
        }
        return Wire.delivery(packed, this);
    }

    /** Acknowledges deliveries in one durable commit (all or none). */
    public void ack(Delivery... deliveries) {
        long[] ids = ids(deliveries);
        Calls.sync(handle, (h, f) -> Native.memberAck(h, ids, f), GroupMember::none);
    }

    public CompletableFuture<Void> ackAsync(Delivery... deliveries) {
        long[] ids = ids(deliveries);
        return Calls.async(handle, (h, f) -> Native.memberAck(h, ids, f), GroupMember::none);
    }

    /** Nacks deliveries with one action. */
    public void nack(NackAction action, Delivery... deliveries) {
        int code = Objects.requireNonNull(action, "action").code();
        long[] ids = ids(deliveries);
        Calls.sync(handle, (h, f) -> Native.memberNack(h, code, ids, f), GroupMember::none);
    }

    public CompletableFuture<Void> nackAsync(NackAction action, Delivery... deliveries) {
        int code = Objects.requireNonNull(action, "action").code();
        long[] ids = ids(deliveries);
        return Calls.async(handle, (h, f) -> Native.memberNack(h, code, ids, f), GroupMember::none);
    }

    private static Void none(Object raw) {
        return null;
    }

    private long[] ids(Delivery[] deliveries) {
        Objects.requireNonNull(deliveries, "deliveries");
        long[] ids = new long[deliveries.length];
        for (int i = 0; i < deliveries.length; i++) {
            Delivery d = Objects.requireNonNull(deliveries[i], "a delivery is null");
            GroupMember from = d.member();
            // Ids name deliveries within a group and a client only: another's would settle the
            // wrong event, or none.
            if (from.client != client || !from.group.equals(group)) {
                throw new InvalidArgumentException("the delivery of event " + d.event().id() + " was handed to "
                        + from + ", not to a member of group '" + group + "' of this client: settle it through "
                        + "a member of its own group and client");
            }
            ids[i] = d.id();
        }
        return ids;
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
