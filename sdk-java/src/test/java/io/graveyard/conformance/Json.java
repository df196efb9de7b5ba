package io.graveyard.conformance;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Iterator;
import java.util.Map;

/** JSON helpers of the runner: one mapper, bytes in results, display of outcomes. */
final class Json {
    static final ObjectMapper MAPPER = new ObjectMapper();
    static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    /** Bytes in an actual result are wrapped in this marker so the matcher compares them as bytes. */
    static final String BYTES_MARKER = "$bytes";

    private Json() {}

    static byte[] serialize(JsonNode value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JSON tree always serialises", e);
        }
    }

    static String text(JsonNode value) {
        return new String(serialize(value), StandardCharsets.UTF_8);
    }

    /** The bytes parsed as exactly one JSON value, or null when they are not JSON. */
    static JsonNode parseOrNull(byte[] bytes) {
        try {
            // readTree would accept trailing content; a parser that must end after one value does not.
            try (var parser = MAPPER.getFactory().createParser(bytes)) {
                JsonNode value = MAPPER.readTree(parser);
                if (value == null || value.isMissingNode() || parser.nextToken() != null) {
                    return null;
                }
                return value;
            }
        } catch (IOException e) {
            return null;
        }
    }

    static String quote(String text) {
        return text(TextNode.valueOf(text));
    }

    static ObjectNode object() {
        return NODES.objectNode();
    }

    static ArrayNode array() {
        return NODES.arrayNode();
    }

    /** {"$bytes": {"utf8": text}} for UTF-8 bytes, else {"$bytes": {"base64": ...}}. */
    static ObjectNode bytes(byte[] bytes) {
        ObjectNode inner = object();
        String utf8 = strictUtf8(bytes);
        if (utf8 != null) {
            inner.put("utf8", utf8);
        } else {
            inner.put("base64", base64Encode(bytes));
        }
        ObjectNode marker = object();
        marker.set(BYTES_MARKER, inner);
        return marker;
    }

    /** The bytes a marker made by {@link #bytes(byte[])} holds. */
    static byte[] markerBytes(JsonNode inner) {
        if (inner.has("utf8")) {
            return inner.get("utf8").textValue().getBytes(StandardCharsets.UTF_8);
        }
        return base64Decode(inner.get("base64").textValue());
    }

    static String strictUtf8(byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    static String base64Encode(byte[] bytes) {
        return Base64.getEncoder().encodeToString(bytes);
    }

    /**
     * Standard base64 with padding, as strict as the reference runner: java.util.Base64 alone
     * would accept missing padding.
     */
    static byte[] base64Decode(String text) {
        if (text.length() % 4 != 0) {
            throw new IllegalArgumentException("length is not a multiple of 4");
        }
        return Base64.getDecoder().decode(text);
    }

    /** The actual outcome as the README writes it: bytes markers removed, long strings shortened. */
    static String display(JsonNode value) {
        return text(strip(value));
    }

    private static JsonNode strip(JsonNode value) {
        if (value.isObject()) {
            if (value.has(BYTES_MARKER)) {
                return strip(value.get(BYTES_MARKER));
            }
            ObjectNode out = object();
            for (Iterator<Map.Entry<String, JsonNode>> it = value.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> entry = it.next();
                out.set(entry.getKey(), strip(entry.getValue()));
            }
            return out;
        }
        if (value.isArray()) {
            ArrayNode out = array();
            value.forEach(item -> out.add(strip(item)));
            return out;
        }
        if (value.isTextual()) {
            return TextNode.valueOf(shorten(value.textValue()));
        }
        return value;
    }

    /** Strings longer than 80 bytes of UTF-8 are cut to about 60 (README: reports stay readable). */
    static String shorten(String text) {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        if (utf8.length <= 80) {
            return text;
        }
        int cut = 0;
        int bytes = 0;
        while (cut < text.length()) {
            int cp = text.codePointAt(cut);
            int size = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8).length;
            if (bytes + size > 60) {
                break;
            }
            bytes += size;
            cut += Character.charCount(cp);
        }
        return text.substring(0, cut) + "... (" + utf8.length + " bytes)";
    }
}
