package io.graveyard.schema;

import static io.graveyard.schema.JsonAssert.assertSchema;
import static io.graveyard.schema.JsonAssert.q;
import static io.graveyard.schema.JsonAssert.tree;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.TextNode;

import io.graveyard.schema.fixtures.OrderPlaced;
import io.graveyard.schema.fixtures.User;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.MonthDay;
import java.time.OffsetDateTime;
import java.time.OffsetTime;
import java.time.Period;
import java.time.Year;
import java.time.YearMonth;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.UUID;

import org.junit.jupiter.api.Test;

class SchemaDerivationTest {

    @GraveyardEntity("primitives")
    static class Primitives {
        byte b;
        short s;
        int i;
        long l;
        float f;
        double d;
        boolean flag;
        char c;
    }

    @Test
    void primitivesAreRequiredAndCarryTheirJavaRange() {
        assertSchema(q("{'name': 'primitives', 'fields': ["
            + "{'name': 'b', 'type': 'integer', 'required': true, 'min': -128, 'max': 127},"
            + "{'name': 's', 'type': 'integer', 'required': true, 'min': -32768, 'max': 32767},"
            + "{'name': 'i', 'type': 'integer', 'required': true, 'min': -2147483648, 'max': 2147483647},"
            + "{'name': 'l', 'type': 'integer', 'required': true, 'min': -9223372036854775808,"
            + " 'max': 9223372036854775807},"
            + "{'name': 'f', 'type': 'number', 'required': true, 'min': -3.4028235E38,"
            + " 'max': 3.4028235E38},"
            + "{'name': 'd', 'type': 'number', 'required': true},"
            + "{'name': 'flag', 'type': 'boolean', 'required': true},"
            + "{'name': 'c', 'type': 'string', 'required': true, 'min_length': 1, 'max_length': 1}"
            + "]}"), Primitives.class);
    }

    @GraveyardEntity("boxes")
    static class Boxes {
        Byte b;
        Short s;
        Integer i;
        Long l;
        Float f;
        Double d;
        Boolean flag;
        Character c;
        BigInteger big;
        BigDecimal decimal;
        String text;
        CharSequence chars;
    }

    @Test
    void boxesAndReferencesAreOptionalAndNotNullable() {
        assertSchema(q("{'name': 'boxes', 'fields': ["
            + "{'name': 'b', 'type': 'integer', 'min': -128, 'max': 127},"
            + "{'name': 's', 'type': 'integer', 'min': -32768, 'max': 32767},"
            + "{'name': 'i', 'type': 'integer', 'min': -2147483648, 'max': 2147483647},"
            + "{'name': 'l', 'type': 'integer', 'min': -9223372036854775808, 'max': 9223372036854775807},"
            + "{'name': 'f', 'type': 'number', 'min': -3.4028235E38, 'max': 3.4028235E38},"
            + "{'name': 'd', 'type': 'number'},"
            + "{'name': 'flag', 'type': 'boolean'},"
            + "{'name': 'c', 'type': 'string', 'min_length': 1, 'max_length': 1},"
            + "{'name': 'big', 'type': 'integer', 'min': -9223372036854775808, 'max': 18446744073709551615},"
            + "{'name': 'decimal', 'type': 'number'},"
            + "{'name': 'text', 'type': 'string'},"
            + "{'name': 'chars', 'type': 'string'}"
            + "]}"), Boxes.class);
    }

    enum Color { RED, GREEN, BLUE }

    enum WithBodies {
        A { @Override int n() { return 1; } },
        B { @Override int n() { return 2; } };

        abstract int n();
    }

    @GraveyardEntity("containers")
    static class Containers {
        Color color;
        WithBodies bodies;
        int[] ints;
        String[] strings;
        int[][] matrix;
        byte[] bytes;
        char[] secret;
        List<String> list;
        Set<Color> set;
        SortedSet<Integer> sorted;
        Collection<Long> collection;
        Queue<Boolean> queue;
        ArrayList<Double> arrayList;
        LinkedList<String> linkedList;
        List<List<Integer>> nested;
        List<? extends Integer> wildcard;
        Map<String, Integer> map;
        SortedMap<String, List<String>> sortedMap;
    }

