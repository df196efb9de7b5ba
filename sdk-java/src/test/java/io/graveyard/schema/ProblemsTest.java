package io.graveyard.schema;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import org.junit.jupiter.api.Test;

/** Every way a class can fail to map, each reported with its field path, all at once. */
class ProblemsTest {

    /** The problems of {@code type}, checked to be thrown the same by every entry point. */
    static List<String> problems(Class<?> type) {
        SchemaDerivationException e = assertThrows(SchemaDerivationException.class, () -> Entities.schemaJson(type));
        assertSame(type, e.getType());
        assertTrue(e.getMessage().contains(type.getName()), e.getMessage());
        assertThrows(SchemaDerivationException.class, () -> Entities.eventType(type));
        if (e.getProblems().stream().anyMatch(p -> !isEntityProblem(p))) {
            assertThrows(SchemaDerivationException.class, () -> Entities.fromJson("{}".getBytes(), type));
        }
        return e.getProblems();
    }

    private static boolean isEntityProblem(String problem) {
        return problem.contains("@GraveyardEntity") || problem.contains("entity name");
    }

    /** Asserts that the problems are exactly as many as the fragments, each found in its own problem. */
    static void assertProblems(Class<?> type, String... fragments) {
        List<String> problems = problems(type);
        for (String fragment : fragments) {
            if (problems.stream().noneMatch(p -> p.contains(fragment))) {
                fail("no problem contains \"" + fragment + "\" in " + problems);
            }
        }
        assertEquals(fragments.length, problems.size(), () -> "problems: " + String.join("\n", problems));
    }

    static class NotAnnotated {
        String x;
    }

    @GraveyardEntity
    static class NoName {
        String x;
    }

    @GraveyardEntity("$system")
    static class Reserved {
        String x;
    }

    @GraveyardEntity("a\0b")
    static class WithNul {
    }

    @GraveyardEntity("0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
        + "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
        + "0123456789012345678901234567890123456789012345678")
    static class TooLong {
    }

    @Test
    void entityNames() {
        assertProblems(NotAnnotated.class, "NotAnnotated: class " + NotAnnotated.class.getName()
            + " is not annotated with @GraveyardEntity");
        assertProblems(NoName.class, "NoName: the entity name (@GraveyardEntity value) is empty");
        assertProblems(Reserved.class, "starts with '$'");
        assertProblems(WithNul.class, "NUL");
        assertProblems(TooLong.class, "249 UTF-8 bytes, longer than 248");
        // Reading and writing JSON needs no entity name: only schemas and event types do.
        NotAnnotated plain = new NotAnnotated();
        plain.x = "y";
        assertEquals("y", Entities.fromJson(Entities.toJson(plain), NotAnnotated.class).x);
        assertEquals("{\"x\":\"y\"}", new String(Entities.toJson(plain), java.nio.charset.StandardCharsets.UTF_8));
        Entities.fromJson("{}".getBytes(), Reserved.class);
    }

    @Test
    void aClassWithoutEntityNameAndOtherProblemsReportsThemAll() {
        SchemaDerivationException e = assertThrows(SchemaDerivationException.class,
            () -> Entities.schemaJson(UnsupportedNotAnnotated.class));
        assertEquals(2, e.getProblems().size(), e.getProblems().toString());
        assertTrue(e.getProblems().get(0).contains("is not annotated"));
        e = assertThrows(SchemaDerivationException.class,
            () -> Entities.fromJson("{}".getBytes(), UnsupportedNotAnnotated.class));
        assertEquals(List.of("UnsupportedNotAnnotated.anything: unsupported type java.lang.Object: declare a concrete "
            + "type"), e.getProblems());
    }

    static class UnsupportedNotAnnotated {
        Object anything;
    }

    @GraveyardEntity("unsupported")
    static class Unsupported {
        Object anything;
        Date date;
        Number number;
        java.util.OptionalInt optionalInt;
        Thread thread;
        Runnable task;
        List<Object> objects;
    }

    @Test
    void unsupportedTypesNameTheirPath() {
        assertProblems(Unsupported.class,
            "Unsupported.anything: unsupported type java.lang.Object: declare a concrete type",
            "Unsupported.date: unsupported type java.util.Date: use java.time.Instant",
            "Unsupported.number: unsupported type java.lang.Number",
            "Unsupported.optionalInt: unsupported type java.util.OptionalInt: use Optional<Integer>",
            "Unsupported.thread: unsupported type java.lang.Thread",
            "Unsupported.task: unsupported type java.lang.Runnable",
            "Unsupported.objects[]: unsupported type java.lang.Object");
    }

