package io.graveyard;

/** How a consumer group's members share its events. */
public enum GroupStrategy {
    /** Each event goes to the next member asking for work. */
    ROUND_ROBIN,
    /** Each stream belongs to one member, and a stream's next event waits for its previous one: per-stream order. */
    PINNED_BY_STREAM
}
