// Package schema derives the schema of a GraveyardDB entity from a Go struct type: the JSON
// definition the store takes (docs/semantics.md, "Schemas"; core/src/schema/model.rs), which
// describes the JSON encoding/json writes for the type, with the rules its struct tags add.
//
//	type User struct {
//		_      struct{}  `graveyard:"entity=user,unknown_fields=reject,description='A registered user'"`
//		ID     string    `json:"id" graveyard:"required,pattern='[0-9a-f]{32}'"`
//		Name   string    `json:"name" graveyard:"required,min_length=1,max_length=100"`
//		Age    int       `json:"age" graveyard:"min=18,max=150"`
//		Email  *string   `json:"email,omitempty" graveyard:"max_length=254"`
//		Status string    `json:"status" graveyard:"enum=active|suspended|'on hold',default=active"`
//		Tags   []string  `json:"tags,omitempty" graveyard:"max_length=10"`
//		Since  time.Time `json:"since"`
//		Cache  string    `json:"-"`
//	}
//
//	def, err := schema.Derive(User{}) // def.Name is "user"; def.JSON the definition
//
// Derive reports every problem of a type at once, in a *DerivationError whose problems name
// the Go path of the field (User.Address.Zip).
//
// # Members
//
// The schema declares exactly the members encoding/json writes, under the names it writes:
// exported fields, named by their json tag (a name encoding/json does not accept is ignored,
// as it does), json:"-" skipped, the fields of embedded structs promoted by Go's rules (a
// shallower field, or a json-tagged one, hides the others of its name). Fields that claim one
// name at the same depth, which encoding/json silently drops, are a problem. The fields come
// in the order encoding/json writes them. The omitempty and omitzero options change nothing:
// an absent member is accepted unless the field is required. A graveyard tag where it can
// have no effect (an unexported field, a json:"-" field, an embedded struct whose fields are
// promoted, a hidden field) is a problem.
//
// # Tag grammar
//
// A field's rules are in its graveyard tag; the settings of a struct type are in the
// graveyard tag of a blank field of the type (_ struct{} is the usual one):
//
//	tag      = "-" | item { "," item }
//	item     = key [ "=" value ]           spaces around items are ignored
//	value    = quoted | bare
//	quoted   = "'" { character but "'" | "''" } "'"
//	                                       between single quotes, a doubled quote stands for one;
//	                                       commas, '|', '=', backslashes and spaces are kept
//	bare     = character { character but "," }
//	                                       not starting with a quote; spaces around it are dropped;
//	                                       an empty value is written ''
//	enum     = "enum=" variant { "|" variant }
//	variant  = quoted | character { character but "," and "|" }
//
// The tag itself is a Go string literal inside the struct tag (reflect.StructTag): within
// graveyard:"...", a backslash is written \\ and a double quote \". A graveyard tag that is not
// a valid literal is a problem (Go would silently ignore it). For example:
//
//	pattern='^[a-z]{1,3}$'       a comma: quote the value
//	pattern='^it''s$'            a single quote: double it
//	pattern='^\\d+(,\\d+)*$'     \d: the backslash doubled for the struct tag
//	pattern='^say \"hi\"$'       a double quote, escaped for the struct tag
//	description='a=b, c'         '=' needs no quotes, the comma does
//	enum=draft|'on hold'|'a|b'   the variants draft, on hold and a|b
//	default=''                   the empty string
//
// Field keys (each at most once; unknown keys, missing or extra values are problems):
//
//	required          the member must be present and not null
//	nullable          the member may be null (implied for pointers, slices and maps, which
//	                  encoding/json writes as null when nil, unless required)
//	min=N, max=N      inclusive bounds of integers and numbers; N is a JSON number (18, -0.5, 1e3)
//	min_length=N      least length of strings (in characters) and slices (in items); N is a
//	max_length=N      whole number from 0
//	pattern=RE        a regular expression the whole string must match (the store anchors it)
//	enum=A|B|...      the string must be one of the variants (case-sensitive); on a slice or
//	                  array of strings, each item must be
//	default=V         the value the store writes when the member is absent or null: raw text
//	                  for string and enum fields (default=EUR), JSON text for the others
//	                  (default=0, default=true, default='["a","b"]', default='{"x":1}')
//	description=TEXT  the field's description
//	-                 leave the field out of the schema: encoding/json still writes it and the
//	                  store keeps it unchecked (a problem when the object rejects unknown fields);
//	                  no other key may accompany it
//
// Type keys, on a blank field (entity, description and compatibility only matter on the
// entity's own type; unknown_fields applies to every struct type, nested ones included):
//
//	entity=NAME                 the schema name and event type (default: the Go type's name)
//	description=TEXT            the schema's description
//	compatibility=MODE          none, backward (the store's default), forward or full
//	unknown_fields=MODE         allow (the store's default) or reject members no field declares
//
// The options WithName, WithDescription, WithCompatibility and WithUnknownFields override
// the type's settings.
//
// # Types
//
//	bool                        "boolean"
//	int, int8 ... int64         "integer", with the Go type's range as min and max
//	uint, uint8 ... uintptr     "integer", 0 to the Go type's maximum
//	float32                     "number", within ±math.MaxFloat32
//	float64, json.Number        "number"
//	string                      "string"
//	[]byte                      "string" in base64, with its pattern (as encoding/json writes it)
//	time.Time                   "string" with an RFC 3339 pattern (what MarshalJSON writes)
//	encoding.TextMarshaler      "string" (encoding/json writes the text)
//	*T                          T, nullable unless required
//	[]T                         {"array": T}, nullable unless required
//	[N]T                        {"array": T} with min_length = max_length = N ([N]byte too)
//	map[K]V                     {"object": {"fields": []}}, nullable unless required: the model
//	                            has no map type, so the members are kept unchecked. K must be a
//	                            key encoding/json writes (string, integer, TextMarshaler); V is
//	                            only checked to be writable by encoding/json
//	struct types                {"object": {"fields": [...]}}, declared in place with the rules
//	                            of their own tags
//	the entity's own type       {"ref": {"name": <entity>}} (recursive data; see below)
//	json ",string" option       "string" with the pattern of the quoted text; no rule but
//	                            required, nullable, default and description applies
//
// Problems: interface types (any, error...) and json.RawMessage, which can hold any JSON
// while the model has no type for any value (leave them out with graveyard:"-"); other
// json.Marshaler types, whose JSON the derivation cannot see; marshal methods declared only
// on the pointer of a non-pointer field's type (encoding/json uses them only for addressable
// values); complex numbers, channels, functions and unsafe pointers, which encoding/json
// cannot write. The items of slices, arrays and maps carry no rules in the model: an int8
// item is only checked to be an integer, and a nil pointer item, which encoding/json writes
// as null, is refused by the store (array items are never null).
//
// # Rules and their checks
//
// Integer fields always carry their Go type's range (int, uint and uintptr by the size of
// the platform deriving), which min and max may tighten but not widen. The bounds are written
// exactly, but the store holds them as 64-bit floats, so the bounds of int64 and uint64 are
// read as 2^63 and 2^64: the store then accepts 2^63 for an int64 (which the Go decoder
// refuses), the only value beyond a Go range it lets through. Rules that do not apply to the
// field's type are problems: min and max apply to integers and numbers; min_length and
// max_length to strings and slices (not to Go arrays, whose length is fixed); pattern to
// strings; enum to strings and to slices and arrays of strings; min_length, max_length,
// pattern and enum do not apply to strings whose form the Go type fixes (time.Time, []byte,
// the json ",string" option), whose pattern the schema already carries. Also problems: min
// above max, min_length above max_length, required with nullable, a duplicated enum variant,
// a pattern that does not compile, and a default that is not JSON (for non-string fields),
// that is null, that encoding/json cannot read into the field's Go type (unknown members
// included), or that breaks the field's rules as the store checks them (type, bounds,
// lengths, pattern, enum, the rules of nested fields, required members).
//
// Patterns are checked with Go's regexp, while the store uses Rust's regex crate: their
// syntaxes are close (both RE2-like: no look-around, no back-references). The few constructs
// Go reads differently are refused (\Q...\E quoting, octal escapes, a '{' that does not
// start a repetition); Rust-only syntax (the x flag) is reported as not compiling.
//
// # Recursive types
//
// Objects are declared in place, so a struct type that contains itself can only be expressed
// when it is the entity: its fields of its own type (type Node struct{ Next *Node }) become
// {"ref": {"name": "Node"}}, a reference of the schema to itself. A cycle through any other
// type is a problem naming the cycle (Tree -> Tree.Kids[] -> Tree); so is a chain of required
// fields leading back to the entity, which no finite data satisfies.
package schema