    @Test
    void enumsArraysCollectionsAndMaps() {
        String base64 = Deriver.BASE64.replace("\\", "\\\\");
        assertSchema(q("{'name': 'containers', 'fields': ["
            + "{'name': 'color', 'type': {'enum': ['RED', 'GREEN', 'BLUE']}},"
            + "{'name': 'bodies', 'type': {'enum': ['A', 'B']}},"
            + "{'name': 'ints', 'type': {'array': 'integer'}},"
            + "{'name': 'strings', 'type': {'array': 'string'}},"
            + "{'name': 'matrix', 'type': {'array': {'array': 'integer'}}},"
            + "{'name': 'bytes', 'type': 'string', 'pattern': '" + base64 + "'},"
            + "{'name': 'secret', 'type': 'string'},"
            + "{'name': 'list', 'type': {'array': 'string'}},"
            + "{'name': 'set', 'type': {'array': {'enum': ['RED', 'GREEN', 'BLUE']}}},"
            + "{'name': 'sorted', 'type': {'array': 'integer'}},"
            + "{'name': 'collection', 'type': {'array': 'integer'}},"
            + "{'name': 'queue', 'type': {'array': 'boolean'}},"
            + "{'name': 'arrayList', 'type': {'array': 'number'}},"
            + "{'name': 'linkedList', 'type': {'array': 'string'}},"
            + "{'name': 'nested', 'type': {'array': {'array': 'integer'}}},"
            + "{'name': 'wildcard', 'type': {'array': 'integer'}},"
            + "{'name': 'map', 'type': {'object': {'fields': []}}},"
            + "{'name': 'sortedMap', 'type': {'object': {'fields': []}}}"
            + "]}"), Containers.class);
    }

    @GraveyardEntity("optionals")
    static class Optionals {
        Optional<String> text;
        Optional<Integer> number;
        Optional<List<String>> list;
        @GraveyardField(overridesOnNull = "none")
        Optional<String> withDefault;
    }

    @Test
    void optionalsAreNullable() {
        assertSchema(q("{'name': 'optionals', 'fields': ["
            + "{'name': 'text', 'type': 'string', 'nullable': true},"
            + "{'name': 'number', 'type': 'integer', 'nullable': true, 'min': -2147483648, 'max': 2147483647},"
            + "{'name': 'list', 'type': {'array': 'string'}, 'nullable': true},"
            + "{'name': 'withDefault', 'type': 'string', 'nullable': true, 'default': 'none'}"
            + "]}"), Optionals.class);
    }

    static class Point {
        @GraveyardField(required = true)
        double x;
        double y;
    }

    record Tag(@GraveyardField(name = "label", maxLength = 10) String value, boolean pinned) {
    }

    @GraveyardEntity(unknownFields = UnknownFields.REJECT)
    static class Strict {
        String only;
    }

    @GraveyardEntity("nested")
    static class Nested {
        Point point;
        Tag tag;
        List<Tag> tags;
        Strict strict;
        Map<String, Point> points;
    }

    @Test
    void nestedClassesAndRecordsAreDeclaredInPlace() {
        String point = "{'object': {'fields': [{'name': 'x', 'type': 'number', 'required': true},"
            + "{'name': 'y', 'type': 'number', 'required': true}]}}";
        String tag = "{'object': {'fields': [{'name': 'label', 'type': 'string', 'max_length': 10},"
            + "{'name': 'pinned', 'type': 'boolean', 'required': true}]}}";
        assertSchema(q("{'name': 'nested', 'fields': ["
            + "{'name': 'point', 'type': " + point + "},"
            + "{'name': 'tag', 'type': " + tag + "},"
            + "{'name': 'tags', 'type': {'array': " + tag + "}},"
            + "{'name': 'strict', 'type': {'object': {'fields': [{'name': 'only', 'type': 'string'}],"
            + " 'unknown_fields': 'reject'}}},"
            + "{'name': 'points', 'type': {'object': {'fields': []}}}"
            + "]}"), Nested.class);
    }

    static class Box<T> {
        T value;
        List<T> values;
    }

    static class Pair<A, B> {
        A first;
        B second;
    }

    static class Base<T> {
        String id;
        T payload;
    }

    @GraveyardEntity("generic")
    static class Generic extends Base<Integer> {
        Box<String> box;
        Box<Box<Boolean>> boxOfBox;
        Pair<String, List<Long>> pair;
    }

    @Test
    void genericTypesAreResolvedAndSuperclassFieldsComeFirst() {
        String boolBox = "{'object': {'fields': [{'name': 'value', 'type': 'boolean'},"
            + "{'name': 'values', 'type': {'array': 'boolean'}}]}}";
        assertSchema(q("{'name': 'generic', 'fields': ["
            + "{'name': 'id', 'type': 'string'},"
            + "{'name': 'payload', 'type': 'integer', 'min': -2147483648, 'max': 2147483647},"
            + "{'name': 'box', 'type': {'object': {'fields': [{'name': 'value', 'type': 'string'},"
            + "{'name': 'values', 'type': {'array': 'string'}}]}}},"
            + "{'name': 'boxOfBox', 'type': {'object': {'fields': [{'name': 'value', 'type': " + boolBox + "},"
            + "{'name': 'values', 'type': {'array': " + boolBox + "}}]}}},"
            + "{'name': 'pair', 'type': {'object': {'fields': [{'name': 'first', 'type': 'string'},"
            + "{'name': 'second', 'type': {'array': 'integer'}}]}}}"
            + "]}"), Generic.class);
    }

