package io.graveyard.internal;

import io.graveyard.ClosedException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.LongConsumer;
import java.util.function.LongFunction;

/**
 * Guards a native handle: calls run under a read lock (any number at once) and only while the
 * handle is open; {@link #close} ends it exactly once, under the write lock, so the native object
 * is never freed under a call in flight nor used after it was freed. Internal.
 */
public final class NativeHandle {
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final AtomicBoolean closing = new AtomicBoolean();
    private final String what;
    private long handle;

    public NativeHandle(long handle, String what) {
        if (handle == 0) {
            throw new IllegalArgumentException("a null native handle");
        }
        this.handle = handle;
        this.what = what;
    }

    /** Runs {@code call} with the open handle; {@link ClosedException} once closing has begun. */
    public <T> T call(LongFunction<T> call) {
        ReentrantReadWriteLock.ReadLock read = lock.readLock();
        read.lock();
        try {
            if (closing.get() || handle == 0) {
                throw new ClosedException(what + " is closed");
            }
            return call.apply(handle);
        } finally {
            read.unlock();
        }
    }

    public void run(LongConsumer call) {
        call(h -> {
            call.accept(h);
            return null;
        });
    }

    /** What the handle is, for messages: "the subscription to $all". */
    public String what() {
        return what;
    }

    public boolean isClosed() {
        return closing.get();
    }

    /**
     * Closes once: {@code cancel} (may be null) runs first, beside the calls in flight, to wake the
     * ones that block; then {@code free} runs alone, after every call in flight has returned.
     * Later and concurrent closes return at once.
     */
    public void close(LongConsumer cancel, LongConsumer free) {
        if (!closing.compareAndSet(false, true)) {
            return;
        }
        if (cancel != null) {
            lock.readLock().lock();
            try {
                cancel.accept(handle);
            } finally {
                lock.readLock().unlock();
            }
        }
        lock.writeLock().lock();
        try {
            long h = handle;
            handle = 0;
            free.accept(h);
        } finally {
            lock.writeLock().unlock();
        }
    }
}
