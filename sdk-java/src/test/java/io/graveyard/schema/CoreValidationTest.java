package io.graveyard.schema;

import static io.graveyard.schema.JsonAssert.tree;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;

import io.graveyard.Durability;
import io.graveyard.EventData;
import io.graveyard.ExpectedVersion;
import io.graveyard.Graveyard;
import io.graveyard.GraveyardClient;
import io.graveyard.OpenOptions;
import io.graveyard.SchemaViolationException;
import io.graveyard.Violation;
import io.graveyard.schema.fixtures.OrderPlaced;
import io.graveyard.schema.fixtures.User;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The derived schemas and the JSON of valid and invalid objects, judged by the real Rust core
 * through the SDK's own embedded store: each schema is upserted into a store of its own (the core
 * compiles it, or the upsert throws with its reasons), and each object is appended as an event of
 * its entity's type (the core stores it, defaults filled, or refuses it with its violations).
 */
class CoreValidationTest {

    @TempDir
    Path dir;

    /** What the store did with one object: its data as stored, or the violations it was refused for. */
    private record Judged(JsonNode stored, List<Violation> violations) {
        boolean ok() {
            return stored != null;
        }
    }

    private final Map<Class<?>, Map<String, byte[]>> data = new LinkedHashMap<>();

    private void schema(Class<?> type, Object... labelsAndObjects) {
        Map<String, byte[]> objects = data.computeIfAbsent(type, t -> new LinkedHashMap<>());
        for (int i = 0; i < labelsAndObjects.length; i += 2) {
            objects.put((String) labelsAndObjects[i], Entities.toJson(labelsAndObjects[i + 1]));
        }
    }

    /** Data written by hand, beyond what Java writes. */
    private void raw(Class<?> type, String label, String json) {
        data.get(type).put(label, json.getBytes(StandardCharsets.UTF_8));
    }

    private static String base(Class<?> type) {
        return type.getName().replace('$', '_');
    }

    @Test
    void theCoreAcceptsTheSchemasAndJudgesTheData() {
        RoundTripTest.All extremes = new RoundTripTest.All();
        extremes.l = Long.MIN_VALUE;
        extremes.ff = -Float.MAX_VALUE;
        RoundTripTest.All tooBig = new RoundTripTest.All();
        SchemaDerivationTest.Primitives primitives = new SchemaDerivationTest.Primitives();
        primitives.l = Long.MAX_VALUE;
        primitives.i = Integer.MIN_VALUE;
        primitives.b = Byte.MAX_VALUE;

        schema(User.class, "valid", User.valid(), "invalid", User.invalid());
        schema(OrderPlaced.class, "valid", OrderPlaced.valid(), "invalid", OrderPlaced.invalid());
        schema(RoundTripTest.All.class, "valid", new RoundTripTest.All(), "extremes", extremes);
        schema(SchemaDerivationTest.Primitives.class, "valid", primitives);
        schema(SchemaDerivationTest.Boxes.class, "empty", new SchemaDerivationTest.Boxes());
        schema(SchemaDerivationTest.Containers.class);
        schema(SchemaDerivationTest.Optionals.class);
        schema(SchemaDerivationTest.Nested.class);
        schema(SchemaDerivationTest.Generic.class);
        schema(SchemaDerivationTest.EveryElement.class);
        schema(SchemaDerivationTest.Skipped.class);
        schema(SchemaDerivationTest.RecordEntity.class);
        schema(SchemaDerivationTest.Times.class);
        schema(RoundTripTest.Rec.class);
        schema(PatternsTest.Holder.class);
        raw(RoundTripTest.All.class, "outOfRange", new String(Entities.toJson(tooBig), StandardCharsets.UTF_8)
            .replace("\"i\":3", "\"i\":2147483648").replace("\"b\":1", "\"b\":-129")
            .replace("\"c\":\"é\"", "\"c\":\"ab\"").replace("\"uuid\":\"", "\"uuid\":\"x"));
        raw(SchemaDerivationTest.EveryElement.class, "empty", "{\"user-name\": \"abc\"}");

        Map<String, Judged> results = new LinkedHashMap<>();
        Map<String, byte[]> written = new LinkedHashMap<>();
        for (Map.Entry<Class<?>, Map<String, byte[]>> entry : data.entrySet()) {
            Class<?> type = entry.getKey();
            // A store per schema: each is judged alone, as the first version of its name.
            try (GraveyardClient client = Graveyard.open(dir.resolve(base(type)),
                    OpenOptions.defaults().durability(Durability.NO_FSYNC_UNSAFE))) {
                assertEquals(1, client.upsertSchema(type).version(), type.getName());
                for (Map.Entry<String, byte[]> object : entry.getValue().entrySet()) {
                    String key = base(type) + "." + object.getKey();
                    written.put(key, object.getValue());
                    results.put(key, judge(client, type, object.getKey(), object.getValue()));
                }
            }
        }

        String all = base(RoundTripTest.All.class);
        for (String key : List.of(base(User.class) + ".valid", base(OrderPlaced.class) + ".valid", all + ".valid",
            all + ".extremes", base(SchemaDerivationTest.Primitives.class) + ".valid",
            base(SchemaDerivationTest.Boxes.class) + ".empty")) {
            Judged result = results.get(key);
            assertTrue(result.ok(), key + ": " + result);
            // Stored as written: the core filled in no default.
            assertEquals(tree(written.get(key)), result.stored(), key);
        }
        assertViolations(results.get(base(User.class) + ".invalid"),
            "name min_length", "email pattern", "age max", "address.city required", "tags max_length");
        assertViolations(results.get(base(OrderPlaced.class) + ".invalid"),
            "lines min_length", "total min", "currency pattern");
        assertViolations(results.get(all + ".outOfRange"), "b min", "i max", "c max_length", "uuid pattern");
        Judged filled = results.get(base(SchemaDerivationTest.EveryElement.class) + ".empty");
        assertTrue(filled.ok(), filled.toString());
        assertEquals(tree("{\"user-name\": \"abc\", \"ratio\": 1.5, \"level\": 3, \"enabled\": true, "
            + "\"color\": \"GREEN\", \"letters\": [\"a\"], \"origin\": {\"x\": 1.0, \"y\": 2.0}, \"initial\": \"x\", "
            + "\"since\": \"2024-01-01T00:00:00Z\", \"big\": 12345678901234567890, \"price\": 1.50, \"empty\": \"\"}"),
            filled.stored());
        // The store's data, defaults filled, reads back.
        SchemaDerivationTest.EveryElement read = Entities.fromJson(filled.stored().toString().getBytes(
            StandardCharsets.UTF_8), SchemaDerivationTest.EveryElement.class);
        assertEquals(3, read.level);
    }

    /** Appends one object as an event of its entity's type to a stream of its own, and reads back what was stored. */
    private static Judged judge(GraveyardClient client, Class<?> type, String label, byte[] json) {
        String stream = "judged-" + label;
        try {
            client.append(stream, ExpectedVersion.noStream(), EventData.json(Entities.eventType(type), json));
        } catch (SchemaViolationException e) {
            return new Judged(null, e.getViolations());
        }
        return new Judged(tree(client.readStream(stream).get(0).data()), List.of());
    }

    private static void assertViolations(Judged result, String... expected) {
        assertTrue(!result.ok(), result.toString());
        TreeSet<String> actual = new TreeSet<>();
        for (Violation violation : result.violations()) {
            actual.add(violation.path() + " " + violation.rule());
        }
        assertEquals(new TreeSet<>(List.of(expected)), actual, result.toString());
    }
}
