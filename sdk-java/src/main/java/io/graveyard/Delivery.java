package io.graveyard;

import java.util.OptionalLong;

/**
 * One event handed to a {@link GroupMember}; settle it with {@link GroupMember#ack} or
 * {@link GroupMember#nack}, through the member that received it or through any other member of the
 * same group joined through the same client.
 */
public final class Delivery {
    private final GroupMember member;
    private final long id;
    private final RecordedEvent event;
    private final int attempt;
    private final long parkedRevision;

    Delivery(GroupMember member, long id, RecordedEvent event, int attempt, long parkedRevision) {
        this.member = member;
        this.id = id;
        this.event = event;
        this.attempt = attempt;
        this.parkedRevision = parkedRevision;
    }

    /** The event as it was appended to its stream (also for a replayed parked event). */
    public RecordedEvent event() {
        return event;
    }

    /** 1 for the first delivery; a replayed parked event starts again at 1. */
    public int attempt() {
        return attempt;
    }

    /**
     * The id that names this delivery in acks and nacks (an unsigned 64-bit value: a replayed
     * parked event's has the top bit set, so it reads negative as a {@code long}). A redelivery of
     * the same event has the same id.
     */
    public long id() {
        return id;
    }

    /**
     * The revision of its copy in the group's parked stream when this delivery is a parked event
     * handed back by a replay; empty for an event of the target.
     */
    public OptionalLong parkedRevision() {
        return parkedRevision < 0 ? OptionalLong.empty() : OptionalLong.of(parkedRevision);
    }

    /** The member it was handed to. */
    GroupMember member() {
        return member;
    }

    @Override
    public String toString() {
        return "Delivery{id=" + Long.toUnsignedString(id) + ", attempt=" + attempt + ", " + event + "}";
    }
}
