package io.graveyard;

import java.util.Objects;

/** What a consumer group consumes: $all (filtered; cursors are positions) or one stream (cursors are revisions). */
public final class GroupTarget {
    private final String stream;
    private final Filter filter;

    private GroupTarget(String stream, Filter filter) {
        this.stream = stream;
        this.filter = filter;
    }

    public static GroupTarget all(Filter filter) {
        return new GroupTarget(null, Objects.requireNonNull(filter, "filter"));
    }

    public static GroupTarget all() {
        return all(Filter.none());
    }

    public static GroupTarget stream(String stream) {
        return new GroupTarget(Objects.requireNonNull(stream, "stream"), null);
    }

    public boolean isAll() {
        return stream == null;
    }

    /** The stream of a stream group; {@code null} for $all. */
    public String stream() {
        return stream;
    }

    /** The filter of a $all group; {@code null} for a stream group. */
    public Filter filter() {
        return filter;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GroupTarget t && Objects.equals(t.stream, stream) && Objects.equals(t.filter, filter);
    }

    @Override
    public int hashCode() {
        return Objects.hash(stream, filter);
    }

    @Override
    public String toString() {
        return stream == null ? "$all " + filter : "stream " + stream;
    }
}
