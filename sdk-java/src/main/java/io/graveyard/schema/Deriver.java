package io.graveyard.schema;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.graveyard.schema.Mapping.ArrayMapping;
import io.graveyard.schema.Mapping.BooleanMapping;
import io.graveyard.schema.Mapping.DataException;
import io.graveyard.schema.Mapping.EnumMapping;
import io.graveyard.schema.Mapping.IntKind;
import io.graveyard.schema.Mapping.IntegerMapping;
import io.graveyard.schema.Mapping.MapMapping;
import io.graveyard.schema.Mapping.NumKind;
import io.graveyard.schema.Mapping.NumberMapping;
import io.graveyard.schema.Mapping.ObjectMapping;
import io.graveyard.schema.Mapping.Property;
import io.graveyard.schema.Mapping.TextMapping;

import java.io.IOException;
import java.io.StringWriter;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
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
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.format.SignStyle;
import java.time.temporal.ChronoField;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Derives the schema and the JSON mapping of one entity class by reflection, collecting every
 * problem instead of stopping at the first. One instance per derivation; not thread-safe (the
 * result is).
 */
final class Deriver {
    /** The longest schema name whose {@code $schema-<name>} stream name fits in 256 bytes. */
    static final int MAX_NAME_BYTES = 256 - "$schema-".length();
    /** How deep objects may nest before the derivation gives up (runaway generic types). */
    static final int MAX_DEPTH = 64;

    static final JsonFactory JSON = JsonFactory.builder().build();
    static final ObjectMapper READER = JsonMapper.builder(JSON)
        .nodeFactory(Mapping.NODES)
        .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
        .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
        .disable(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES)
        .build();

    /** The result of a derivation: the schema and mapping, or the problems. */
    static final class Derived {
        final String name;
        final String schemaJson;
        final ObjectMapping root;
        /** Every problem: the class can be neither a schema nor an event type. */
        final List<String> problems;
        /** The problems of the mapping alone (not those of @GraveyardEntity): JSON can't be read or written. */
        final List<String> mappingProblems;

        Derived(String name, String schemaJson, ObjectMapping root, List<String> entityProblems,
                List<String> mappingProblems) {
            this.name = name;
            this.schemaJson = schemaJson;
            this.root = root;
            List<String> all = new ArrayList<>(entityProblems);
            all.addAll(mappingProblems);
            this.problems = List.copyOf(all);
            this.mappingProblems = List.copyOf(mappingProblems);
        }
    }

    /** What a type variable stands for, in the environment of the type that bound it. */
    private static final class Binding {
        final Type type;
        final Map<TypeVariable<?>, Binding> env;

        Binding(Type type, Map<TypeVariable<?>, Binding> env) {
            this.type = type;
            this.env = env;
        }
    }

    /** An object type being derived, for the detection of recursive types. */
    private static final class Frame {
        final String key;
        final String path;
        final Class<?> type;

        Frame(String key, String path, Class<?> type) {
            this.key = key;
            this.path = path;
            this.type = type;
        }
    }

    private final List<String> problems = new ArrayList<>();
    /** The problems of the @GraveyardEntity annotation of the root class. */
    private final List<String> entityProblems = new ArrayList<>();
    private final List<Frame> stack = new ArrayList<>();

    private Deriver() {
    }

    static Derived derive(Class<?> root) {
        return new Deriver().run(root);
    }

    private Derived run(Class<?> root) {
        String rootPath = root.getSimpleName().isEmpty() ? root.getName() : root.getSimpleName();
        GraveyardEntity entity = root.getAnnotation(GraveyardEntity.class);
        String name = entity == null ? "" : entity.value();
        if (entity == null) {
            entityProblems.add(rootPath + ": class " + root.getName() + " is not annotated with @GraveyardEntity (whose "
                + "value names the schema and the event type)");
        } else {
            checkName(rootPath, name);
        }
        ObjectMapping mapping = null;
        if (root.isPrimitive() || root.isArray() || root.isEnum() || root.isInterface()
            || Modifier.isAbstract(root.getModifiers()) || isJdk(root)) {
            problem(rootPath, "an entity must be a concrete class or a record, not " + root.getTypeName());
        } else {
            Mapping derived = object(root, Map.of(), rootPath);
            if (derived instanceof ObjectMapping) {
                mapping = (ObjectMapping) derived;
            }
        }
        if (!problems.isEmpty() || mapping == null) {
            return new Derived(name, null, null, entityProblems, problems);
        }
        if (!entityProblems.isEmpty()) {
            return new Derived(name, null, mapping, entityProblems, problems);
        }
        ObjectNode schema = Mapping.NODES.objectNode();
        schema.put("name", name);
        if (!entity.description().isEmpty()) {
            schema.put("description", entity.description());
        }
        schema.set("fields", mapping.schemaFields());
        if (mapping.unknownFields != UnknownFields.ALLOW) {
            schema.put("unknown_fields", mapping.unknownFields.json());
        }
        if (entity.compatibility() != Compatibility.BACKWARD) {
            schema.put("compatibility", entity.compatibility().json());
        }
        return new Derived(name, schema.toString(), mapping, entityProblems, problems);
    }

