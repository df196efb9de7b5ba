package io.graveyard.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.graveyard.ClosedException;
import io.graveyard.CorruptionException;
import io.graveyard.CurrentRevision;
import io.graveyard.EncryptionException;
import io.graveyard.ErrorCode;
import io.graveyard.ExpectedVersion;
import io.graveyard.GraveyardException;
import io.graveyard.GraveyardIoException;
import io.graveyard.IncompatibleFormatException;
import io.graveyard.InternalException;
import io.graveyard.InvalidArgumentException;
import io.graveyard.InvalidSchemaException;
import io.graveyard.NotFoundException;
import io.graveyard.PermissionDeniedException;
import io.graveyard.SchemaViolationException;
import io.graveyard.StreamDeletedException;
import io.graveyard.UnauthenticatedException;
import io.graveyard.UnavailableException;
import io.graveyard.UnsupportedException;
import io.graveyard.Violation;
import io.graveyard.WrongExpectedVersionException;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds the exception of a native failure from its code (the number of docs/boundary.md), its
 * message and its typed details ({@code Error::details()} of the core, JSON). Internal.
 */
public final class Errors {
    static final ObjectMapper JSON = new ObjectMapper();

    private Errors() {}

    public static GraveyardException create(int number, String message, String detailsJson) {
        ErrorCode code = ErrorCode.of(number);
        if (code == null) {
            // A library newer than this SDK: still a failure, never a silent success.
            return new InternalException("error code " + number + " (unknown to this SDK): " + message);
        }
        try {
            JsonNode d = detailsJson == null ? JSON.createObjectNode() : JSON.readTree(detailsJson);
            return switch (code) {
                case WRONG_EXPECTED_VERSION -> new WrongExpectedVersionException(message, d.path("stream").asText(),
                        expected(d.path("expected")), current(d.path("actual")));
                case STREAM_DELETED -> new StreamDeletedException(message, d.path("stream").asText());
                case SCHEMA_VIOLATION -> new SchemaViolationException(message, d.path("schema").asText(),
                        d.path("version").asInt(), d.path("event").asInt(), violations(d.path("violations")));
                case INVALID_SCHEMA -> new InvalidSchemaException(message, d.path("schema").asText(),
                        strings(d.path("problems")));
                case INVALID_ARGUMENT -> new InvalidArgumentException(message);
                case NOT_FOUND -> new NotFoundException(message);
                case ENCRYPTION -> new EncryptionException(message);
                case UNAUTHENTICATED -> new UnauthenticatedException(message);
                case PERMISSION_DENIED -> new PermissionDeniedException(message);
                case UNAVAILABLE -> new UnavailableException(message);
                case CLOSED -> new ClosedException(message);
                case CORRUPTION -> new CorruptionException(message);
                case INCOMPATIBLE_FORMAT -> new IncompatibleFormatException(message);
                case IO -> new GraveyardIoException(message);
                case INTERNAL -> new InternalException(message);
                case UNSUPPORTED -> new UnsupportedException(message);
            };
        } catch (Exception e) {
            InternalException error = new InternalException(
                    "could not decode the details of a " + code + " failure (" + message + "): " + e);
            error.initCause(e);
            return error;
        }
    }

    /** {@code "any" | "no_stream" | "stream_exists" | {"exact": n}}; anything else is refused. */
    public static ExpectedVersion expected(JsonNode node) {
        if (node.isObject() && node.size() == 1 && node.path("exact").canConvertToExactIntegral()) {
            return ExpectedVersion.exact(node.get("exact").asLong());
        }
        return switch (node.isTextual() ? node.asText() : "") {
            case "any" -> ExpectedVersion.any();
            case "no_stream" -> ExpectedVersion.noStream();
            case "stream_exists" -> ExpectedVersion.streamExists();
            default -> throw new IllegalArgumentException("not an expected version: " + node);
        };
    }

    /** {@code "no_stream"} or a revision; anything else is refused. */
    public static CurrentRevision current(JsonNode node) {
        if (node.canConvertToExactIntegral()) {
            return CurrentRevision.of(node.asLong());
        }
        if (node.isTextual() && node.asText().equals("no_stream")) {
            return CurrentRevision.noStream();
        }
        throw new IllegalArgumentException("not a current revision: " + node);
    }

    private static List<Violation> violations(JsonNode node) {
        List<Violation> out = new ArrayList<>();
        for (JsonNode v : node) {
            // The offending value is the JSON value itself: handed on as its JSON text.
            JsonNode value = v.get("value");
            out.add(new Violation(v.path("path").asText(), v.path("rule").asText(),
                    value == null || value.isNull() ? null : value.toString(), v.path("message").asText()));
        }
        return out;
    }

    private static List<String> strings(JsonNode node) {
        List<String> out = new ArrayList<>();
        for (JsonNode s : node) {
            out.add(s.asText());
        }
        return out;
    }
}
