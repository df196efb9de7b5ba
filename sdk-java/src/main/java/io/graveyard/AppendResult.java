package io.graveyard;

/**
 * The outcome of a successful append (or of a recognised retry of one). Revisions and positions
 * are unsigned 64-bit values.
 *
 * @param firstRevision revision of the first event written
 * @param lastRevision revision of the last event written: the stream's current revision right after
 * @param firstPosition global position of the first event written
 * @param lastPosition global position of the last event written
 */
public record AppendResult(long firstRevision, long lastRevision, long firstPosition, long lastPosition) {}
