package io.graveyard;

import java.util.Arrays;
import java.util.Objects;

/** The latest snapshot saved for a stream. */
public final class Snapshot {
    private final String stream;
    private final long revision;
    private final byte[] data;
    private final long timestampMicros;

    public Snapshot(String stream, long revision, byte[] data, long timestampMicros) {
        this.stream = Objects.requireNonNull(stream, "stream");
        this.revision = revision;
        this.data = Objects.requireNonNull(data, "data");
        this.timestampMicros = timestampMicros;
    }

    public String stream() {
        return stream;
    }

    /** The stream revision the snapshot state includes. */
    public long revision() {
        return revision;
    }

    /** A copy of the snapshot's bytes. */
    public byte[] data() {
        return data.clone();
    }

    /** Save time, unix microseconds. */
    public long timestampMicros() {
        return timestampMicros;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Snapshot s && s.stream.equals(stream) && s.revision == revision
                && s.timestampMicros == timestampMicros && Arrays.equals(s.data, data);
    }

    @Override
    public int hashCode() {
        return Objects.hash(stream, revision, timestampMicros);
    }

    @Override
    public String toString() {
        return "Snapshot{stream=" + stream + ", revision=" + revision + ", " + data.length + " bytes}";
    }
}