    @GraveyardEntity(value = "everything", description = "All the elements", unknownFields = UnknownFields.REJECT,
        compatibility = Compatibility.FULL)
    static class EveryElement {
        @GraveyardField(name = "user-name", required = true, minLength = 2, maxLength = 20, regex = "[a-z]+",
            description = "lower case")
        String userName;
        @GraveyardField(nullable = true, min = 0.5, max = 99.5, overridesOnNull = "1.5")
        Double ratio;
        @GraveyardField(min = 1, max = 10, overridesOnNull = "3")
        int level;
        @GraveyardField(overridesOnNull = "true")
        Boolean enabled;
        @GraveyardField(overridesOnNull = "GREEN")
        Color color;
        @GraveyardField(minLength = 1, maxLength = 3, overridesOnNull = "[\"a\"]")
        List<String> letters;
        @GraveyardField(overridesOnNull = "{\"x\": 1, \"y\": 2}")
        Point origin;
        @GraveyardField(overridesOnNull = "x")
        char initial;
        @GraveyardField(overridesOnNull = "2024-01-01T00:00:00Z")
        Instant since;
        @GraveyardField(overridesOnNull = "12345678901234567890")
        BigInteger big;
        @GraveyardField(overridesOnNull = "1.50")
        BigDecimal price;
        @GraveyardField(overridesOnNull = "")
        String empty;
    }

    @Test
    void everyAnnotationElement() {
        String instant = (Deriver.DATE + "T" + Deriver.TIME_SECONDS + "Z").replace("\\", "\\\\");
        assertSchema(q("{'name': 'everything', 'description': 'All the elements', 'fields': ["
            + "{'name': 'user-name', 'type': 'string', 'required': true, 'min_length': 2, 'max_length': 20,"
            + " 'pattern': '[a-z]+', 'description': 'lower case'},"
            + "{'name': 'ratio', 'type': 'number', 'nullable': true, 'min': 0.5, 'max': 99.5, 'default': 1.5},"
            + "{'name': 'level', 'type': 'integer', 'required': true, 'min': 1, 'max': 10, 'default': 3},"
            + "{'name': 'enabled', 'type': 'boolean', 'default': true},"
            + "{'name': 'color', 'type': {'enum': ['RED', 'GREEN', 'BLUE']}, 'default': 'GREEN'},"
            + "{'name': 'letters', 'type': {'array': 'string'}, 'min_length': 1, 'max_length': 3, 'default': ['a']},"
            + "{'name': 'origin', 'type': {'object': {'fields': [{'name': 'x', 'type': 'number', 'required': true},"
            + "{'name': 'y', 'type': 'number', 'required': true}]}}, 'default': {'x': 1.0, 'y': 2.0}},"
            + "{'name': 'initial', 'type': 'string', 'required': true, 'min_length': 1, 'max_length': 1,"
            + " 'default': 'x'},"
            + "{'name': 'since', 'type': 'string', 'pattern': '" + instant + "', 'default': '2024-01-01T00:00:00Z'},"
            + "{'name': 'big', 'type': 'integer', 'min': -9223372036854775808, 'max': 18446744073709551615,"
            + " 'default': 12345678901234567890},"
            + "{'name': 'price', 'type': 'number', 'default': 1.50},"
            + "{'name': 'empty', 'type': 'string', 'default': ''}"
            + "], 'unknown_fields': 'reject', 'compatibility': 'full'}"), EveryElement.class);
        // The decimal default keeps its scale in the schema text.
        assertEquals(true, Entities.schemaJson(EveryElement.class).contains("\"default\":1.50"),
            Entities.schemaJson(EveryElement.class));
    }

    @GraveyardEntity("skipped")
    static class Skipped {
        static String constant = "x";
        transient String cache;
        @GraveyardIgnore
        String ignored;
        String kept;
    }

    @Test
    void staticTransientAndIgnoredFieldsAreLeftOut() {
        assertSchema(q("{'name': 'skipped', 'fields': [{'name': 'kept', 'type': 'string'}]}"), Skipped.class);
    }

    @GraveyardEntity("record-entity")
    record RecordEntity(
        @GraveyardField(name = "full_name", required = true, minLength = 1) String fullName,
        @GraveyardField(min = 18) int age,
        @GraveyardIgnore String secret,
        Optional<Color> color) {
    }

    @Test
    void recordComponentAnnotationsApply() {
        assertSchema(q("{'name': 'record-entity', 'fields': ["
            + "{'name': 'full_name', 'type': 'string', 'required': true, 'min_length': 1},"
            + "{'name': 'age', 'type': 'integer', 'required': true, 'min': 18, 'max': 2147483647},"
            + "{'name': 'color', 'type': {'enum': ['RED', 'GREEN', 'BLUE']}, 'nullable': true}"
            + "]}"), RecordEntity.class);
    }