    private void problem(String path, String message) {
        problems.add(path + ": " + message);
    }

    private void checkName(String path, String name) {
        if (name.isEmpty()) {
            entityProblems.add(path + ": the entity name (@GraveyardEntity value) is empty");
            return;
        }
        if (name.startsWith("$")) {
            entityProblems.add(path + ": entity name '" + name + "' starts with '$', which is reserved for the system");
        }
        if (name.indexOf('\0') >= 0) {
            entityProblems.add(path + ": the entity name contains a NUL character");
        }
        int bytes = name.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_NAME_BYTES) {
            entityProblems.add(path + ": the entity name is " + bytes + " UTF-8 bytes, longer than " + MAX_NAME_BYTES
                + " (its stream name $schema-<name> must fit in 256)");
        }
    }

    // -------------------------------------------------------------------------------------------
    // objects

    private Mapping object(Class<?> type, Map<TypeVariable<?>, Binding> env, String path) {
        if (type.isInterface() || Modifier.isAbstract(type.getModifiers())) {
            problem(path, "unsupported type " + type.getName() + ": interfaces and abstract classes have no fields to map "
                + "(declare a concrete class or record)");
            return PLACEHOLDER;
        }
        if (type.isAnonymousClass() || type.isLocalClass()) {
            problem(path, "unsupported type " + type.getName() + ": local and anonymous classes cannot be constructed "
                + "to read events back (declare a top-level or static nested class)");
            return PLACEHOLDER;
        }
        if (type.isMemberClass() && !Modifier.isStatic(type.getModifiers())) {
            problem(path, "unsupported type " + type.getName() + ": an inner class needs an instance of its enclosing "
                + "class to be constructed (declare it static)");
            return PLACEHOLDER;
        }
        String key = key(type, env);
        for (int i = 0; i < stack.size(); i++) {
            if (stack.get(i).key.equals(key)) {
                StringBuilder cycle = new StringBuilder();
                for (Frame frame : stack.subList(i, stack.size())) {
                    cycle.append(frame.path).append(" (").append(frame.type.getSimpleName()).append(") -> ");
                }
                cycle.append(path).append(" (").append(type.getSimpleName()).append(')');
                problem(path, "recursive type " + type.getName() + ": " + cycle + "; objects are declared in place in "
                    + "the schema, which cannot express recursion (leave a field of the cycle out with "
                    + "@GraveyardIgnore or transient, or refer to the other object by id)");
                return PLACEHOLDER;
            }
        }
        if (stack.size() >= MAX_DEPTH) {
            problem(path, "objects nest more than " + MAX_DEPTH + " deep (a generic type that grows at each level?)");
            return PLACEHOLDER;
        }
        stack.add(new Frame(key, path, type));
        try {
            ObjectMapping mapping = new ObjectMapping(type);
            GraveyardEntity entity = type.getAnnotation(GraveyardEntity.class);
            if (entity != null) {
                mapping.unknownFields = entity.unknownFields();
            }
            if (type.isRecord()) {
                record(mapping, type, env, path);
            } else {
                plainClass(mapping, type, env, path);
            }
            duplicates(mapping, path);
            return mapping;
        } finally {
            stack.remove(stack.size() - 1);
        }
    }

    private void record(ObjectMapping mapping, Class<?> type, Map<TypeVariable<?>, Binding> env, String path) {
        mapping.record = true;
        RecordComponent[] components = type.getRecordComponents();
        Class<?>[] types = new Class<?>[components.length];
        for (int i = 0; i < components.length; i++) {
            RecordComponent component = components[i];
            types[i] = component.getType();
            Field field;
            try {
                field = type.getDeclaredField(component.getName());
            } catch (NoSuchFieldException e) {
                problem(Mapping.join(path, component.getName()), "record component without its field");
                continue;
            }
            property(mapping, field, component, env, path);
        }
        try {
            Constructor<?> constructor = type.getDeclaredConstructor(types);
            constructor.setAccessible(true);
            mapping.constructor = constructor;
        } catch (NoSuchMethodException | RuntimeException e) {
            problem(path, "the canonical constructor of record " + type.getName() + " is not accessible: " + e);
        }
    }

    private void plainClass(ObjectMapping mapping, Class<?> type, Map<TypeVariable<?>, Binding> env, String path) {
        // Superclasses first, so that their fields come first.
        List<Class<?>> classes = new ArrayList<>();
        List<Map<TypeVariable<?>, Binding>> envs = new ArrayList<>();
        Class<?> current = type;
        Map<TypeVariable<?>, Binding> currentEnv = env;
        while (current != null && current != Object.class) {
            if (isJdk(current)) {
                problem(path, "unsupported type " + type.getName() + ": it extends " + current.getName()
                    + ", a JDK class whose fields cannot be mapped");
                break;
            }
            classes.add(0, current);
            envs.add(0, currentEnv);
            Type superType = current.getGenericSuperclass();
            currentEnv = superType instanceof ParameterizedType
                ? bind((ParameterizedType) superType, currentEnv) : Map.of();
            current = current.getSuperclass();
        }
        for (int i = 0; i < classes.size(); i++) {
            for (Field field : classes.get(i).getDeclaredFields()) {
                int modifiers = field.getModifiers();
                if (Modifier.isStatic(modifiers) || Modifier.isTransient(modifiers) || field.isSynthetic()
                    || field.isAnnotationPresent(GraveyardIgnore.class)) {
                    continue;
                }
                property(mapping, field, null, envs.get(i), path);
            }
        }
        try {
            Constructor<?> constructor = type.getDeclaredConstructor();
            constructor.setAccessible(true);
            mapping.constructor = constructor;
        } catch (NoSuchMethodException e) {
            problem(path, "class " + type.getName() + " has no constructor without parameters, which reading events "
                + "back needs (any visibility will do; or make it a record)");
        } catch (RuntimeException e) {
            problem(path, "the constructor of " + type.getName() + " is not accessible: " + e);
        }
    }

    private void duplicates(ObjectMapping mapping, String path) {
        Map<String, List<String>> byName = new LinkedHashMap<>();
        for (Property p : mapping.properties) {
            if (!p.ignored) {
                byName.computeIfAbsent(p.jsonName, k -> new ArrayList<>()).add(p.javaName);
            }
        }
        byName.forEach((json, javaNames) -> {
            if (javaNames.size() > 1) {
                problem(path, "JSON member '" + json + "' is declared by " + javaNames.size() + " fields "
                    + javaNames + " (rename one with @GraveyardField(name = ...))");
            }
        });
    }

    // -------------------------------------------------------------------------------------------
    // fields

    private void property(ObjectMapping mapping, Field field, RecordComponent component,
                          Map<TypeVariable<?>, Binding> env, String parentPath) {
        String path = Mapping.join(parentPath, field.getName());
        GraveyardField rules = component != null && component.isAnnotationPresent(GraveyardField.class)
            ? component.getAnnotation(GraveyardField.class) : field.getAnnotation(GraveyardField.class);
        boolean ignored = field.isAnnotationPresent(GraveyardIgnore.class)
            || (component != null && component.isAnnotationPresent(GraveyardIgnore.class));
        Property p = new Property();
        p.javaName = field.getName();
        p.field = field;
        p.primitive = field.getType().isPrimitive() ? field.getType() : null;
        p.jsonName = rules != null && !rules.name().isEmpty() ? rules.name() : field.getName();
        try {
            field.setAccessible(true);
        } catch (RuntimeException e) {
            problem(path, "the field is not accessible: " + e);
        }
        Type type = field.getGenericType();
        Map<TypeVariable<?>, Binding> typeEnv = env;
        while (type instanceof TypeVariable && typeEnv.get(type) != null) {
            Binding binding = typeEnv.get(type);
            type = binding.type;
            typeEnv = binding.env;
        }
        if (raw(type) == Optional.class) {
            p.optional = true;
            if (!(type instanceof ParameterizedType)) {
                problem(path, "raw Optional: declare its value type (Optional<String>)");
                p.type = PLACEHOLDER;
            } else {
                type = ((ParameterizedType) type).getActualTypeArguments()[0];
            }
        }
        if (ignored) {
            // Only record components are kept (their constructor needs a value for them).
            if (component != null) {
                p.ignored = true;
                mapping.properties.add(p);
            }
            return;
        }
        if (p.type == null) {
            p.type = type(type, typeEnv, path);
        }
        rules(p, rules, path);
        mapping.properties.add(p);
    }

    private void rules(Property p, GraveyardField rules, String path) {
        Mapping type = p.type;
        if (type == PLACEHOLDER) {
            return;
        }
        String what = type.kind + " (" + type.javaType + ")";
        boolean primitive = p.primitive != null;
        p.required = primitive || (rules != null && rules.required());
        p.nullable = p.optional || (rules != null && rules.nullable());
        if (rules != null) {
            if (primitive && rules.nullable()) {
                problem(path, "nullable on a primitive " + p.primitive + ", which is never null (use its box "
                    + "type or Optional)");
            }
            if (p.optional && rules.required()) {
                problem(path, "required on an Optional field, which may be empty (drop required, or the Optional)");
            } else if (rules.required() && rules.nullable()) {
                problem(path, "both required and nullable: a required field holds a value (drop one)");
            }
        }

        // min, max
        boolean numeric = type.kind.equals("integer") || type.kind.equals("number");
        Double min = rules != null && !Double.isNaN(rules.min()) ? rules.min() : null;
        Double max = rules != null && !Double.isNaN(rules.max()) ? rules.max() : null;
        boolean boundsOk = true;
        for (Object[] rule : new Object[][] {{"min", min}, {"max", max}}) {
            Double bound = (Double) rule[1];
            if (bound == null) {
                continue;
            }
            if (!numeric) {
                problem(path, rule[0] + " applies to numbers and integers, not to " + what);
                boundsOk = false;
            } else if (Double.isInfinite(bound)) {
                problem(path, rule[0] + " must be a finite number, not " + bound);
                boundsOk = false;
            }
        }
        if (numeric && boundsOk) {
            Number javaMin = type.javaMin();
            Number javaMax = type.javaMax();
            if (min != null && javaMin != null && min < javaMin.doubleValue()) {
                problem(path, "min " + fmt(min) + " is below the smallest " + type.javaType + " (" + javaMin + ")");
            }
            if (max != null && javaMax != null && max > javaMax.doubleValue()) {
                problem(path, "max " + fmt(max) + " is above the largest " + type.javaType + " (" + javaMax + ")");
            }
            p.min = min != null ? min : javaMin;
            p.max = max != null ? max : javaMax;
            if (p.min != null && p.max != null && p.min.doubleValue() > p.max.doubleValue()) {
                problem(path, "min " + fmt(p.min) + " is above max " + fmt(p.max));
            }
        }

        // min_length, max_length
        long minLength = rules != null ? rules.minLength() : -1;
        long maxLength = rules != null ? rules.maxLength() : -1;
        boolean hasLength = type.kind.equals("string") || type.kind.equals("array");
        for (Object[] rule : new Object[][] {{"minLength", minLength}, {"maxLength", maxLength}}) {
            long bound = (Long) rule[1];
            if (bound < -1) {
                problem(path, rule[0] + " must be at least 0 (or -1 for none), not " + bound);
            } else if (bound >= 0 && !hasLength) {
                problem(path, rule[0] + " applies to strings and arrays, not to " + what);
            } else if (bound >= 0 && type.fixedLength() >= 0) {
                problem(path, rule[0] + " does not apply to " + type.javaType + ", which is always "
                    + type.fixedLength() + " character");
            }
        }
        if (minLength >= 0 && maxLength >= 0 && minLength > maxLength) {
            problem(path, "minLength " + minLength + " is above maxLength " + maxLength);
        }
        if (type.fixedLength() >= 0) {
            p.minLength = type.fixedLength();
            p.maxLength = type.fixedLength();
        } else if (hasLength) {
            p.minLength = Math.max(minLength, -1);
            p.maxLength = Math.max(maxLength, -1);
        }

        // pattern
        String regex = rules != null ? rules.regex() : "";
        Pattern compiled = null;
        if (!regex.isEmpty()) {
            if (!type.kind.equals("string")) {
                problem(path, "regex applies to strings, not to " + what);
            } else if (type.builtInPattern() != null) {
                problem(path, "regex does not apply to " + type.javaType + ", whose text has a fixed form (the "
                    + "schema already carries its pattern)");
            } else {
                compiled = regex(regex, path);
            }
        }
        p.pattern = type.builtInPattern() != null ? type.builtInPattern() : regex.isEmpty() ? null : regex;

        // default
        if (rules != null && !GraveyardField.UNSET.equals(rules.overridesOnNull())) {
            defaultValue(p, rules.overridesOnNull(), compiled, path);
        }

        if (rules != null && !rules.description().isEmpty()) {
            p.description = rules.description();
        }
    }

    private void defaultValue(Property p, String text, Pattern pattern, String path) {
        Mapping type = p.type;
        boolean raw = type.kind.equals("string") || type.kind.equals("enum");
        JsonNode node;
        if (raw) {
            node = Mapping.NODES.textNode(text);
        } else {
            try {
                node = READER.readTree(text);
            } catch (IOException e) {
                problem(path, "overridesOnNull " + quote(text) + " is not JSON (the default of " + type.kind + " ("
                    + type.javaType + ") is written as JSON text)");
                return;
            }
            if (node == null || node.isMissingNode()) {
                problem(path, "overridesOnNull is empty (the default of " + type.kind + " (" + type.javaType
                    + ") is written as JSON text)");
                return;
            }
            if (node.isNull()) {
                problem(path, "overridesOnNull is null, which changes nothing (it replaces null)");
                return;
            }
        }
        Object value;
        JsonNode canonical;
        try {
            value = type.read(node, "");
            StringWriter out = new StringWriter();
            try (JsonGenerator generator = JSON.createGenerator(out)) {
                type.write(generator, value, "");
            }
            canonical = READER.readTree(out.toString());
        } catch (DataException e) {
            problem(path, "overridesOnNull " + quote(text) + " is not a valid " + type.javaType + ": " + e.getMessage());
            return;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        int before = problems.size();
        if (canonical.isNumber()) {
            BigDecimal v = canonical.decimalValue();
            if (p.min != null && v.compareTo(new BigDecimal(p.min.toString())) < 0) {
                problem(path, "overridesOnNull " + quote(text) + " is below min " + fmt(p.min));
            }
            if (p.max != null && v.compareTo(new BigDecimal(p.max.toString())) > 0) {
                problem(path, "overridesOnNull " + quote(text) + " is above max " + fmt(p.max));
            }
        }
        long length = type.length(value);
        if (length >= 0 && p.minLength >= 0 && length < p.minLength) {
            problem(path, "overridesOnNull " + quote(text) + " is shorter than minLength " + p.minLength);
        }
        if (length >= 0 && p.maxLength >= 0 && length > p.maxLength) {
            problem(path, "overridesOnNull " + quote(text) + " is longer than maxLength " + p.maxLength);
        }
        if (pattern != null && canonical.isTextual() && !pattern.matcher(canonical.textValue()).matches()) {
            problem(path, "overridesOnNull " + quote(text) + " does not match regex " + quote(p.pattern));
        }
        if (problems.size() == before) {
            p.defaultValue = canonical;
        }
    }

    private Pattern regex(String regex, String path) {
        Pattern compiled;
        try {
            // Rust's (?P<name>...) is Java's (?<name>...); the rest of the common syntax agrees.
            compiled = Pattern.compile(regex.replace("(?P<", "(?<"));
        } catch (PatternSyntaxException e) {
            problem(path, "regex " + quote(regex) + " does not compile: " + e.getDescription() + " near index "
                + e.getIndex());
            return null;
        }
        List<String> unsupported = rustUnsupported(regex);
        if (!unsupported.isEmpty()) {
            problem(path, "regex " + quote(regex) + " uses " + String.join(", ", unsupported) + ", which the store's "
                + "regular expressions (Rust regex syntax) do not support");
            return null;
        }
        return compiled;
    }

    /** Java regex constructs the store's Rust regex engine refuses or reads differently. */
    static List<String> rustUnsupported(String regex) {
        List<String> found = new ArrayList<>();
        boolean inClass = false;
        int n = regex.length();
        for (int i = 0; i < n; i++) {
            char c = regex.charAt(i);
            char next = i + 1 < n ? regex.charAt(i + 1) : '\0';
            if (c == '\\') {
                if (!inClass && next >= '1' && next <= '9') {
                    add(found, "back-references");
                } else if (next == 'k' && i + 2 < n && regex.charAt(i + 2) == '<') {
                    add(found, "back-references");
                } else if (next == 'Q') {
                    add(found, "\\Q...\\E quoting");
                } else if (next == 'Z' || next == 'G') {
                    add(found, "\\" + next);
                }
                i++;
                continue;
            }
            if (inClass) {
                if (c == ']') {
                    inClass = false;
                }
                continue;
            }
            if (c == '[') {
                inClass = true;
                // A ']' right after '[' or '[^' is a literal.
                if (next == '^') {
                    i++;
                    next = i + 1 < n ? regex.charAt(i + 1) : '\0';
                }
                if (next == ']') {
                    i++;
                }
                continue;
            }
            if (c == '(' && next == '?') {
                String rest = regex.substring(i);
                if (rest.startsWith("(?=") || rest.startsWith("(?!") || rest.startsWith("(?<=")
                    || rest.startsWith("(?<!")) {
                    add(found, "look-around");
                } else if (rest.startsWith("(?>")) {
                    add(found, "atomic groups");
                }
                continue;
            }
            if ((c == '*' || c == '+' || c == '?' || c == '}') && next == '+') {
                add(found, "possessive quantifiers");
                i++;
            }
        }
        return found;
    }

    private static void add(List<String> found, String construct) {
        if (!found.contains(construct)) {
            found.add(construct);
        }
    }

    // -------------------------------------------------------------------------------------------
    // types

    /** Stands for a type that could not be mapped (a problem says why). */
    static final Mapping PLACEHOLDER = new BooleanMapping("?");

    private Mapping type(Type type, Map<TypeVariable<?>, Binding> env, String path) {
        if (type instanceof TypeVariable) {
            Binding binding = env.get(type);
            if (binding == null) {
                problem(path, "type variable " + ((TypeVariable<?>) type).getName() + " is not bound to a concrete "
                    + "type (declare the field, or the entity, with type arguments)");
                return PLACEHOLDER;
            }
            return type(binding.type, binding.env, path);
        }
        if (type instanceof WildcardType) {
            WildcardType wildcard = (WildcardType) type;
            if (wildcard.getLowerBounds().length > 0) {
                problem(path, "unsupported type " + wildcard + ": declare a concrete type");
                return PLACEHOLDER;
            }
            return type(wildcard.getUpperBounds()[0], env, path);
        }
        if (type instanceof GenericArrayType) {
            Type component = ((GenericArrayType) type).getGenericComponentType();
            Mapping element = type(component, env, path + "[]");
            Class<?> componentClass = rawResolved(component, env);
            return new ArrayMapping(type.getTypeName(), element, componentClass == null ? Object.class : componentClass,
                null);
        }
        if (type instanceof ParameterizedType) {
            return parameterized((ParameterizedType) type, env, path);
        }
        Class<?> c = (Class<?>) type;
        Mapping simple = simple(c);
        if (simple != null) {
            return simple;
        }
        if (c.isArray()) {
            return new ArrayMapping(c.getTypeName(), type(c.getComponentType(), env, path + "[]"), c.getComponentType(),
                null);
        }
        if (c.isEnum()) {
            return enumeration(c, path);
        }
        if (Collection.class.isAssignableFrom(c) || Map.class.isAssignableFrom(c)) {
            problem(path, "raw type " + c.getName() + ": declare its type arguments (List<String>, Map<String, "
                + "Integer>)");
            return PLACEHOLDER;
        }
        if (c == Optional.class) {
            return nestedOptional(path);
        }
        if (c == Object.class || isJdk(c) || c.isPrimitive()) {
            problem(path, "unsupported type " + c.getName() + hint(c));
            return PLACEHOLDER;
        }
        return object(c, Map.of(), path);
    }

    @SuppressWarnings("unchecked")
    private Mapping enumeration(Class<?> c, String path) {
        if (c.getEnumConstants().length == 0) {
            problem(path, "enum " + c.getName() + " has no constants, so no value is valid");
            return PLACEHOLDER;
        }
        return new EnumMapping((Class<? extends Enum<?>>) c);
    }

    private Mapping nestedOptional(String path) {
        problem(path, "Optional is only supported as the type of a field itself, not inside arrays, collections, "
            + "maps or other Optionals (array items are never null)");
        return PLACEHOLDER;
    }

    private Mapping parameterized(ParameterizedType type, Map<TypeVariable<?>, Binding> env, String path) {
        Class<?> raw = (Class<?>) type.getRawType();
        Type[] args = type.getActualTypeArguments();
        if (Collection.class.isAssignableFrom(raw) && args.length == 1) {
            Supplier<Collection<Object>> supplier = collection(raw);
            if (supplier == null) {
                problem(path, "unsupported collection type " + raw.getName() + " (use List, Set, SortedSet, "
                    + "Collection, Queue or a concrete collection with a constructor without parameters)");
                return PLACEHOLDER;
            }
            Mapping element = type(args[0], env, path + "[]");
            return new ArrayMapping(type.getTypeName(), element, null, supplier);
        }
        if (Map.class.isAssignableFrom(raw) && args.length == 2) {
            Supplier<Map<String, Object>> supplier = map(raw);
            Class<?> key = rawResolved(args[0], env);
            if (key != String.class) {
                problem(path, "map keys must be String (JSON member names), not " + args[0].getTypeName());
            }
            if (supplier == null) {
                problem(path, "unsupported map type " + raw.getName() + " (use Map, SortedMap or a concrete map with "
                    + "a constructor without parameters)");
            }
            Mapping value = type(args[1], env, path + ".*");
            if (key != String.class || supplier == null) {
                return PLACEHOLDER;
            }
            return new MapMapping(type.getTypeName(), value, supplier);
        }
        if (raw == Optional.class) {
            return nestedOptional(path);
        }
        if (isJdk(raw)) {
            problem(path, "unsupported type " + type.getTypeName() + hint(raw));
            return PLACEHOLDER;
        }
        return object(raw, bind(type, env), path);
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Supplier<Collection<Object>> collection(Class<?> raw) {
        if (raw.isInterface() || Modifier.isAbstract(raw.getModifiers())) {
            if (raw.isAssignableFrom(ArrayList.class)) {
                return ArrayList::new;
            }
            if (raw.isAssignableFrom(LinkedHashSet.class)) {
                return LinkedHashSet::new;
            }
            if (raw.isAssignableFrom(TreeSet.class)) {
                return TreeSet::new;
            }
            if (raw.isAssignableFrom(ArrayDeque.class)) {
                return ArrayDeque::new;
            }
            return null;
        }
        Supplier supplier = instantiator(raw);
        return supplier;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Supplier<Map<String, Object>> map(Class<?> raw) {
        if (raw.isInterface() || Modifier.isAbstract(raw.getModifiers())) {
            if (raw.isAssignableFrom(LinkedHashMap.class)) {
                return LinkedHashMap::new;
            }
            if (raw.isAssignableFrom(TreeMap.class)) {
                return TreeMap::new;
            }
            if (raw.isAssignableFrom(java.util.concurrent.ConcurrentHashMap.class)) {
                return java.util.concurrent.ConcurrentHashMap::new;
            }
            return null;
        }
        Supplier supplier = instantiator(raw);
        return supplier;
    }

    private static Supplier<Object> instantiator(Class<?> raw) {
        try {
            Constructor<?> constructor = raw.getConstructor();
            return () -> {
                try {
                    return constructor.newInstance();
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException("cannot construct " + raw.getName(), e);
                }
            };
        } catch (NoSuchMethodException e) {
            return null;
        }
    }

    private static Map<TypeVariable<?>, Binding> bind(ParameterizedType type, Map<TypeVariable<?>, Binding> env) {
        TypeVariable<?>[] variables = ((Class<?>) type.getRawType()).getTypeParameters();
        Type[] args = type.getActualTypeArguments();
        Map<TypeVariable<?>, Binding> bound = new HashMap<>();
        for (int i = 0; i < variables.length && i < args.length; i++) {
            bound.put(variables[i], new Binding(args[i], env));
        }
        return bound;
    }

    /** The class a type stands for, type variables resolved; null when it has none. */
    private static Class<?> rawResolved(Type type, Map<TypeVariable<?>, Binding> env) {
        for (int depth = 0; depth < 100 && type instanceof TypeVariable; depth++) {
            Binding binding = env.get(type);
            if (binding == null) {
                return null;
            }
            type = binding.type;
            env = binding.env;
        }
        if (type instanceof WildcardType) {
            WildcardType w = (WildcardType) type;
            return w.getLowerBounds().length > 0 ? null : rawResolved(w.getUpperBounds()[0], env);
        }
        if (type instanceof GenericArrayType) {
            Class<?> component = rawResolved(((GenericArrayType) type).getGenericComponentType(), env);
            return component == null ? null : component.arrayType();
        }
        return raw(type);
    }

    private static Class<?> raw(Type type) {
        if (type instanceof Class) {
            return (Class<?>) type;
        }
        if (type instanceof ParameterizedType) {
            return (Class<?>) ((ParameterizedType) type).getRawType();
        }
        return null;
    }

    /** Identifies an object type with its type arguments, for the detection of recursion. */
    private static String key(Class<?> type, Map<TypeVariable<?>, Binding> env) {
        StringBuilder out = new StringBuilder(type.getName());
        TypeVariable<?>[] variables = type.getTypeParameters();
        if (variables.length > 0) {
            out.append('<');
            for (int i = 0; i < variables.length; i++) {
                Binding binding = env.get(variables[i]);
                out.append(i > 0 ? "," : "").append(binding == null ? "?" : key(binding.type, binding.env, 0));
            }
            out.append('>');
        }
        return out.toString();
    }

    private static String key(Type type, Map<TypeVariable<?>, Binding> env, int depth) {
        if (depth > 32) {
            return "...";
        }
        if (type instanceof Class) {
            return ((Class<?>) type).getName();
        }
        if (type instanceof ParameterizedType) {
            ParameterizedType p = (ParameterizedType) type;
            StringBuilder out = new StringBuilder(((Class<?>) p.getRawType()).getName()).append('<');
            Type[] args = p.getActualTypeArguments();
            for (int i = 0; i < args.length; i++) {
                out.append(i > 0 ? "," : "").append(key(args[i], env, depth + 1));
            }
            return out.append('>').toString();
        }
        if (type instanceof TypeVariable) {
            Binding binding = env.get(type);
            return binding == null ? "?" + ((TypeVariable<?>) type).getName() : key(binding.type, binding.env, depth + 1);
        }
        if (type instanceof GenericArrayType) {
            return key(((GenericArrayType) type).getGenericComponentType(), env, depth + 1) + "[]";
        }
        if (type instanceof WildcardType) {
            return key(((WildcardType) type).getUpperBounds()[0], env, depth + 1);
        }
        return type.getTypeName();
    }

    static boolean isJdk(Class<?> c) {
        String name = c.getName();
        return name.startsWith("java.") || name.startsWith("javax.") || name.startsWith("jdk.")
            || name.startsWith("sun.") || name.startsWith("com.sun.");
    }

    private static String hint(Class<?> c) {
        if (c == Object.class || c == Number.class) {
            return ": declare a concrete type";
        }
        if (c == java.util.Date.class || c == java.util.Calendar.class || c.getName().startsWith("java.sql.")) {
            return ": use java.time.Instant (or another java.time type)";
        }
        if (c == java.util.OptionalInt.class || c == java.util.OptionalLong.class
            || c == java.util.OptionalDouble.class) {
            return ": use Optional<Integer>, Optional<Long> or Optional<Double>";
        }
        return " (see io.graveyard.schema's package documentation for the supported types)";
    }

    private static String fmt(Number n) {
        if (n instanceof Double && n.doubleValue() == Math.rint(n.doubleValue()) && Math.abs(n.doubleValue()) < 0x1p53) {
            return Long.toString(n.longValue());
        }
        return n.toString();
    }

    private static String quote(String text) {
        return "\"" + text.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    // -------------------------------------------------------------------------------------------
    // the types that map to one schema type

    private static final Map<Class<?>, Mapping> SIMPLE = new HashMap<>();

    private static Mapping simple(Class<?> c) {
        return SIMPLE.get(c);
    }

    static final String YEAR = "(?:[0-9]{4}|-[0-9]{4,10}|\\+[0-9]{5,10})";
    static final String DATE = YEAR + "-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])";
    static final String TIME = "(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\\.[0-9]{1,9})?)?";
    static final String TIME_SECONDS = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,9})?";
    static final String OFFSET = "(?:Z|[+-](?:0[0-9]|1[0-8]):[0-5][0-9](?::[0-5][0-9])?)";
    static final String ZONE = "(?:\\[[A-Za-z0-9_+/-]+\\])?";
    static final String SECONDS = "-?[0-9]+(?:\\.[0-9]{1,9})?S";
    static final String DURATION = "PT(?:-?[0-9]+H(?:-?[0-9]+M)?(?:" + SECONDS + ")?|-?[0-9]+M(?:" + SECONDS + ")?|"
        + SECONDS + ")";
    static final String PERIOD = "P(?:-?[0-9]+Y(?:-?[0-9]+M)?(?:-?[0-9]+D)?|-?[0-9]+M(?:-?[0-9]+D)?|-?[0-9]+D)";
    static final String UUID_PATTERN =
        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
    static final String BASE64 = "(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?";

    private static final DateTimeFormatter YEAR_MONTH = new DateTimeFormatterBuilder()
        .appendValue(ChronoField.YEAR, 4, 10, SignStyle.EXCEEDS_PAD).appendLiteral('-')
        .appendValue(ChronoField.MONTH_OF_YEAR, 2).toFormatter();

    static {
        integer(IntKind.BYTE, (long) Byte.MIN_VALUE, (long) Byte.MAX_VALUE, byte.class, Byte.class);
        integer(IntKind.SHORT, (long) Short.MIN_VALUE, (long) Short.MAX_VALUE, short.class, Short.class);
        integer(IntKind.INT, (long) Integer.MIN_VALUE, (long) Integer.MAX_VALUE, int.class, Integer.class);
        integer(IntKind.LONG, Long.MIN_VALUE, Long.MAX_VALUE, long.class, Long.class);
        // The store holds integers in [-2^63, 2^64) (beyond, JSON numbers are floating point to it).
        integer(IntKind.BIG, Long.MIN_VALUE, BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE), BigInteger.class);
        integer(IntKind.YEAR, (long) Year.MIN_VALUE, (long) Year.MAX_VALUE, Year.class);
        SIMPLE.put(float.class, new NumberMapping(NumKind.FLOAT, "float"));
        SIMPLE.put(Float.class, new NumberMapping(NumKind.FLOAT, "java.lang.Float"));
        SIMPLE.put(double.class, new NumberMapping(NumKind.DOUBLE, "double"));
        SIMPLE.put(Double.class, new NumberMapping(NumKind.DOUBLE, "java.lang.Double"));
        SIMPLE.put(BigDecimal.class, new NumberMapping(NumKind.DECIMAL, "java.math.BigDecimal"));
        SIMPLE.put(boolean.class, new BooleanMapping("boolean"));
        SIMPLE.put(Boolean.class, new BooleanMapping("java.lang.Boolean"));
        Function<String, Object> oneChar = s -> {
            if (s.length() != 1) {
                throw new IllegalArgumentException("not one character");
            }
            return s.charAt(0);
        };
        SIMPLE.put(char.class, new TextMapping("char", String::valueOf, oneChar, null, 1));
        SIMPLE.put(Character.class, new TextMapping("java.lang.Character", String::valueOf, oneChar, null, 1));
        SIMPLE.put(String.class, new TextMapping("java.lang.String", s -> (String) s, s -> s, null, -1));
        SIMPLE.put(CharSequence.class, new TextMapping("java.lang.CharSequence", Object::toString, s -> s, null, -1));
        SIMPLE.put(char[].class, new TextMapping("char[]", a -> new String((char[]) a), String::toCharArray, null, -1));
        SIMPLE.put(byte[].class, new TextMapping("byte[]", a -> Base64.getEncoder().encodeToString((byte[]) a),
            s -> Base64.getDecoder().decode(s), BASE64, -1));
        text(UUID.class, UUID::fromString, UUID_PATTERN);
        text(Instant.class, Instant::parse, DATE + "T" + TIME_SECONDS + "Z");
        text(LocalDate.class, LocalDate::parse, DATE);
        text(LocalTime.class, LocalTime::parse, TIME);
        text(LocalDateTime.class, LocalDateTime::parse, DATE + "T" + TIME);
        text(OffsetDateTime.class, OffsetDateTime::parse, DATE + "T" + TIME + OFFSET);
        text(OffsetTime.class, OffsetTime::parse, TIME + OFFSET);
        text(ZonedDateTime.class, ZonedDateTime::parse, DATE + "T" + TIME + OFFSET + ZONE);
        text(Duration.class, Duration::parse, DURATION);
        text(Period.class, Period::parse, PERIOD);
        text(MonthDay.class, MonthDay::parse, "--(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])");
        SIMPLE.put(YearMonth.class, new TextMapping(YearMonth.class.getName(), v -> YEAR_MONTH.format((YearMonth) v),
            s -> YearMonth.parse(s, YEAR_MONTH), YEAR + "-(?:0[1-9]|1[0-2])", -1));
    }

    private static void integer(IntKind kind, Number min, Number max, Class<?>... types) {
        for (Class<?> type : types) {
            SIMPLE.put(type, new IntegerMapping(kind, type.getName(), min, max));
        }
    }

    private static void text(Class<?> type, Function<String, Object> parse, String pattern) {
        SIMPLE.put(type, new TextMapping(type.getName(), Object::toString, parse, pattern, -1));
    }
}
