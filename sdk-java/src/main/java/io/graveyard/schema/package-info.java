/**
 * Annotation-driven schemas for GraveyardDB events: annotate a class or record, and
 * {@link io.graveyard.schema.Entities} derives the store's schema from it, serialises instances to
 * the JSON the store validates and reads events back.
 *
 * <pre>{@code
 * @GraveyardEntity("user")
 * public class User {
 *     @GraveyardField(required = true, minLength = 1, maxLength = 100) private String name;
 *     @GraveyardField(min = 18) private int age;
 *     private Address address;               // nested object, declared in place
 *     private List<String> tags;             // {"array": "string"}
 *     private Optional<String> nickname;     // nullable
 *     User() {}                              // any visibility; needed to read events back
 * }
 *
 * client.upsertSchema(User.class);               // Entities.schemaJson(User.class)
 * client.append("user-1", expected, user);       // event type "user", data Entities.toJson(user)
 * User back = event.as(User.class);              // Entities.fromJson(data, User.class)
 * }</pre>
 *
 * <h2>Entities</h2>
 * <ul>
 * <li>{@link io.graveyard.schema.GraveyardEntity#value()} names the schema and is the event type.
 *   {@code Entities.eventType} and {@code Entities.schemaJson} need it; {@code toJson} and
 *   {@code fromJson} also take classes without it (a DTO reading some members of events). The class
 *   must be a concrete class with a
 *   constructor without parameters (any visibility) or a record (read back through its canonical
 *   constructor). Non-static inner, local and anonymous classes, interfaces and abstract classes
 *   are refused.</li>
 * <li>{@code description}, {@code unknownFields} and {@code compatibility} become the schema's
 *   {@code description}, {@code unknown_fields} and {@code compatibility}. Defaults
 *   ({@code ALLOW}, {@code BACKWARD}) are left out of the JSON, as the store does.</li>
 * <li>A class used as a field type is a nested object, declared in place
 *   ({@code {"object": {"fields": [...]}}}) with its own fields and annotations; a
 *   {@code @GraveyardEntity} on it (name optional) sets its {@code unknown_fields}.</li>
 * </ul>
 *
 * <h2>Fields</h2>
 * Every instance field of the class and its superclasses (superclass fields first, then in
 * declaration order, as the JVM lists them), or every record component, is a schema field, annotated or not, except
 * {@code static}, {@code transient} and synthetic fields and those marked
 * {@link io.graveyard.schema.GraveyardIgnore}. The member name is
 * {@link io.graveyard.schema.GraveyardField#name()} or the Java name. Getters, setters and
 * Jackson annotations play no part: the mapping reads and writes fields, so the schema and the
 * JSON always declare the same members under the same names.
 *
 * <h2>Types</h2>
 * <table>
 * <caption>Java types and their schema types</caption>
 * <tr><th>Java</th><th>schema</th></tr>
 * <tr><td>{@code byte short int long} and boxes</td><td>{@code "integer"} with {@code min}/{@code max}
 *   of the Java range (tightened, never widened, by the annotation: data the Java type cannot
 *   hold is refused by the store)</td></tr>
 * <tr><td>{@code BigInteger}</td><td>{@code "integer"} within -2<sup>63</sup>..2<sup>64</sup>-1, the integers
 *   the store holds (beyond, JSON numbers are floating point to it)</td></tr>
 * <tr><td>{@code java.time.Year}</td><td>{@code "integer"} (-999999999..999999999)</td></tr>
 * <tr><td>{@code float} and {@code Float}</td><td>{@code "number"} within &plusmn;{@code Float.MAX_VALUE}</td></tr>
 * <tr><td>{@code double Double BigDecimal}</td><td>{@code "number"}; decimals keep their digits and scale
 *   in the stored bytes, except in an event the store rewrites to fill a default, which keeps
 *   double precision</td></tr>
 * <tr><td>{@code boolean Boolean}</td><td>{@code "boolean"}</td></tr>
 * <tr><td>{@code char Character}</td><td>{@code "string"} with {@code min_length} = {@code max_length} = 1
 *   (a character beyond the BMP is one character to the store but two Java chars: refused on read)</td></tr>
 * <tr><td>{@code String CharSequence char[]}</td><td>{@code "string"}</td></tr>
 * <tr><td>{@code byte[]}</td><td>{@code "string"} in base64, with its pattern</td></tr>
 * <tr><td>{@code UUID}</td><td>{@code "string"} with a UUID pattern</td></tr>
 * <tr><td>{@code Instant LocalDate LocalTime LocalDateTime OffsetDateTime OffsetTime
 *   ZonedDateTime Duration Period YearMonth MonthDay}</td><td>{@code "string"}, ISO-8601 as their
 *   {@code toString()} writes it, with a pattern of that form (the shape is checked, not the
 *   calendar: February 30 passes the store but not the read)</td></tr>
 * <tr><td>enums</td><td>{@code {"enum": [constant names]}}, written by {@code name()}</td></tr>
 * <tr><td>arrays, {@code Collection List Set SortedSet Queue Deque} and concrete collections
 *   with a public constructor without parameters</td><td>{@code {"array": element}}; the element type
 *   comes from the generic type ({@code List<String>}), so raw collections are refused; sets are
 *   not checked for uniqueness; items are never null in the store, so a null item is written as
 *   null and refused by the store</td></tr>
 * <tr><td>{@code Map<String, T>} (and sorted or concrete maps)</td><td>{@code {"object": {"fields": []}}}:
 *   an object whose members the store keeps unchecked (the model cannot type them); read back as
 *   {@code T}. Keys other than {@code String} are refused</td></tr>
 * <tr><td>{@code Optional<T>}, as the type of a field only</td><td>{@code T} with {@code nullable: true}</td></tr>
 * <tr><td>other classes and records</td><td>{@code {"object": {"fields": [...]}}}, declared in place;
 *   type variables are resolved ({@code Box<String>}, {@code extends Base<Integer>})</td></tr>
 * </table>
 * Anything else ({@code Object}, interfaces, {@code java.util.Date}, {@code OptionalInt}, other
 * JDK types...) is a problem. Array items and map values cannot carry rules in the schema model,
 * so an {@code int[]} item is only checked to be an integer: the reader refuses one out of range.
 *
 * <h2>Rules and nulls</h2>
 * <ul>
 * <li>Primitive fields are always {@code required} (Java always writes them) and can't be
 *   {@code nullable}. To add one to a schema whose older events lack it, give it an
 *   {@code overridesOnNull} default, or the store's backward compatibility check refuses it.</li>
 * <li>Other fields are neither required nor nullable unless annotated; {@code Optional} fields are
 *   nullable and cannot be required.</li>
 * <li>{@link io.graveyard.schema.Entities#toJson(Object)} leaves null fields and empty Optionals
 *   out (never writes null members): the store accepts an absent member unless the field is
 *   required, which it refuses with a {@code required} violation, and fills the field's default
 *   when it has one. So the schema accepts every object whose values keep the annotations, and
 *   refuses, with its violations, every object that breaks them.</li>
 * <li>{@code min}/{@code max} apply to integer and number fields; {@code minLength}/{@code maxLength}
 *   to strings (in characters) and arrays and collections (in items); {@code regex} (the schema's
 *   {@code pattern}, matched against the whole string, Rust {@code regex} syntax) to strings other
 *   than UUID, java.time and base64 fields, which carry their own pattern.</li>
 * <li>{@code overridesOnNull} becomes the schema's {@code default}: raw text for fields written as
 *   strings (strings, chars, enum constant names, UUIDs, java.time values, base64), JSON for the
 *   others. It is read as the field's Java type, written back in canonical form, and checked
 *   against the field's bounds, lengths and regex.</li>
 * </ul>
 *
 * <h2>Problems</h2>
 * Every problem of a class is collected and reported at once by a
 * {@link io.graveyard.schema.SchemaDerivationException} (an {@code IllegalArgumentException}),
 * each naming its field path ({@code User.address.zip}; {@code []} for items, {@code .*} for map
 * values): a missing or invalid entity name, an unsupported or raw type, a recursive type (with
 * the cycle: {@code Node (Node) -> Node.next (Node)}: objects declared in place cannot express
 * recursion), a rule that does not apply to the field's type, min above max (or outside the Java
 * range), required with nullable, nullable on a primitive, required on an Optional, a regex that
 * does not compile or uses constructs the store's regex engine lacks (look-around,
 * back-references, possessive quantifiers, atomic groups), a default that does not parse or breaks
 * the field's rules, two fields with the same member name, a class that cannot be constructed.
 *
 * <h2>Reading</h2>
 * Members no field declares are ignored. An absent or null member leaves a class's field as its
 * constructor set it ({@code Optional} fields become empty when null) and gives a record component
 * {@code null}, zero, {@code false} or {@code Optional.empty()}. Data of the wrong type, an integer
 * outside its Java type or an unknown enum constant throws an {@code IllegalArgumentException}
 * naming the member's path (never its value).
 *
 * <h2>Threads and caching</h2>
 * Each class is derived once, on first use (a {@code ClassValue}); the schema text, the mapping
 * and the problems are then shared by all threads.
 */
package io.graveyard.schema;