    @GraveyardEntity("times")
    static class Times {
        UUID uuid;
        Instant instant;
        LocalDate localDate;
        LocalTime localTime;
        LocalDateTime localDateTime;
        OffsetDateTime offsetDateTime;
        OffsetTime offsetTime;
        ZonedDateTime zonedDateTime;
        Duration duration;
        Period period;
        Year year;
        YearMonth yearMonth;
        MonthDay monthDay;
    }

    @Test
    void uuidAndTimeTypesAreStringsWithTheirPattern() {
        JsonNode fields = tree(Entities.schemaJson(Times.class)).get("fields");
        assertEquals(13, fields.size());
        for (JsonNode field : fields) {
            if (field.get("name").asText().equals("year")) {
                assertEquals(tree(q("{'name': 'year', 'type': 'integer', 'min': -999999999, 'max': 999999999}")),
                    field);
            } else {
                assertEquals(TextNode.valueOf("string"), field.get("type"), field.toString());
                assertEquals(3, field.size(), field.toString());
                assertEquals(true, field.get("pattern").isTextual(), field.toString());
            }
        }
        assertEquals(Deriver.UUID_PATTERN, fields.get(0).get("pattern").asText());
    }

    @Test
    void fixturesDerive() {
        assertEquals("user", Entities.eventType(User.class));
        assertEquals("order-placed", Entities.eventType(OrderPlaced.class));
        String uuid = Deriver.UUID_PATTERN;
        String instant = (Deriver.DATE + "T" + Deriver.TIME_SECONDS + "Z");
        JsonNode expected = tree(q("{'name': 'user', 'description': 'A registered user', 'fields': ["
            + "{'name': 'id', 'type': 'string', 'required': true, 'pattern': 'UUID'},"
            + "{'name': 'name', 'type': 'string', 'required': true, 'min_length': 1, 'max_length': 100,"
            + " 'description': 'Display name'},"
            + "{'name': 'email', 'type': 'string', 'pattern': 'EMAIL'},"
            + "{'name': 'age', 'type': 'integer', 'required': true, 'min': 0, 'max': 150},"
            + "{'name': 'status', 'type': {'enum': ['ACTIVE', 'SUSPENDED', 'DELETED']}, 'required': true},"
            + "{'name': 'address', 'type': {'object': {'fields': ["
            + "  {'name': 'street', 'type': 'string', 'required': true, 'min_length': 1},"
            + "  {'name': 'city', 'type': 'string', 'required': true},"
            + "  {'name': 'postal_code', 'type': 'string', 'pattern': '[0-9]{4}-[0-9]{3}'}],"
            + " 'unknown_fields': 'reject'}}},"
            + "{'name': 'tags', 'type': {'array': 'string'}, 'max_length': 3},"
            + "{'name': 'created_at', 'type': 'string', 'pattern': 'INSTANT'},"
            + "{'name': 'nickname', 'type': 'string', 'nullable': true},"
            + "{'name': 'logins', 'type': 'integer', 'min': -9223372036854775808, 'max': 9223372036854775807,"
            + " 'default': 0}"
            + "]}"));
        ((com.fasterxml.jackson.databind.node.ObjectNode) expected.get("fields").get(0)).put("pattern", uuid);
        ((com.fasterxml.jackson.databind.node.ObjectNode) expected.get("fields").get(2))
            .put("pattern", "[^@\\s]+@[^@\\s]+\\.[a-z]+");
        ((com.fasterxml.jackson.databind.node.ObjectNode) expected.get("fields").get(7)).put("pattern", instant);
        assertEquals(expected, tree(Entities.schemaJson(User.class)));

        JsonNode order = tree(Entities.schemaJson(OrderPlaced.class));
        assertEquals("reject", order.get("unknown_fields").asText());
        assertEquals("full", order.get("compatibility").asText());
        assertEquals(tree(q("{'name': 'lines', 'type': {'array': {'object': {'fields': ["
            + "{'name': 'sku', 'type': 'string', 'required': true, 'pattern': '[A-Z]{3}-[0-9]{4}'},"
            + "{'name': 'quantity', 'type': 'integer', 'required': true, 'min': 1, 'max': 1000},"
            + "{'name': 'unit_price', 'type': 'number', 'required': true, 'min': 0}]}}},"
            + " 'min_length': 1, 'max_length': 50}")), order.get("fields").get(1));
        assertEquals(tree(q("{'name': 'currency', 'type': 'string', 'pattern': '[A-Z]{3}', 'default': 'EUR'}")),
            order.get("fields").get(3));
    }

    @Test
    void derivationIsCachedPerClass() {
        assertSame(Entities.schemaJson(User.class), Entities.schemaJson(User.class));
    }
}