    @GraveyardEntity("raw")
    @SuppressWarnings("rawtypes")
    static class RawAndBadContainers {
        List raw;
        Map rawMap;
        Optional rawOptional;
        Map<Integer, String> intKeys;
        List<Optional<String>> optionalItems;
        Optional<Optional<String>> optionalOptional;
        Map<String, Optional<String>> optionalValues;
    }

    @Test
    void rawAndUnsupportedContainers() {
        assertProblems(RawAndBadContainers.class,
            "RawAndBadContainers.raw: raw type java.util.List: declare its type arguments",
            "RawAndBadContainers.rawMap: raw type java.util.Map",
            "RawAndBadContainers.rawOptional: raw Optional",
            "RawAndBadContainers.intKeys: map keys must be String",
            "RawAndBadContainers.optionalItems[]: Optional is only supported as the type of a field itself",
            "RawAndBadContainers.optionalOptional: Optional is only supported",
            "RawAndBadContainers.optionalValues.*: Optional is only supported");
    }

    @GraveyardEntity("node")
    static class Node {
        String label;
        Node next;
    }

    static class Team {
        List<Employee> members;
    }

    static class Employee {
        String name;
        Team team;
    }

    @GraveyardEntity("company")
    static class Company {
        Employee boss;
        Map<String, Company> subsidiaries;
    }

    static class Box<T> {
        T value;
    }

    @GraveyardEntity("boxes")
    static class BoxOfBoxes {
        Box<Box<Box<String>>> deep;
    }

    @Test
    void recursiveTypesAreRefusedWithTheirCycle() {
        assertProblems(Node.class, "Node.next: recursive type " + Node.class.getName()
            + ": Node (Node) -> Node.next (Node)");
        assertProblems(Company.class,
            "Company.boss.team.members[]: recursive type " + Employee.class.getName()
                + ": Company.boss (Employee) -> Company.boss.team (Team) -> Company.boss.team.members[] (Employee)",
            "Company.subsidiaries.*: recursive type " + Company.class.getName()
                + ": Company (Company) -> Company.subsidiaries.* (Company)");
        // The same generic class at different type arguments is no recursion.
        Entities.schemaJson(BoxOfBoxes.class);
    }

    @GraveyardEntity("contradictions")
    static class Contradictions {
        @GraveyardField(min = 10, max = 1)
        int minAboveMax;
        @GraveyardField(minLength = 5, maxLength = 2)
        String minLengthAboveMax;
        @GraveyardField(required = true, nullable = true)
        String requiredAndNullable;
        @GraveyardField(nullable = true)
        int nullablePrimitive;
        @GraveyardField(required = true)
        Optional<String> requiredOptional;
        @GraveyardField(min = -1000)
        byte belowByte;
        @GraveyardField(max = 1e10)
        Integer aboveInt;
        @GraveyardField(min = Double.NEGATIVE_INFINITY)
        double infinite;
        @GraveyardField(minLength = -2)
        String negativeLength;
        @GraveyardField(min = 200)
        byte minAboveByte;
    }

    @Test
    void contradictoryConstraints() {
        assertProblems(Contradictions.class,
            "Contradictions.minAboveMax: min 10 is above max 1",
            "Contradictions.minLengthAboveMax: minLength 5 is above maxLength 2",
            "Contradictions.requiredAndNullable: both required and nullable",
            "Contradictions.nullablePrimitive: nullable on a primitive int",
            "Contradictions.requiredOptional: required on an Optional field",
            "Contradictions.belowByte: min -1000 is below the smallest byte (-128)",
            "Contradictions.aboveInt: max 10000000000 is above the largest java.lang.Integer (2147483647)",
            "Contradictions.infinite: min must be a finite number, not -Infinity",
            "Contradictions.negativeLength: minLength must be at least 0 (or -1 for none), not -2",
            "Contradictions.minAboveByte: min 200 is above max 127");
    }

    enum Empty { }

