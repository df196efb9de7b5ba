package io.graveyard;

import java.util.OptionalLong;

/** One event handed to a {@link GroupMember}; settle it with {@link GroupMember#ack} or {@link GroupMember#nack}. */
public final class Delivery {
    private final GroupMember member;
    private final long token;
    private final RecordedEvent event;
    private final int attempt;
    private final long parkedRevision;

    Delivery(GroupMember member, long token, RecordedEvent event, int attempt, long parkedRevision) {
        this.member = member;
        this.token = token;
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
     * The revision of its copy in the group's parked stream when this delivery is a parked event
     * handed back by a replay; empty for an event of the target (and always for cluster members).
     */
    public OptionalLong parkedRevision() {
        return parkedRevision < 0 ? OptionalLong.empty() : OptionalLong.of(parkedRevision);
    }

    GroupMember member() {
        return member;
    }

    long token() {
        return token;
    }

    @Override
    public String toString() {
        return "Delivery{attempt=" + attempt + ", " + event + "}";
    }
}
