package io.graveyard;

import java.util.Arrays;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * Options of an embedded store: {@code OpenOptions.defaults().durability(Durability.NO_FSYNC_UNSAFE)}.
 * Immutable; unset values take the core's defaults.
 */
public final class OpenOptions {
    private final long maxEventSize;
    private final long mapSize;
    private final Durability durability;
    private final int maxReaders;
    /** Asked once per open; null: no encryption. */
    private final Supplier<byte[]> masterKey;

    private OpenOptions(long maxEventSize, long mapSize, Durability durability, int maxReaders,
            Supplier<byte[]> masterKey) {
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
     * {@link EncryptionException} or {@link InvalidArgumentException}). The array is copied (and the
     * copy kept by these options); wipe yours when done. To keep no copy, use
     * {@link #masterKeyProvider(Supplier)}.
     */
    public OpenOptions masterKey(byte[] key) {
        byte[] copy = checkKey(Objects.requireNonNull(key, "key")).clone();
        return new OpenOptions(maxEventSize, mapSize, durability, maxReaders, copy::clone);
    }

    /**
     * Like {@link #masterKey(byte[])}, but the key is asked for at each open, from {@code provider}
     * (a vault, a key file, a prompt), and kept nowhere: the array the provider returns is handed to
     * the store and then wiped (zeroed), so return a fresh copy each time, never an array you keep.
     * Nothing is asked for until the open. A provider that fails, or returns null or other than
     * 32 bytes, fails the open (its exception propagates, else {@link IllegalArgumentException}).
     */
    public OpenOptions masterKeyProvider(Supplier<byte[]> provider) {
        Objects.requireNonNull(provider, "provider");
        return new OpenOptions(maxEventSize, mapSize, durability, maxReaders, provider);
    }

    private static byte[] checkKey(byte[] key) {
        if (key.length != 32) {
            throw new IllegalArgumentException("a master key is 32 bytes, not " + key.length);
        }
        return key;
    }

    /**
     * The master key for one open, from its provider (null when there is none), after which the
     * caller wipes it.
     */
    byte[] takeMasterKey() {
        if (masterKey == null) {
            return null;
        }
        byte[] key = masterKey.get();
        if (key == null) {
            throw new IllegalArgumentException("the master key provider returned null");
        }
        if (key.length != 32) {
            Arrays.fill(key, (byte) 0);
            throw new IllegalArgumentException("a master key is 32 bytes, not " + key.length);
        }
        return key;
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