    @GraveyardEntity("inapplicable")
    static class Inapplicable {
        @GraveyardField(minLength = 1)
        int lengthOnInt;
        @GraveyardField(max = 3)
        String maxOnString;
        @GraveyardField(regex = "[0-9]+")
        long regexOnLong;
        @GraveyardField(regex = "[a-f-]+")
        UUID regexOnUuid;
        @GraveyardField(maxLength = 2)
        char lengthOnChar;
        @GraveyardField(min = 1)
        List<Integer> minOnList;
        @GraveyardField(maxLength = 3)
        Map<String, String> lengthOnMap;
        @GraveyardField(regex = "A")
        Thread.State regexOnEnum;
        Empty empty;
    }

    @Test
    void constraintsThatDoNotApplyToTheType() {
        assertProblems(Inapplicable.class,
            "Inapplicable.lengthOnInt: minLength applies to strings and arrays, not to integer (int)",
            "Inapplicable.maxOnString: max applies to numbers and integers, not to string (java.lang.String)",
            "Inapplicable.regexOnLong: regex applies to strings, not to integer (long)",
            "Inapplicable.regexOnUuid: regex does not apply to java.util.UUID",
            "Inapplicable.lengthOnChar: maxLength does not apply to char, which is always 1 character",
            "Inapplicable.minOnList: min applies to numbers and integers, not to array",
            "Inapplicable.lengthOnMap: maxLength applies to strings and arrays, not to object",
            "Inapplicable.regexOnEnum: regex applies to strings, not to enum (java.lang.Thread$State)",
            "Inapplicable.empty: enum " + Empty.class.getName() + " has no constants");
    }

    @GraveyardEntity("regexes")
    static class Regexes {
        @GraveyardField(regex = "[a-z")
        String unclosed;
        @GraveyardField(regex = "(?=a)a+")
        String lookahead;
        @GraveyardField(regex = "(?<!x)y")
        String lookbehind;
        @GraveyardField(regex = "(a)\\1")
        String backreference;
        @GraveyardField(regex = "a++b")
        String possessive;
        @GraveyardField(regex = "(?>ab)c")
        String atomic;
        @GraveyardField(regex = "[(?=]\\(?=x\\)\\\\1[a+]+")
        String escapedIsFine;
        @GraveyardField(regex = "(?P<year>[0-9]{4})-(?<month>[0-9]{2})")
        String rustNamedGroups;
    }

    @Test
    void badRegexes() {
        assertProblems(Regexes.class,
            "Regexes.unclosed: regex \"[a-z\" does not compile: Unclosed character class",
            "Regexes.lookahead: regex \"(?=a)a+\" uses look-around",
            "Regexes.lookbehind: regex \"(?<!x)y\" uses look-around",
            "Regexes.backreference: regex \"(a)\\\\1\" uses back-references",
            "Regexes.possessive: regex \"a++b\" uses possessive quantifiers",
            "Regexes.atomic: regex \"(?>ab)c\" uses atomic groups");
    }

    enum Size { S, M, L }

    @GraveyardEntity("defaults")
    static class Defaults {
        @GraveyardField(overridesOnNull = "abc")
        int notJson;
        @GraveyardField(overridesOnNull = "1.5")
        int fraction;
        @GraveyardField(overridesOnNull = "\"1\"")
        Integer quotedNumber;
        @GraveyardField(overridesOnNull = "XL")
        Size notAConstant;
        @GraveyardField(overridesOnNull = "null")
        Boolean nullDefault;
        @GraveyardField(overridesOnNull = "")
        Long emptyJson;
        @GraveyardField(min = 0, max = 10, overridesOnNull = "11")
        int outOfRange;
        @GraveyardField(overridesOnNull = "300")
        byte outOfByte;
        @GraveyardField(maxLength = 3, overridesOnNull = "abcd")
        String tooLong;
        @GraveyardField(regex = "[a-z]+", overridesOnNull = "ABC")
        String noMatch;
        @GraveyardField(overridesOnNull = "not-a-uuid")
        UUID badUuid;
        @GraveyardField(overridesOnNull = "xy")
        char twoChars;
        @GraveyardField(overridesOnNull = "[1, \"a\"]")
        List<Integer> badItem;
        @GraveyardField(overridesOnNull = "{\"x\": \"a\"}")
        Point badObject;
    }

    static class Point {
        int x;
    }

