package io.graveyard.schema;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;

/** Compares JSON as trees, so that member order within objects and spacing do not matter. */
final class JsonAssert {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private JsonAssert() {
    }

    static JsonNode tree(String json) {
        try {
            return MAPPER.readTree(json);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static JsonNode tree(byte[] json) {
        try {
            return MAPPER.readTree(json);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void assertJson(String expected, String actual) {
        assertEquals(tree(expected), tree(actual), () -> "expected " + tree(expected).toPrettyString() + "\nbut was "
            + tree(actual).toPrettyString());
    }

    static void assertJson(String expected, byte[] actual) {
        assertJson(expected, new String(actual, java.nio.charset.StandardCharsets.UTF_8));
    }

    /** The schema of {@code type} compared to {@code expected}. */
    static void assertSchema(String expected, Class<?> type) {
        assertJson(expected, Entities.schemaJson(type));
    }

    /** Single quotes stand for double quotes, to keep expected JSON readable in Java. */
    static String q(String json) {
        return json.replace('\'', '"');
    }
}
