package io.graveyard;

/**
 * The state of a stream.
 *
 * @param current what the stream's expected-version checks see now
 * @param nextRevision the revision the next appended event will get
 * @param deleted soft-deleted and not written since
 * @param shredded its data key was destroyed ({@link GraveyardClient#shredStream}): its events read
 *     back without data, and appends fail with {@link StreamDeletedException}
 * @param metadata its retention rules
 */
public record StreamInfo(CurrentRevision current, long nextRevision, boolean deleted, boolean shredded,
        StreamMetadata metadata) {}
