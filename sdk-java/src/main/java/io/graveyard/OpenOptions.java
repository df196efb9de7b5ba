package io.graveyard;

import java.util.Objects;

/**
 * Options of an embedded store: {@code OpenOptions.defaults().durability(Durability.NO_FSYNC_UNSAFE)}.
 * Immutable; unset values take the core's defaults.
 */
public final class OpenOptions {
    private final long maxEventSize;
    private final long mapSize;
    private final Durability durability;
    private final int maxReaders;

    private OpenOptions(long maxEventSize, long mapSize, Durability durability, int maxReaders) {
        this.maxEventSize = maxEventSize;
        this.mapSize = mapSize;
        this.durability = durability;
        this.maxReaders = maxReaders;
    }

    public static OpenOptions defaults() {
        return new OpenOptions(-1, -1, Durability.FSYNC, -1);
    }

    /** Largest accepted event (type + data + metadata + content type), in bytes. Default 16 MiB. */
    public OpenOptions maxEventSize(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("maxEventSize must be positive: " + bytes);
        }
        return new OpenOptions(bytes, mapSize, durability, maxReaders);
    }

    /** The largest the store may grow to while open (address space reserved, not disk used). */
    public OpenOptions mapSize(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("mapSize must be positive: " + bytes);
        }
        return new OpenOptions(maxEventSize, bytes, durability, maxReaders);
    }

    public OpenOptions durability(Durability durability) {
        return new OpenOptions(maxEventSize, mapSize, Objects.requireNonNull(durability, "durability"), maxReaders);
    }

    /** Most threads reading at once. Default 1024. */
    public OpenOptions maxReaders(int readers) {
        if (readers <= 0) {
            throw new IllegalArgumentException("maxReaders must be positive: " + readers);
        }
        return new OpenOptions(maxEventSize, mapSize, durability, readers);
    }

    long maxEventSizeRaw() {
        return maxEventSize;
    }

    long mapSizeRaw() {
        return mapSize;
    }

    Durability durabilityRaw() {
        return durability;
    }

    int maxReadersRaw() {
        return maxReaders;
    }
}
