package io.graveyard.schema;

import static io.graveyard.schema.JsonAssert.assertJson;
import static io.graveyard.schema.JsonAssert.q;
import static io.graveyard.schema.JsonAssert.tree;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;

import io.graveyard.schema.fixtures.OrderPlaced;
import io.graveyard.schema.fixtures.User;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
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
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

class RoundTripTest {

    static <T> T roundTrip(T value) {
        @SuppressWarnings("unchecked")
        Class<T> type = (Class<T>) value.getClass();
        return Entities.fromJson(Entities.toJson(value), type);
    }

    /** The members toJson writes are declared by the schema, with the same names. */
    static void assertMembersDeclared(Object entity) {
        JsonNode data = tree(Entities.toJson(entity));
        JsonNode fields = tree(Entities.schemaJson(entity.getClass())).get("fields");
        for (Iterator<String> it = data.fieldNames(); it.hasNext();) {
            String member = it.next();
            boolean declared = false;
            for (JsonNode field : fields) {
                declared |= field.get("name").asText().equals(member);
            }
            assertTrue(declared, member + " is not declared by the schema");
        }
    }

    @Test
    void userFixture() {
        User user = User.valid();
        user.sessionToken("secret");
        byte[] json = Entities.toJson(user);
        assertJson(q("{'id': '6f1c2c57-3d43-4c8e-9a0f-1b2c3d4e5f60', 'name': 'Ada Lovelace',"
            + " 'email': 'ada@example.org', 'age': 36, 'status': 'ACTIVE',"
            + " 'address': {'street': '12 St James`s Square', 'city': 'London', 'postal_code': '1234-567'},"
            + " 'tags': ['math', 'poetry'], 'created_at': '1843-07-01T12:00:00Z', 'nickname': 'Ada', 'logins': 7}")
            .replace('`', '\''), json);
        User back = Entities.fromJson(json, User.class);
        assertEquals(user, back);
        assertNull(back.sessionToken(), "ignored fields are neither written nor read");
        assertMembersDeclared(user);
    }

    @Test
    void invalidUserWritesWhatTheStoreRefuses() {
        // Nulls are left out: the store reports the required ones as "required".
        assertJson(q("{'id': '6f1c2c57-3d43-4c8e-9a0f-1b2c3d4e5f61', 'name': '', 'email': 'not-an-email', 'age': 200,"
            + " 'status': 'SUSPENDED', 'address': {'street': 'Somewhere'}, 'tags': ['a', 'b', 'c', 'd']}"),
            Entities.toJson(User.invalid()));
    }

    @Test
    void orderFixture() {
        OrderPlaced order = OrderPlaced.valid();
        byte[] json = Entities.toJson(order);
        assertJson(q("{'order_id': '0d6a0d5e-8a8e-4a3e-b1a9-2f5d7c0e9b11', 'lines': ["
            + "{'sku': 'ABC-0001', 'quantity': 2, 'unit_price': 9.95},"
            + "{'sku': 'XYZ-0042', 'quantity': 1, 'unit_price': 100.00}],"
            + " 'total': 119.90, 'currency': 'EUR', 'placed_at': '2024-05-01T10:15:30.123Z',"
            + " 'metadata': {'channel': 'web'}}"), json);
        assertEquals(order, Entities.fromJson(json, OrderPlaced.class));
        assertTrue(new String(json, StandardCharsets.UTF_8).contains("\"unit_price\":100.00"), "decimals keep scale");
        assertEquals(OrderPlaced.invalid(), roundTrip(OrderPlaced.invalid()));
        assertMembersDeclared(order);
    }

    enum Color { RED, GREEN }

