package io.graveyard;

/**
 * The state of a stream.
 *
 * @param current what the stream's expected-version checks see now
 * @param nextRevision the revision the next appended event will get
 * @param deleted soft-deleted and not written since
 * @param metadata its retention rules
 */
public record StreamInfo(CurrentRevision current, long nextRevision, boolean deleted, StreamMetadata metadata) {}
