package io.graveyard.schema;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * How one Java type maps to a schema type, and how its values are written to and read from JSON.
 * Built once per entity class by {@link Deriver}; immutable afterwards, so shared by all threads.
 */
abstract class Mapping {
    static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    /** The schema kind: integer, number, string, boolean, enum, array or object. */
    final String kind;
    /** The Java type, for messages. */
    final String javaType;

    Mapping(String kind, String javaType) {
        this.kind = kind;
        this.javaType = javaType;
    }

    /** The schema's {@code type} value. */
    abstract JsonNode schemaType();

    /** Writes a non-null value. */
    abstract void write(JsonGenerator out, Object value, String path) throws IOException;

    /** Reads a non-null JSON value. */
    abstract Object read(JsonNode node, String path);

    /** The range of the Java type (integer and number kinds), null when unbounded. */
    Number javaMin() {
        return null;
    }

    Number javaMax() {
        return null;
    }

    /** A pattern the Java type imposes on its text (UUID, java.time, base64), or null. */
    String builtInPattern() {
        return null;
    }

    /** The exact length in characters the Java type imposes (char), or -1. */
    long fixedLength() {
        return -1;
    }

    /** The length of a value, for checking defaults against min/max length; -1 when none. */
    long length(Object value) {
        return -1;
    }

    static DataException mismatch(String path, String expected, JsonNode node) {
        return new DataException(path, "expected " + expected + ", got " + describe(node));
    }

    static String describe(JsonNode node) {
        switch (node.getNodeType()) {
            case ARRAY: return "an array";
            case OBJECT: return "an object";
            case STRING: return "a string";
            case BOOLEAN: return "a boolean";
            case NUMBER: return node.isIntegralNumber() ? "an integer" : "a number with a fraction or exponent";
            case NULL: return "null";
            default: return node.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
        }
    }

    static String join(String path, String name) {
        return path.isEmpty() ? name : path + "." + name;
    }

    /** Data that does not fit the class being read (or a value that cannot be written as JSON). */
    static final class DataException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        DataException(String path, String message) {
            super((path.isEmpty() ? "" : path + ": ") + message);
        }

