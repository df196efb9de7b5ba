package io.graveyard;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Which events of $all a read, a subscription or a group receives: {@code Filter.streamPrefix("order-")
 * .orEventType("Placed")}. Empty lists match everything; a list matches when any of its entries
 * does; both lists must match. Immutable.
 */
public final class Filter {
    private static final Filter NONE = new Filter(List.of(), List.of());

    private final List<String> streamPrefixes;
    private final List<String> eventTypes;

    private Filter(List<String> streamPrefixes, List<String> eventTypes) {
        this.streamPrefixes = List.copyOf(streamPrefixes);
        this.eventTypes = List.copyOf(eventTypes);
    }

    /** Matches every event. */
    public static Filter none() {
        return NONE;
    }

    public static Filter streamPrefix(String prefix) {
        return NONE.orStreamPrefix(prefix);
    }

    public static Filter eventType(String type) {
        return NONE.orEventType(type);
    }

    public Filter orStreamPrefix(String prefix) {
        List<String> prefixes = new ArrayList<>(streamPrefixes);
        prefixes.add(Objects.requireNonNull(prefix, "prefix"));
        return new Filter(prefixes, eventTypes);
    }

    public Filter orEventType(String type) {
        List<String> types = new ArrayList<>(eventTypes);
        types.add(Objects.requireNonNull(type, "type"));
        return new Filter(streamPrefixes, types);
    }

    public List<String> streamPrefixes() {
        return streamPrefixes;
    }

    public List<String> eventTypes() {
        return eventTypes;
    }

    public boolean isEmpty() {
        return streamPrefixes.isEmpty() && eventTypes.isEmpty();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Filter f && f.streamPrefixes.equals(streamPrefixes) && f.eventTypes.equals(eventTypes);
    }

    @Override
    public int hashCode() {
        return Objects.hash(streamPrefixes, eventTypes);
    }

    @Override
    public String toString() {
        return "Filter{streamPrefixes=" + streamPrefixes + ", eventTypes=" + eventTypes + "}";
    }
}
