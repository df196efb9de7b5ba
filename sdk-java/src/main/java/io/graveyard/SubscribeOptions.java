package io.graveyard;

import java.util.Objects;

/**
 * Options of a subscription: {@code SubscribeOptions.fromStart().filter(Filter.streamPrefix("order-"))}.
 * The filter applies to $all subscriptions only; the page size is the most events read and held
 * at once (on a cluster, asked of the node per page). Immutable.
 */
public final class SubscribeOptions {
    private final StartPosition start;
    private final Filter filter;
    private final int pageSize;

    private SubscribeOptions(StartPosition start, Filter filter, int pageSize) {
        this.start = start;
        this.filter = filter;
        this.pageSize = pageSize;
    }

    public static SubscribeOptions fromStart() {
        return new SubscribeOptions(StartPosition.start(), Filter.none(), 512);
    }

    public static SubscribeOptions fromEnd() {
        return new SubscribeOptions(StartPosition.end(), Filter.none(), 512);
    }

    /** After a checkpoint: the position (or revision, for a stream) of the last event processed. */
    public static SubscribeOptions after(long checkpoint) {
        return new SubscribeOptions(StartPosition.after(checkpoint), Filter.none(), 512);
    }

    public static SubscribeOptions from(StartPosition start) {
        return new SubscribeOptions(Objects.requireNonNull(start, "start"), Filter.none(), 512);
    }

    public SubscribeOptions filter(Filter filter) {
        return new SubscribeOptions(start, Objects.requireNonNull(filter, "filter"), pageSize);
    }

    public SubscribeOptions pageSize(int pageSize) {
        if (pageSize < 1) {
            throw new IllegalArgumentException("a page size must be at least 1: " + pageSize);
        }
        return new SubscribeOptions(start, filter, pageSize);
    }

    public StartPosition start() {
        return start;
    }

    public Filter filter() {
        return filter;
    }

    public int pageSize() {
        return pageSize;
    }

    @Override
    public String toString() {
        return "SubscribeOptions{start=" + start + ", " + filter + ", pageSize=" + pageSize + "}";
    }
}
