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
    private final byte[] masterKey;

    private OpenOptions(long maxEventSize, long mapSize, Durability durability, int maxReaders, byte[] masterKey) {
        this.maxEventSize = maxEventSize;
        this.mapSize = mapSize;
        this.durability = durability;
        this.maxReaders = maxReaders;
        this.masterKey = masterKey;
    }

    public static OpenOptions defaults() {
        return new OpenOptions(-1, -1, Durability.FSYNC, -1, null);
    }

    /** Largest accepted event (type + data + metadata + content type), in bytes. Default 16 MiB. */
    public OpenOptions maxEventSize(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("maxEventSize must be positive: " + bytes);
        }
        return new OpenOptions(bytes, mapSize, durability, maxReaders, masterKey);
    }

    /** The largest the store may grow to while open (address space reserved, not disk used). */
    public OpenOptions mapSize(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("mapSize must be positive: " + bytes);
        }
        return new OpenOptions(maxEventSize, bytes, durability, maxReaders, masterKey);
    }

    public OpenOptions durability(Durability durability) {
        return new OpenOptions(maxEventSize, mapSize, Objects.requireNonNull(durability, "durability"), maxReaders,
                masterKey);
    }

    /** Most threads reading at once. Default 1024. */
    public OpenOptions maxReaders(int readers) {
        if (readers <= 0) {
            throw new IllegalArgumentException("maxReaders must be positive: " + readers);
        }
        return new OpenOptions(maxEventSize, mapSize, durability, readers, masterKey);
    }

    /**
     * Encrypts the store at rest with this 32-byte master key (AES-256-GCM, a data key per stream
     * wrapped by it): a new store is created encrypted; an existing one must have been created with
     * this key (a wrong key, or a key for an unencrypted store, fails the open with
     * {@link EncryptionException} or {@link InvalidArgumentException}). The array is copied; wipe
     * yours when done.
     */
    public OpenOptions masterKey(byte[] key) {
        Objects.requireNonNull(key, "key");
        if (key.length != 32) {
            throw new IllegalArgumentException("a master key is 32 bytes, not " + key.length);
        }
        return new OpenOptions(maxEventSize, mapSize, durability, maxReaders, key.clone());
    }

    byte[] masterKeyRaw() {
        return masterKey;
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