    @GraveyardEntity("all")
    static class All {
        byte b = 1;
        short s = 2;
        int i = 3;
        long l = Long.MAX_VALUE;
        float f = 1.5f;
        double d = 0.1;
        boolean flag = true;
        char c = 'é';
        Byte bb = Byte.MIN_VALUE;
        Short ss = Short.MIN_VALUE;
        Integer ii = Integer.MIN_VALUE;
        Long ll = Long.MIN_VALUE;
        Float ff = Float.MAX_VALUE;
        Double dd = Double.MIN_VALUE;
        Boolean bool = false;
        Character cc = '€';
        BigInteger big = new BigInteger("18446744073709551615");
        BigDecimal decimal = new BigDecimal("-1234567890.0987654321000");
        String text = "héllo \"world\" \n 😀";
        CharSequence chars = "seq";
        Color color = Color.GREEN;
        int[] ints = {1, 2, 3};
        long[][] matrix = {{1}, {2, 3}, {}};
        String[] strings = {"a", "b"};
        byte[] bytes = {0, -1, 127, -128, 42};
        char[] secret = {'p', 'w'};
        List<Color> colors = List.of(Color.RED, Color.GREEN);
        Set<String> set = Set.of("x");
        SortedSet<Integer> sorted = new TreeSet<>(List.of(3, 1, 2));
        Queue<Double> queue = new ArrayDeque<>(List.of(1.0, 2.0));
        List<List<String>> nested = List.of(List.of("a"), List.of());
        Map<String, Integer> map = new LinkedHashMap<>(Map.of("one", 1));
        TreeMap<String, List<Boolean>> treeMap = new TreeMap<>(Map.of("k", List.of(true)));
        Optional<String> present = Optional.of("here");
        Optional<Integer> absent = Optional.empty();
        UUID uuid = UUID.randomUUID();
        Instant instant = Instant.parse("2024-02-29T23:59:59.999999999Z");
        LocalDate localDate = LocalDate.of(-44, 3, 15);
        LocalTime localTime = LocalTime.of(10, 15);
        LocalDateTime localDateTime = LocalDateTime.of(12345, 1, 2, 3, 4, 5, 6000);
        OffsetDateTime offsetDateTime = OffsetDateTime.of(2024, 1, 1, 0, 0, 0, 0, ZoneOffset.ofHoursMinutes(-5, -30));
        OffsetTime offsetTime = OffsetTime.of(23, 0, 1, 0, ZoneOffset.UTC);
        ZonedDateTime zonedDateTime = ZonedDateTime.of(2024, 6, 1, 12, 0, 0, 0, ZoneId.of("Europe/Lisbon"));
        Duration duration = Duration.ofSeconds(-90061, 500_000_000);
        Period period = Period.of(1, -2, 3);
        Year year = Year.of(-5);
        YearMonth yearMonth = YearMonth.of(10000, 12);
        MonthDay monthDay = MonthDay.of(2, 29);

        boolean same(All o) {
            return b == o.b && s == o.s && i == o.i && l == o.l && f == o.f && d == o.d && flag == o.flag && c == o.c
                && bb.equals(o.bb) && ss.equals(o.ss) && ii.equals(o.ii) && ll.equals(o.ll) && ff.equals(o.ff)
                && dd.equals(o.dd) && bool.equals(o.bool) && cc.equals(o.cc) && big.equals(o.big)
                && decimal.equals(o.decimal) && text.equals(o.text) && chars.toString().equals(o.chars.toString())
                && color == o.color && Arrays.equals(ints, o.ints) && Arrays.deepEquals(matrix, o.matrix)
                && Arrays.equals(strings, o.strings) && Arrays.equals(bytes, o.bytes) && Arrays.equals(secret, o.secret)
                && colors.equals(o.colors) && set.equals(o.set) && sorted.equals(o.sorted)
                && List.copyOf(queue).equals(List.copyOf(o.queue)) && nested.equals(o.nested) && map.equals(o.map)
                && treeMap.equals(o.treeMap) && present.equals(o.present) && absent.equals(o.absent)
                && uuid.equals(o.uuid) && instant.equals(o.instant) && localDate.equals(o.localDate)
                && localTime.equals(o.localTime) && localDateTime.equals(o.localDateTime)
                && offsetDateTime.equals(o.offsetDateTime) && offsetTime.equals(o.offsetTime)
                && zonedDateTime.equals(o.zonedDateTime) && duration.equals(o.duration) && period.equals(o.period)
                && year.equals(o.year) && yearMonth.equals(o.yearMonth) && monthDay.equals(o.monthDay);
        }
    }

    @Test
    void everyTypeRoundTrips() {
        All all = new All();
        byte[] json = Entities.toJson(all);
        All back = Entities.fromJson(json, All.class);
        assertTrue(all.same(back), new String(json, StandardCharsets.UTF_8));
        assertTrue(back.sorted instanceof TreeSet);
        assertTrue(back.queue instanceof ArrayDeque);
        assertTrue(back.treeMap instanceof TreeMap);
        assertMembersDeclared(all);

        // Every string the mapping writes matches the pattern its schema declares.
        JsonNode data = tree(json);
        for (JsonNode field : tree(Entities.schemaJson(All.class)).get("fields")) {
            if (field.has("pattern")) {
                String value = data.get(field.get("name").asText()).asText();
                assertTrue(Pattern.matches(field.get("pattern").asText(), value), field + " vs " + value);
            }
        }
        JsonNode written = tree(json);
        assertEquals("AP9/gCo=", written.get("bytes").asText());
        assertEquals("pw", written.get("secret").asText());
        assertEquals(-5, written.get("year").asInt());
        assertEquals("+10000-12", written.get("yearMonth").asText());
        assertFalse(written.has("absent"), "an empty Optional is left out");
    }

    @GraveyardEntity("record")
    record Rec(@GraveyardField(name = "n") int number, String text, Optional<Color> color, List<Rec2> items,
               @GraveyardIgnore String secret, double ratio) {
    }

    record Rec2(String v) {
    }

