package io.graveyard;

import io.graveyard.internal.NativeHandle;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.LongFunction;

/**
 * The two ways every native operation runs: blocking ({@code future} null: the native method
 * returns the result) and async (the native method starts the work on the native runtime and
 * completes the future from a runtime thread).
 */
final class Calls {
    @FunctionalInterface
    interface Call {
        Object run(long handle, CompletableFuture<Object> future);
    }

    private Calls() {}

    static <T> T sync(NativeHandle handle, Call call, Function<Object, T> decode) {
        return decode.apply(handle.call(h -> call.run(h, null)));
    }

    /** Failures, also of the arguments and of a closed handle, complete the future: nothing is thrown. */
    static <T> CompletableFuture<T> async(NativeHandle handle, Call call, Function<Object, T> decode) {
        CompletableFuture<Object> future = new CompletableFuture<>();
        try {
            handle.call(h -> call.run(h, future));
        } catch (GraveyardException e) {
            return CompletableFuture.failedFuture(e);
        }
        return future.thenApply(decode);
    }

    /**
     * An async call that opens a session (its result is the session's handle): the session is
     * closed again if nobody can take it, because the caller cancelled the future meanwhile.
     */
    static <T extends AutoCloseable> CompletableFuture<T> asyncOpen(NativeHandle handle, Call call,
            LongFunction<T> wrap) {
        CompletableFuture<Object> future = new CompletableFuture<>();
        try {
            handle.call(h -> call.run(h, future));
        } catch (GraveyardException e) {
            return CompletableFuture.failedFuture(e);
        }
        CompletableFuture<T> out = new CompletableFuture<>();
        future.whenComplete((raw, failure) -> {
            if (failure != null) {
                out.completeExceptionally(failure);
                return;
            }
            T session = wrap.apply((Long) raw);
            if (!out.complete(session)) {
                try {
                    session.close();
                } catch (Exception e) {
                    // Nobody is left to tell: the session's handle is freed all the same.
                }
            }
        });
        return out;
    }
}
