package io.graveyard.schema;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.MonthDay;
import java.time.OffsetDateTime;
import java.time.OffsetTime;
import java.time.Period;
import java.time.YearMonth;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.function.Function;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

/**
 * The built-in patterns of UUID, java.time and byte[] fields accept what the mapping writes and
 * refuse what it cannot read back.
 */
class PatternsTest {

    @GraveyardEntity("p")
    static class Holder {
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
        YearMonth yearMonth;
        MonthDay monthDay;
        byte[] bytes;
    }

    private static String pattern(String field) {
        for (var f : JsonAssert.tree(Entities.schemaJson(Holder.class)).get("fields")) {
            if (f.get("name").asText().equals(field)) {
                return f.get("pattern").asText();
            }
        }
        throw new AssertionError(field);
    }

    private static <T> void check(String field, List<T> values, Function<String, T> parse, List<String> refused) {
        Pattern p = Pattern.compile(pattern(field));
        for (T value : values) {
            Holder h = new Holder();
            try {
                Holder.class.getDeclaredField(field).set(h, value);
            } catch (ReflectiveOperationException e) {
                throw new AssertionError(e);
            }
            String text = JsonAssert.tree(Entities.toJson(h)).get(field).asText();
            assertTrue(p.matcher(text).matches(), field + ": " + text + " does not match " + p);
            assertEquals(value, parse.apply(text));
        }
        for (String text : refused) {
            assertFalse(p.matcher(text).matches(), field + ": " + text + " matches " + p);
        }
        assertTrue(Deriver.rustUnsupported(p.pattern()).isEmpty());
    }

    @Test
    void timeTypes() {
        check("instant", List.of(Instant.EPOCH, Instant.parse("2024-01-01T00:00:00.100Z"), Instant.MIN, Instant.MAX,
                Instant.ofEpochSecond(-1, 1), Instant.parse("-0001-12-31T23:59:59Z")), Instant::parse,
            List.of("2024-01-01", "2024-01-01T00:00Z", "2024-13-01T00:00:00Z", "2024-01-01T00:00:00+01:00", ""));
        check("localDate", List.of(LocalDate.MIN, LocalDate.MAX, LocalDate.of(1, 1, 1), LocalDate.of(-1, 2, 28),
                LocalDate.of(10000, 12, 31)), LocalDate::parse,
            List.of("10000-01-01", "2024-1-01", "24-01-01", "2024-00-10", "2024-01-32"));
        check("localTime", List.of(LocalTime.MIN, LocalTime.MAX, LocalTime.NOON, LocalTime.of(1, 2, 3),
                LocalTime.of(1, 2, 3, 4000)), LocalTime::parse, List.of("24:00", "1:00", "12:60", "12:00:00.1234567890"));
        check("localDateTime", List.of(LocalDateTime.MIN, LocalDateTime.MAX, LocalDateTime.of(2024, 2, 29, 0, 0)),
            LocalDateTime::parse, List.of("2024-02-29 00:00", "2024-02-29T00:00Z"));
        check("offsetDateTime", List.of(OffsetDateTime.MIN, OffsetDateTime.MAX,
                OffsetDateTime.of(2024, 1, 1, 0, 0, 0, 0, ZoneOffset.ofHoursMinutesSeconds(5, 30, 15))),
            OffsetDateTime::parse, List.of("2024-01-01T00:00", "2024-01-01T00:00+1"));
        check("offsetTime", List.of(OffsetTime.MIN, OffsetTime.MAX), OffsetTime::parse, List.of("10:00"));
        check("zonedDateTime", List.of(ZonedDateTime.of(2024, 3, 31, 1, 30, 0, 0, ZoneId.of("Europe/Lisbon")),
                ZonedDateTime.of(2024, 3, 31, 1, 30, 0, 0, ZoneId.of("America/Argentina/Buenos_Aires")),
                ZonedDateTime.of(2024, 3, 31, 1, 30, 0, 0, ZoneId.of("Etc/GMT+5")),
                ZonedDateTime.of(2024, 3, 31, 1, 30, 0, 0, ZoneOffset.UTC)),
            ZonedDateTime::parse, List.of("2024-01-01T00:00[Europe/Lisbon]"));
        check("duration", List.of(Duration.ZERO, Duration.ofMillis(-500), Duration.ofDays(400).plusNanos(1),
                Duration.ofSeconds(Long.MIN_VALUE), Duration.ofSeconds(Long.MAX_VALUE, 999_999_999),
                Duration.ofMinutes(-61)), Duration::parse, List.of("PT", "P1D", "PT1.S", "pt1s"));
        check("period", List.of(Period.ZERO, Period.of(1, -2, 3), Period.ofDays(-1), Period.ofMonths(14)),
            Period::parse, List.of("P", "P1W", "PT1S"));
        check("yearMonth", List.of(YearMonth.of(2024, 1), YearMonth.of(-5, 12), YearMonth.of(999_999_999, 1)),
            YearMonth::parse, List.of("2024-13", "2024"));
        check("monthDay", List.of(MonthDay.of(1, 1), MonthDay.of(12, 31)), MonthDay::parse, List.of("12-31", "--13-01"));
    }

    @Test
    void uuids() {
        check("uuid", List.of(UUID.randomUUID(), new UUID(0, 0), new UUID(-1, -1)), UUID::fromString,
            List.of("0-0-0-0-0", "6f1c2c573d434c8e9a0f1b2c3d4e5f60", "{6f1c2c57-3d43-4c8e-9a0f-1b2c3d4e5f60}"));
    }

    @Test
    void base64() {
        Pattern p = Pattern.compile(pattern("bytes"));
        Random random = new Random(7);
        for (int n = 0; n < 40; n++) {
            byte[] bytes = new byte[n];
            random.nextBytes(bytes);
            assertTrue(p.matcher(Base64.getEncoder().encodeToString(bytes)).matches());
        }
        for (String bad : List.of("a", "abc", "ab=c", "a===", "ab-_", "YQ")) {
            assertFalse(p.matcher(bad).matches(), bad);
        }
    }
}