    @Test
    void recordsRoundTripAndAbsentMembersGetZeroValues() {
        Rec rec = new Rec(7, "t", Optional.of(Color.RED), List.of(new Rec2("a")), "s", 0.5);
        byte[] json = Entities.toJson(rec);
        assertJson(q("{'n': 7, 'text': 't', 'color': 'RED', 'items': [{'v': 'a'}], 'ratio': 0.5}"), json);
        assertEquals(new Rec(7, "t", Optional.of(Color.RED), List.of(new Rec2("a")), null, 0.5),
            Entities.fromJson(json, Rec.class));
        assertEquals(new Rec(0, null, Optional.empty(), null, null, 0.0),
            Entities.fromJson("{}".getBytes(StandardCharsets.UTF_8), Rec.class));
        assertEquals(new Rec(0, null, Optional.empty(), null, null, 0.0),
            Entities.fromJson(q("{'n': null, 'text': null, 'color': null, 'unknown': [1]}").getBytes(), Rec.class));
    }

    @GraveyardEntity("defaults")
    static class Initialised {
        String kept = "initial";
        String nulled = "initial";
        Optional<String> optional = Optional.of("initial");
        int primitive = 5;
    }

    @Test
    void classesKeepTheirInitialValuesForAbsentMembers() {
        Initialised read = Entities.fromJson(q("{'nulled': null, 'optional': null, 'primitive': null}").getBytes(),
            Initialised.class);
        assertEquals("initial", read.kept);
        assertNull(read.nulled);
        assertEquals(Optional.empty(), read.optional);
        assertEquals(5, read.primitive);
        Initialised untouched = Entities.fromJson("{}".getBytes(), Initialised.class);
        assertEquals(Optional.of("initial"), untouched.optional);
    }

    @GraveyardEntity("strict")
    static class Strict {
        byte small;
        int number;
        List<Integer> list;
        Color color;
        UUID uuid;
        Sub sub;
    }

    static class Sub {
        String name;
    }

    @Test
    void dataThatDoesNotFitIsRefusedWithItsPath() {
        assertRead("{'small': 128}", "cannot read " + Strict.class.getName()
            + " from JSON: small: the integer does not fit byte (-128..127)");
        assertRead("{'number': 1.5}", "number: expected an integer, got a number with a fraction or exponent");
        assertRead("{'number': '1'}", "number: expected an integer, got a string");
        assertRead("{'list': [1, 'x']}", "list[1]: expected an integer, got a string");
        assertRead("{'color': 'BLUE'}", "color: the string is not a constant of");
        assertRead("{'uuid': 'nope'}", "uuid: the string is not a valid java.util.UUID");
        assertRead("{'sub': {'name': 3}}", "sub.name: expected a string, got an integer");
        assertRead("[]", "the data is not a JSON object");
        assertRead("{", "the data is not JSON");
        assertRead("{} {}", "the data is not JSON");
    }

    private static void assertRead(String json, String message) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> Entities.fromJson(q(json).getBytes(StandardCharsets.UTF_8), Strict.class));
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }

    @GraveyardEntity("numbers")
    static class Numbers {
        double d;
        Float f;
        List<String> items;
        Map<String, String> map;
    }

    @Test
    void valuesWithoutJsonFormAreRefusedOnWrite() {
        Numbers n = new Numbers();
        n.d = Double.NaN;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Entities.toJson(n));
        assertTrue(e.getMessage().contains("d: JSON has no NaN"), e.getMessage());
        n.d = 1;
        n.f = Float.NEGATIVE_INFINITY;
        e = assertThrows(IllegalArgumentException.class, () -> Entities.toJson(n));
        assertTrue(e.getMessage().contains("f: JSON has no -Infinity"), e.getMessage());
        n.f = null;
        n.map = new java.util.HashMap<>();
        n.map.put(null, "x");
        e = assertThrows(IllegalArgumentException.class, () -> Entities.toJson(n));
        assertTrue(e.getMessage().contains("map: a map key is null"), e.getMessage());
        n.map = null;
        // Null items are written as they are, for the store to refuse ("nullable" at items[1]).
        n.items = Arrays.asList("a", null);
        assertJson(q("{'d': 1.0, 'items': ['a', null]}"), Entities.toJson(n));
    }

    @Test
    void largeAndPreciseNumbersSurvive() {
        All all = new All();
        all.l = Long.MIN_VALUE;
        all.d = 1e308;
        all.big = BigInteger.TEN.pow(40); // beyond what the store accepts, but Java reads it
        all.decimal = new BigDecimal("0.1000000000000000000000000001");
        All back = roundTrip(all);
        assertEquals(Long.MIN_VALUE, back.l);
        assertEquals(1e308, back.d);
        assertEquals(all.big, back.big);
        assertEquals(all.decimal, back.decimal);
        assertArrayEquals(all.bytes, back.bytes);
    }
}