        DataException(String path, String message, Throwable cause) {
            super((path.isEmpty() ? "" : path + ": ") + message, cause);
        }
    }

    // ---------------------------------------------------------------------------------------
    // integers

    enum IntKind { BYTE, SHORT, INT, LONG, BIG, YEAR }

    static final class IntegerMapping extends Mapping {
        final IntKind intKind;
        final Number min;
        final Number max;

        IntegerMapping(IntKind intKind, String javaType, Number min, Number max) {
            super("integer", javaType);
            this.intKind = intKind;
            this.min = min;
            this.max = max;
        }

        @Override JsonNode schemaType() {
            return NODES.textNode("integer");
        }

        @Override Number javaMin() {
            return min;
        }

        @Override Number javaMax() {
            return max;
        }

        @Override void write(JsonGenerator out, Object value, String path) throws IOException {
            switch (intKind) {
                case BIG: out.writeNumber((BigInteger) value); break;
                case YEAR: out.writeNumber(((java.time.Year) value).getValue()); break;
                default: out.writeNumber(((Number) value).longValue());
            }
        }

        @Override Object read(JsonNode node, String path) {
            if (!node.isIntegralNumber()) {
                throw mismatch(path, "an integer", node);
            }
            if (intKind == IntKind.BIG) {
                return node.bigIntegerValue();
            }
            BigInteger big = node.bigIntegerValue();
            if (big.compareTo(BigInteger.valueOf(min.longValue())) < 0
                || big.compareTo(BigInteger.valueOf(max.longValue())) > 0) {
                throw new DataException(path, "the integer does not fit " + javaType + " (" + min + ".." + max + ")");
            }
            long v = big.longValue();
            switch (intKind) {
                case BYTE: return (byte) v;
                case SHORT: return (short) v;
                case INT: return (int) v;
                case YEAR: return java.time.Year.of((int) v);
                default: return v;
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // numbers

    enum NumKind { FLOAT, DOUBLE, DECIMAL }

    static final class NumberMapping extends Mapping {
        final NumKind numKind;

        NumberMapping(NumKind numKind, String javaType) {
            super("number", javaType);
            this.numKind = numKind;
        }

        @Override JsonNode schemaType() {
            return NODES.textNode("number");
        }

        /**
         * The largest float as Java writes it (3.4028235E38), a little above its exact value: the
         * bound must accept what {@code writeNumber(float)} writes, and every number up to it
         * still reads back as {@code Float.MAX_VALUE}.
         */
        static final double FLOAT_MAX = Double.parseDouble(Float.toString(Float.MAX_VALUE));

        @Override Number javaMin() {
            return numKind == NumKind.FLOAT ? -FLOAT_MAX : null;
        }

        @Override Number javaMax() {
            return numKind == NumKind.FLOAT ? FLOAT_MAX : null;
        }

        @Override void write(JsonGenerator out, Object value, String path) throws IOException {
            switch (numKind) {
                case FLOAT: {
                    float f = (Float) value;
                    if (!Float.isFinite(f)) {
                        throw new DataException(path, "JSON has no " + f + " (only finite numbers)");
                    }
                    out.writeNumber(f);
                    break;
                }
                case DOUBLE: {
                    double d = (Double) value;
                    if (!Double.isFinite(d)) {
                        throw new DataException(path, "JSON has no " + d + " (only finite numbers)");
                    }
                    out.writeNumber(d);
                    break;
                }
                default: out.writeNumber((BigDecimal) value);
            }
        }

        @Override Object read(JsonNode node, String path) {
            if (!node.isNumber()) {
                throw mismatch(path, "a number", node);
            }
            switch (numKind) {
                case FLOAT: {
                    float f = node.decimalValue().floatValue();
                    if (!Float.isFinite(f)) {
                        throw new DataException(path, "the number does not fit float");
                    }
                    return f;
                }
                case DOUBLE: {
                    double d = node.isBigDecimal() ? node.decimalValue().doubleValue() : node.doubleValue();
                    if (!Double.isFinite(d)) {
                        throw new DataException(path, "the number does not fit double");
                    }
                    return d;
                }
                default: return node.decimalValue();
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // booleans

    static final class BooleanMapping extends Mapping {
        BooleanMapping(String javaType) {
            super("boolean", javaType);
        }

        @Override JsonNode schemaType() {
            return NODES.textNode("boolean");
        }

        @Override void write(JsonGenerator out, Object value, String path) throws IOException {
            out.writeBoolean((Boolean) value);
        }

        @Override Object read(JsonNode node, String path) {
            if (!node.isBoolean()) {
                throw mismatch(path, "a boolean", node);
            }
            return node.booleanValue();
        }
    }

    // ---------------------------------------------------------------------------------------
    // strings (String, CharSequence, char, UUID, java.time, byte[] as base64)

    static final class TextMapping extends Mapping {
        final Function<Object, String> format;
        final Function<String, Object> parse;
        final String pattern;
        final long fixedLength;

        TextMapping(String javaType, Function<Object, String> format, Function<String, Object> parse,
                    String pattern, long fixedLength) {
            super("string", javaType);
            this.format = format;
            this.parse = parse;
            this.pattern = pattern;
            this.fixedLength = fixedLength;
        }

        @Override JsonNode schemaType() {
            return NODES.textNode("string");
        }

        @Override String builtInPattern() {
            return pattern;
        }

        @Override long fixedLength() {
            return fixedLength;
        }

        @Override long length(Object value) {
            String text = format.apply(value);
            return text.codePointCount(0, text.length());
        }

        @Override void write(JsonGenerator out, Object value, String path) throws IOException {
            out.writeString(format.apply(value));
        }

        @Override Object read(JsonNode node, String path) {
            if (!node.isTextual()) {
                throw mismatch(path, "a string", node);
            }
            try {
                return parse.apply(node.textValue());
            } catch (RuntimeException e) {
                throw new DataException(path, "the string is not a valid " + javaType);
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // enums

    static final class EnumMapping extends Mapping {
        final Class<? extends Enum<?>> type;
        final Map<String, Enum<?>> constants;

        EnumMapping(Class<? extends Enum<?>> type) {
            super("enum", type.getName());
            this.type = type;
            Map<String, Enum<?>> byName = new java.util.LinkedHashMap<>();
            for (Enum<?> constant : type.getEnumConstants()) {
                byName.put(constant.name(), constant);
            }
            this.constants = java.util.Collections.unmodifiableMap(byName);
        }

        @Override JsonNode schemaType() {
            ObjectNode type = NODES.objectNode();
            ArrayNode variants = type.putArray("enum");
            constants.keySet().forEach(variants::add);
            return type;
        }

        @Override void write(JsonGenerator out, Object value, String path) throws IOException {
            out.writeString(((Enum<?>) value).name());
        }

        @Override Object read(JsonNode node, String path) {
            if (!node.isTextual()) {
                throw mismatch(path, "a string", node);
            }
            Enum<?> constant = constants.get(node.textValue());
            if (constant == null) {
                throw new DataException(path, "the string is not a constant of " + javaType);
            }
            return constant;
        }
    }

    // ---------------------------------------------------------------------------------------
    // arrays and collections

    static final class ArrayMapping extends Mapping {
        final Mapping element;
        /** The component class of a Java array, or null for a collection. */
        final Class<?> component;
        final Supplier<Collection<Object>> collection;

        ArrayMapping(String javaType, Mapping element, Class<?> component, Supplier<Collection<Object>> collection) {
            super("array", javaType);
            this.element = element;
            this.component = component;
            this.collection = collection;
        }

        @Override JsonNode schemaType() {
            ObjectNode type = NODES.objectNode();
            type.set("array", element.schemaType());
            return type;
        }

        @Override long length(Object value) {
            return component != null ? Array.getLength(value) : ((Collection<?>) value).size();
        }

        @Override void write(JsonGenerator out, Object value, String path) throws IOException {
            out.writeStartArray();
            if (component != null) {
                int n = Array.getLength(value);
                for (int i = 0; i < n; i++) {
                    writeItem(out, Array.get(value, i), path, i);
                }
            } else {
                int i = 0;
                for (Iterator<?> it = ((Collection<?>) value).iterator(); it.hasNext(); i++) {
                    writeItem(out, it.next(), path, i);
                }
            }
            out.writeEndArray();
        }

        private void writeItem(JsonGenerator out, Object item, String path, int i) throws IOException {
            if (item == null) {
                // Written as is: the store refuses null items (rule "nullable" at path[i]).
                out.writeNull();
            } else {
                element.write(out, item, path + "[" + i + "]");
            }
        }

        @Override Object read(JsonNode node, String path) {
            if (!node.isArray()) {
                throw mismatch(path, "an array", node);
            }
            int n = node.size();
            if (component != null) {
                Object array = Array.newInstance(component, n);
                for (int i = 0; i < n; i++) {
                    Object item = readItem(node.get(i), path, i);
                    if (item == null && component.isPrimitive()) {
                        throw new DataException(path + "[" + i + "]", "null in an array of " + component.getName());
                    }
                    Array.set(array, i, item);
                }
                return array;
            }
            Collection<Object> items = collection.get();
            for (int i = 0; i < n; i++) {
                items.add(readItem(node.get(i), path, i));
            }
            return items;
        }

        private Object readItem(JsonNode item, String path, int i) {
            return item.isNull() ? null : element.read(item, path + "[" + i + "]");
        }
    }

    // ---------------------------------------------------------------------------------------
    // Map<String, T>: an object whose members no field declares

    static final class MapMapping extends Mapping {
        final Mapping value;
        final Supplier<Map<String, Object>> map;

        MapMapping(String javaType, Mapping value, Supplier<Map<String, Object>> map) {
            super("object", javaType);
            this.value = value;
            this.map = map;
        }

        @Override JsonNode schemaType() {
            ObjectNode type = NODES.objectNode();
            type.putObject("object").putArray("fields");
            return type;
        }

        @Override void write(JsonGenerator out, Object value, String path) throws IOException {
            out.writeStartObject();
            for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
                if (entry.getKey() == null) {
                    throw new DataException(path, "a map key is null (JSON member names are strings)");
                }
                String key = entry.getKey().toString();
                out.writeFieldName(key);
                if (entry.getValue() == null) {
                    out.writeNull();
                } else {
                    this.value.write(out, entry.getValue(), join(path, key));
                }
            }
            out.writeEndObject();
        }

        @Override Object read(JsonNode node, String path) {
            if (!node.isObject()) {
                throw mismatch(path, "an object", node);
            }
            Map<String, Object> result = map.get();
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext();) {
                Map.Entry<String, JsonNode> entry = it.next();
                JsonNode v = entry.getValue();
                result.put(entry.getKey(), v.isNull() ? null : value.read(v, join(path, entry.getKey())));
            }
            return result;
        }
    }

    // ---------------------------------------------------------------------------------------
    // classes and records

    /** One member of an object: a Java field (or record component) and its schema field. */
    static final class Property {
        String javaName;
        String jsonName;
        Field field;
        Mapping type;
        /** The Java type is Optional<T>; {@link #type} maps T. */
        boolean optional;
        /** The Java type is primitive. */
        Class<?> primitive;
        /** Left out (@GraveyardIgnore on a record component): read as the type's zero value. */
        boolean ignored;
        boolean required;
        boolean nullable;
        Number min;
        Number max;
        long minLength = -1;
        long maxLength = -1;
        String pattern;
        JsonNode defaultValue;
        String description;

        Object zero() {
            if (optional) {
                return Optional.empty();
            }
            if (primitive == null) {
                return null;
            }
            if (primitive == boolean.class) {
                return false;
            }
            if (primitive == char.class) {
                return '\0';
            }
            return Array.get(Array.newInstance(primitive, 1), 0);
        }

        JsonNode schemaField() {
            ObjectNode out = NODES.objectNode();
            out.put("name", jsonName);
            out.set("type", type.schemaType());
            if (required) {
                out.put("required", true);
            }
            if (nullable) {
                out.put("nullable", true);
            }
            putBound(out, "min", min);
            putBound(out, "max", max);
            if (minLength >= 0) {
                out.put("min_length", minLength);
            }
            if (maxLength >= 0) {
                out.put("max_length", maxLength);
            }
            if (pattern != null) {
                out.put("pattern", pattern);
            }
            if (defaultValue != null) {
                out.set("default", defaultValue);
            }
            if (description != null) {
                out.put("description", description);
            }
            return out;
        }

        private static void putBound(ObjectNode out, String name, Number bound) {
            if (bound == null) {
                return;
            }
            if (bound instanceof Long) {
                out.put(name, bound.longValue());
                return;
            }
            if (bound instanceof BigInteger) {
                out.put(name, (BigInteger) bound);
                return;
            }
            double d = bound.doubleValue();
            if (d == Math.rint(d) && Math.abs(d) < 0x1p53) {
                out.put(name, (long) d);
            } else {
                out.put(name, d);
            }
        }
    }

    static final class ObjectMapping extends Mapping {
        final Class<?> type;
        final List<Property> properties = new ArrayList<>();
        UnknownFields unknownFields = UnknownFields.ALLOW;
        /** The canonical constructor of a record, or the no-argument constructor of a class. */
        Constructor<?> constructor;
        boolean record;

        ObjectMapping(Class<?> type) {
            super("object", type.getName());
            this.type = type;
        }

        /** The {@code fields} array (and unknown_fields) of this object. */
        ArrayNode schemaFields() {
            ArrayNode fields = NODES.arrayNode();
            for (Property p : properties) {
                if (!p.ignored) {
                    fields.add(p.schemaField());
                }
            }
            return fields;
        }

        @Override JsonNode schemaType() {
            ObjectNode type = NODES.objectNode();
            ObjectNode object = type.putObject("object");
            object.set("fields", schemaFields());
            if (unknownFields == UnknownFields.REJECT) {
                object.put("unknown_fields", unknownFields.json());
            }
            return type;
        }

        @Override void write(JsonGenerator out, Object value, String path) throws IOException {
            out.writeStartObject();
            for (Property p : properties) {
                if (p.ignored) {
                    continue;
                }
                Object v = get(p, value);
                if (p.optional) {
                    v = v == null ? null : ((Optional<?>) v).orElse(null);
                }
                if (v == null) {
                    // Absent, never null: the store accepts an absent member unless the field is
                    // required (violation "required") and fills its default if it has one.
                    continue;
                }
                out.writeFieldName(p.jsonName);
                p.type.write(out, v, join(path, p.jsonName));
            }
            out.writeEndObject();
        }

        private static Object get(Property p, Object target) {
            try {
                return p.field.get(target);
            } catch (IllegalAccessException e) {
                throw new IllegalStateException("cannot read field " + p.field, e);
            }
        }

        @Override Object read(JsonNode node, String path) {
            if (!node.isObject()) {
                throw mismatch(path, "an object", node);
            }
            return record ? readRecord(node, path) : readClass(node, path);
        }

        private Object readRecord(JsonNode node, String path) {
            Object[] args = new Object[properties.size()];
            for (int i = 0; i < args.length; i++) {
                Property p = properties.get(i);
                JsonNode v = p.ignored ? null : node.get(p.jsonName);
                args[i] = v == null || v.isNull() ? p.zero() : wrap(p, p.type.read(v, join(path, p.jsonName)));
            }
            return construct(args, path);
        }

        private Object readClass(JsonNode node, String path) {
            Object target = construct(new Object[0], path);
            for (Property p : properties) {
                JsonNode v = node.get(p.jsonName);
                try {
                    if (v != null && !v.isNull()) {
                        p.field.set(target, wrap(p, p.type.read(v, join(path, p.jsonName))));
                    } else if (p.optional) {
                        if (v != null || p.field.get(target) == null) {
                            p.field.set(target, Optional.empty());
                        }
                    } else if (v != null && p.primitive == null) {
                        p.field.set(target, null);
                    }
                    // Absent: the field keeps the value the constructor gave it.
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException("cannot set field " + p.field, e);
                }
            }
            return target;
        }

        private static Object wrap(Property p, Object value) {
            return p.optional ? Optional.of(value) : value;
        }

        private Object construct(Object[] args, String path) {
            try {
                return constructor.newInstance(args);
            } catch (InvocationTargetException e) {
                Throwable cause = e.getCause();
                throw new DataException(path, "the constructor of " + type.getName() + " refused the data: " + cause,
                    cause);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot construct " + type.getName(), e);
            }
        }
    }
}
