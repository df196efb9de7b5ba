package io.graveyard;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;

/**
 * Options of a cluster connection: {@code ConnectOptions.defaults().token(t).caCertificatePem(pem)}.
 * With a CA certificate every node is reached over TLS. Immutable.
 */
public final class ConnectOptions {
    private final String token;
    private final byte[] caPem;
    private final Duration connectTimeout;
    private final Duration requestTimeout;
    private final int retries;
    private final Duration retryBackoff;

    private ConnectOptions(String token, byte[] caPem, Duration connectTimeout, Duration requestTimeout, int retries,
            Duration retryBackoff) {
        this.token = token;
        this.caPem = caPem;
        this.connectTimeout = connectTimeout;
        this.requestTimeout = requestTimeout;
        this.retries = retries;
        this.retryBackoff = retryBackoff;
    }

    /** No token, plain HTTP/2 (unless an endpoint says {@code https://}), the core's timeouts and retries. */
    public static ConnectOptions defaults() {
        return new ConnectOptions(null, null, null, null, -1, null);
    }

    /** The bearer token the nodes require. Never logged. */
    public ConnectOptions token(String token) {
        return new ConnectOptions(Objects.requireNonNull(token, "token"), caPem, connectTimeout, requestTimeout,
                retries, retryBackoff);
    }

    /** The PEM certificate of the CA that signed the nodes' certificates: connects over TLS. */
    public ConnectOptions caCertificatePem(byte[] pem) {
        return new ConnectOptions(token, Objects.requireNonNull(pem, "pem").clone(), connectTimeout, requestTimeout,
                retries, retryBackoff);
    }

    public ConnectOptions caCertificatePem(String pem) {
        return caCertificatePem(Objects.requireNonNull(pem, "pem").getBytes(StandardCharsets.UTF_8));
    }

    public ConnectOptions connectTimeout(Duration timeout) {
        return new ConnectOptions(token, caPem, positive(timeout, "connectTimeout"), requestTimeout, retries,
                retryBackoff);
    }

    /** A deadline for each request (none by default; subscriptions are not bounded by it). */
    public ConnectOptions requestTimeout(Duration timeout) {
        return new ConnectOptions(token, caPem, connectTimeout, positive(timeout, "requestTimeout"), retries,
                retryBackoff);
    }

    /** Further attempts of an idempotent request on another node after UNAVAILABLE. Default 3. */
    public ConnectOptions retries(int retries) {
        if (retries < 0) {
            throw new IllegalArgumentException("retries cannot be negative: " + retries);
        }
        return new ConnectOptions(token, caPem, connectTimeout, requestTimeout, retries, retryBackoff);
    }

    /** Pause before the first retry, doubled before each next one. Default 50 ms. */
    public ConnectOptions retryBackoff(Duration backoff) {
        Objects.requireNonNull(backoff, "backoff");
        if (backoff.isNegative()) {
            throw new IllegalArgumentException("retryBackoff cannot be negative: " + backoff);
        }
        return new ConnectOptions(token, caPem, connectTimeout, requestTimeout, retries, backoff);
    }

    private static Duration positive(Duration d, String what) {
        Objects.requireNonNull(d, what);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(what + " must be positive: " + d);
        }
        return d;
    }

    String tokenRaw() {
        return token;
    }

    byte[] caPemRaw() {
        return caPem;
    }

    long connectTimeoutMillis() {
        return connectTimeout == null ? -1 : connectTimeout.toMillis();
    }

    long requestTimeoutMillis() {
        return requestTimeout == null ? -1 : requestTimeout.toMillis();
    }

    int retriesRaw() {
        return retries;
    }

    long retryBackoffMillis() {
        return retryBackoff == null ? -1 : retryBackoff.toMillis();
    }

    @Override
    public String toString() {
        return "ConnectOptions{token=" + (token == null ? "none" : "***") + ", tls=" + (caPem != null) + "}";
    }
}