    @Test
    void defaultsThatDoNotParseOrBreakTheRules() {
        assertProblems(Defaults.class,
            "Defaults.notJson: overridesOnNull \"abc\" is not JSON",
            "Defaults.fraction: overridesOnNull \"1.5\" is not a valid int: expected an integer",
            "Defaults.quotedNumber: overridesOnNull \"\\\"1\\\"\" is not a valid java.lang.Integer: expected an integer, "
                + "got a string",
            "Defaults.notAConstant: overridesOnNull \"XL\" is not a valid",
            "Defaults.nullDefault: overridesOnNull is null, which changes nothing",
            "Defaults.emptyJson: overridesOnNull is empty",
            "Defaults.outOfRange: overridesOnNull \"11\" is above max 10",
            "Defaults.outOfByte: overridesOnNull \"300\" is not a valid byte: the integer does not fit byte",
            "Defaults.tooLong: overridesOnNull \"abcd\" is longer than maxLength 3",
            "Defaults.noMatch: overridesOnNull \"ABC\" does not match regex \"[a-z]+\"",
            "Defaults.badUuid: overridesOnNull \"not-a-uuid\" is not a valid java.util.UUID",
            "Defaults.twoChars: overridesOnNull \"xy\" is not a valid char",
            "Defaults.badItem: overridesOnNull \"[1, \\\"a\\\"]\" is not a valid java.util.List<java.lang.Integer>: [1]: "
                + "expected an integer",
            "Defaults.badObject: overridesOnNull \"{\\\"x\\\": \\\"a\\\"}\" is not a valid " + Point.class.getName()
                + ": x: expected an integer");
    }

    interface Shape {
    }

    abstract static class AbstractShape {
    }

    class Inner {
        String x;
    }

    static class NoDefaultConstructor {
        final String x;

        NoDefaultConstructor(String x) {
            this.x = x;
        }
    }

    static class Generic<T> {
        T value;
    }

    static class Parent {
        String name;
    }

    static class Child extends Parent {
        String name;
        @GraveyardField(name = "other")
        String first;
        String other;
    }

    @GraveyardEntity("structure")
    @SuppressWarnings("rawtypes")
    static class Structure {
        Shape shape;
        AbstractShape abstractShape;
        Inner inner;
        NoDefaultConstructor noDefaultConstructor;
        Generic unbound;
        Child child;
        Runnable lambda;
    }

    @Test
    void structuralProblems() {
        assertProblems(Structure.class,
            "Structure.shape: unsupported type " + Shape.class.getName() + ": interfaces and abstract classes",
            "Structure.abstractShape: unsupported type " + AbstractShape.class.getName(),
            "Structure.inner: unsupported type " + Inner.class.getName() + ": an inner class needs an instance",
            "Structure.noDefaultConstructor: class " + NoDefaultConstructor.class.getName()
                + " has no constructor without parameters",
            "Structure.unbound.value: type variable T is not bound",
            "Structure.child: JSON member 'name' is declared by 2 fields [name, name]",
            "Structure.child: JSON member 'other' is declared by 2 fields [first, other]",
            "Structure.lambda: unsupported type java.lang.Runnable");
    }

    @Test
    void notAClassOrRecord() {
        assertProblems(Size.class, "Size: class " + Size.class.getName() + " is not annotated",
            "Size: an entity must be a concrete class or a record");
        assertProblems(int.class, "int: class int is not annotated", "an entity must be a concrete class");
    }

    @GraveyardEntity("many")
    static class ManyProblems {
        @GraveyardField(minLength = 3)
        int a;
        Object b;
        Node c;
        @GraveyardField(regex = "(")
        String d;
    }

    @Test
    void everyProblemIsListedNotOnlyTheFirst() {
        List<String> problems = problems(ManyProblems.class);
        assertEquals(4, problems.size(), problems.toString());
        assertTrue(problems.get(0).startsWith("ManyProblems.a: "), problems.toString());
        assertTrue(problems.get(1).startsWith("ManyProblems.b: "), problems.toString());
        assertTrue(problems.get(2).startsWith("ManyProblems.c.next: recursive type"), problems.toString());
        assertTrue(problems.get(3).startsWith("ManyProblems.d: "), problems.toString());
        SchemaDerivationException e = assertThrows(SchemaDerivationException.class,
            () -> Entities.schemaJson(ManyProblems.class));
        assertTrue(e.getMessage().startsWith("cannot map " + ManyProblems.class.getName()
            + " to a GraveyardDB schema: 4 problems\n  - ManyProblems.a: "), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Entities.schemaJson(ManyProblems.class),
            "an IllegalArgumentException, as the contract says");
    }
}
