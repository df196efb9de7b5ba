package schema

import (
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// maxNameBytes is the longest schema name whose stream name, $schema-<name>, fits in the
// store's 256 bytes.
const maxNameBytes = 256 - len("$schema-")

var (
	timeType          = reflect.TypeFor[time.Time]()
	numberType        = reflect.TypeFor[json.Number]()
	rawMessageType    = reflect.TypeFor[json.RawMessage]()
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// The patterns of the strings whose form the Go type fixes. The store anchors patterns at both
// ends.
const (
	// What time.Time.MarshalJSON writes (RFC 3339 with up to nanoseconds, a 4-digit year and an
	// offset within a day) and UnmarshalJSON reads back. Only the shape is checked, not the
	// calendar: February 30 passes the store but not the read.
	timePattern = `[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]` +
		`(?:\.[0-9]{1,9})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])`
	// Standard base64 with padding, as encoding/json writes []byte.
	base64Pattern = `(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?`
	// The JSON texts the json ",string" option writes inside the string (and reads back).
	quotedIntPattern    = `-?(?:0|[1-9][0-9]*)`
	quotedUintPattern   = `0|[1-9][0-9]*`
	quotedNumberPattern = `-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?`
	quotedBoolPattern   = `true|false`
	quotedStringPattern = `"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"`
)

type deriver struct {
	root     reflect.Type
	rootPath string
	rootName string // the schema name, for references to the entity itself
	rootObj  *objectJSON
	problems []Problem
	ranks    []int   // the rank of each problem: the field it belongs to, in the order of the fields
	rank     int     // the rank of the field being derived
	stack    []frame // the struct types being derived, outermost first
	defaults []pendingDefault
}

// frame is a struct type being derived and the path of its object.
type frame struct {
	t    reflect.Type
	path string
}

type pendingDefault struct {
	f      *fieldJSON
	text   string
	goType reflect.Type // the field's Go type, as declared (pointers included)
	quoted bool         // the json ",string" option applies
}

func newDeriver(root reflect.Type) *deriver {
	return &deriver{root: root, rootPath: typeName(root)}
}

func (d *deriver) problem(path, format string, args ...any) {
	d.problems = append(d.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	d.ranks = append(d.ranks, d.rank)
}

// err lists the problems in the order of the fields they belong to (the checks of defaults
// and recursion run after every field is derived).
func (d *deriver) err() *DerivationError {
	order := make([]int, len(d.problems))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return d.ranks[order[a]] < d.ranks[order[b]] })
	problems := make([]Problem, len(order))
	for i, o := range order {
		problems[i] = d.problems[o]
	}
	return &DerivationError{Type: d.rootPath, Problems: problems}
}

// derive builds the schema; the problems are in d.problems.
func (d *deriver) derive(o *options) *schemaJSON {
	t := d.root
	sfs := jsonFieldsOf(t)
	tag := d.typeTag(t, sfs, d.rootPath)
	d.rootName = d.entityName(tag, o)
	if implementsAny(t, false) {
		d.problem(d.rootPath, "%s implements json.Marshaler or encoding.TextMarshaler, so its JSON is whatever that "+
			"method writes, which the derivation cannot see (an event's data must be the struct's fields)", t)
	}
	js := &schemaJSON{Name: d.rootName}
	js.Description = tag.description
	if o.description != nil {
		js.Description = *o.description
	}
	compatibility := tag.compatibility
	if o.compatibility != nil {
		compatibility = *o.compatibility
		if !isCompatibility(compatibility) {
			d.problem(d.rootPath, "WithCompatibility(%q): the mode must be none, backward, forward or full", compatibility)
		}
	}
	if compatibility != "backward" {
		js.Compatibility = compatibility
	}
	unknown := tag.unknownFields
	if o.unknownFields != nil {
		unknown = *o.unknownFields
		if unknown != "allow" && unknown != "reject" {
			d.problem(d.rootPath, "WithUnknownFields(%q): the mode must be allow or reject", unknown)
		}
	}
	d.rootObj = d.object(t, sfs, d.rootPath, unknown)
	js.Fields = d.rootObj.Fields
	js.UnknownFields = d.rootObj.UnknownFields
	d.checkDefaults()
	d.recursion(d.rootObj, nil)
	return js
}

// entityTag is the type-level tag of a struct type (on a blank field).
type entityTag struct {
	name          string
	hasName       bool
	description   string
	compatibility string // "backward" when unset
	unknownFields string // "allow" when unset
}

// typeTag reads the type-level tag of t: the graveyard tag of a blank field of t itself.
func (d *deriver) typeTag(t reflect.Type, sfs structFields, path string) entityTag {
	tag := entityTag{compatibility: "backward", unknownFields: "allow"}
	if len(sfs.typeTags) > 1 {
		d.problem(path, "%d blank (_) fields carry a graveyard tag; put the type's settings on one", len(sfs.typeTags))
	}
	seen := map[string]bool{}
	for _, sf := range sfs.typeTags {
		raw, _, err := lookupTag(sf.Tag, tagKey)
		if err != nil {
			d.problem(path, "%v", err)
			continue
		}
		items, err := parseTag(raw)
		if err != nil {
			d.problem(path, "graveyard tag of the blank field: %v", err)
		}
		for _, it := range items {
			if seen[it.key] {
				d.problem(path, "%s is given more than once", it.key)
				continue
			}
			seen[it.key] = true
			switch it.key {
			case "entity", "description", "compatibility", "unknown_fields":
				if !it.hasValue {
					d.problem(path, "%s needs a value (%s=...)", it.key, it.key)
					continue
				}
			}
			switch it.key {
			case "entity":
				tag.name, tag.hasName = it.value, true
			case "description":
				tag.description = it.value
			case "compatibility":
				if !isCompatibility(it.value) {
					d.problem(path, "compatibility=%s: the mode must be none, backward, forward or full", quoteValue(it.value))
				} else {
					tag.compatibility = it.value
				}
			case "unknown_fields":
				if it.value != "allow" && it.value != "reject" {
					d.problem(path, "unknown_fields=%s: the mode must be allow or reject", quoteValue(it.value))
				} else {
					tag.unknownFields = it.value
				}
			default:
				d.problem(path, "unknown key %q in the type's tag (a blank field takes entity, description, "+
					"compatibility and unknown_fields; field rules go on the fields)", it.key)
			}
		}
	}
	return tag
}

func isCompatibility(mode string) bool {
	switch mode {
	case "none", "backward", "forward", "full":
		return true
	}
	return false
}

// entityName resolves and checks the schema name: the option, else the tag, else the type name.
func (d *deriver) entityName(tag entityTag, o *options) string {
	var name, source string
	switch {
	case o.name != nil:
		name, source = *o.name, "WithName"
	case tag.hasName:
		name, source = tag.name, "entity"
	default:
		name, source = d.root.Name(), "the type name"
		if name == "" {
			d.problem(d.rootPath, "an anonymous struct type has no name: name the entity with "+
				"_ struct{} `graveyard:\"entity=...\"` or WithName")
			return ""
		}
		if strings.Contains(name, "[") {
			d.problem(d.rootPath, "the generic type %s has no stable name (its type arguments are named with their "+
				"package paths): name the entity with WithName or an entity tag", name)
			return name
		}
	}
	switch {
	case name == "":
		d.problem(d.rootPath, "the entity name (%s) is empty", source)
	case strings.HasPrefix(name, "$"):
		d.problem(d.rootPath, "the entity name %q (%s) starts with '$', which is reserved for the system", name, source)
	}
	if strings.ContainsRune(name, 0) {
		d.problem(d.rootPath, "the entity name (%s) contains a NUL character", source)
	}
	if len(name) > maxNameBytes {
		d.problem(d.rootPath, "the entity name (%s) is %d bytes, longer than %d (its stream name $schema-<name> "+
			"must fit in 256)", source, len(name), maxNameBytes)
	}
	if !utf8.ValidString(name) {
		d.problem(d.rootPath, "the entity name (%s) is not valid UTF-8", source)
	}
	return name
}

// object derives the object of struct type t, whose members are sfs.
func (d *deriver) object(t reflect.Type, sfs structFields, path, unknown string) *objectJSON {
	obj := &objectJSON{Fields: []*fieldJSON{}}
	if unknown == "reject" {
		obj.UnknownFields = "reject"
	}
	for _, m := range sfs.misplaced {
		d.problem(joinPath(path, m.goPath), "the graveyard tag has no effect: %s", m.why)
	}
	for _, group := range sfs.conflicts {
		if len(group) == 1 {
			// One field, promoted through two embedded structs of the same type at one depth.
			d.problem(path, "the field %s is promoted through more than one embedded %s at the same depth, so "+
				"encoding/json writes its member %q for none of them (embed the type once, or give one a json name)",
				joinPath(path, group[0].goPath), group[0].owner, group[0].name)
			continue
		}
		paths := make([]string, len(group))
		for i, f := range group {
			paths[i] = joinPath(path, f.goPath)
		}
		d.problem(path, "the fields %s all write the JSON member %q at the same depth, so encoding/json writes none "+
			"of them (rename all but one with a json tag, or tag the one to keep)", strings.Join(paths, ", "), group[0].name)
	}
	for _, s := range sfs.shadowed {
		if _, tagged := s.hidden.sf.Tag.Lookup(tagKey); tagged {
			d.problem(joinPath(path, s.hidden.goPath), "the graveyard tag has no effect: encoding/json writes %s as "+
				"member %q instead of this field", joinPath(path, s.by.goPath), s.hidden.name)
		}
	}
	d.stack = append(d.stack, frame{t: t, path: path})
	for _, jf := range sfs.fields {
		if f := d.field(jf, path, unknown); f != nil {
			obj.Fields = append(obj.Fields, f)
		}
	}
	d.stack = d.stack[:len(d.stack)-1]
	return obj
}

// shape is what a Go type is in the schema, before the tag's rules.
type shape struct {
	typ      *typeJSON
	desc     string  // the Go type, for messages: "int8", "*time.Time", "int64 with json ,string"
	nullable bool    // encoding/json writes null for some values (nil pointers, slices, maps)
	min, max *number // the range of the Go type (integers, float32)
	pattern  string  // the pattern of a string whose form the Go type fixes
	length   int     // the length of a Go array; -1 for other types
	bad      bool    // a problem was reported: no rules apply
}

func (s *shape) what() string {
	return s.typ.label() + " (" + s.desc + ")"
}

// field derives one member; nil when the field is left out.
func (d *deriver) field(jf jsonField, parent, unknown string) *fieldJSON {
	d.rank++
	path := joinPath(parent, jf.goPath)
	var items []item
	raw, found, err := lookupTag(jf.sf.Tag, tagKey)
	if err != nil {
		d.problem(path, "%v", err)
	} else if found {
		items, err = parseTag(raw)
		if err != nil {
			d.problem(path, "graveyard tag: %v", err)
		}
	}
	if len(items) == 1 && items[0].key == "-" {
		if unknown == "reject" {
			d.problem(path, "graveyard:\"-\" leaves member %q out of the schema, but the object rejects unknown fields, "+
				"so the store would refuse every event that has it (use json:\"-\" to not write it at all)", jf.name)
		}
		d.marshalable(jf.sf.Type, path, map[reflect.Type]bool{})
		return nil
	}
	s := d.shape(jf.sf.Type, path, jf.quoted, false)
	if jf.quoted {
		s.desc += " with json ,string"
	}
	f := &fieldJSON{Name: jf.name, Type: s.typ, path: path, rank: d.rank}
	d.rules(f, &s, items, jf)
	return f
}

// shape maps a Go type. addressable says whether values of t are addressable where they sit
// (reached through a pointer or a slice), which decides whether encoding/json calls marshal
// methods declared on *t.
func (d *deriver) shape(t reflect.Type, path string, quoted, addressable bool) shape {
	s := shape{desc: t.String(), length: -1}
	for t.Kind() == reflect.Pointer {
		s.nullable = true
		t = t.Elem()
		addressable = true
	}
	bad := func(format string, args ...any) shape {
		d.problem(path, format, args...)
		s.typ = &typeJSON{kind: "?"}
		s.bad = true
		return s
	}
	fixed := func(pattern string) shape {
		s.typ = &typeJSON{kind: kindString, fixed: true}
		s.pattern = pattern
		return s
	}
	switch t {
	case timeType:
		return fixed(timePattern)
	case numberType:
		if quoted {
			return fixed(quotedNumberPattern)
		}
		s.typ = &typeJSON{kind: kindNumber}
		return s
	case rawMessageType:
		return bad("json.RawMessage holds any JSON, and the schema model has no type for any JSON value; leave it " +
			"out of the schema with graveyard:\"-\" (the store then keeps the member unchecked, as long as the " +
			"object allows unknown fields), or declare a concrete type")
	}
	if t.Kind() == reflect.Interface {
		return bad("%s can hold any value, and the schema model has no type for any JSON value; leave it out of the "+
			"schema with graveyard:\"-\" (the store then keeps the member unchecked, as long as the object allows "+
			"unknown fields), or declare a concrete type", t)
	}
	if t.Implements(marshalerType) || (addressable && reflect.PointerTo(t).Implements(marshalerType)) {
		return bad("%s implements json.Marshaler, so its JSON is whatever MarshalJSON writes, which the derivation "+
			"cannot see; leave it out of the schema with graveyard:\"-\" (the store then keeps the member unchecked, "+
			"as long as the object allows unknown fields)", t)
	}
	if reflect.PointerTo(t).Implements(marshalerType) {
		return bad("*%s implements json.Marshaler but %s does not: encoding/json calls MarshalJSON only when the value "+
			"is addressable, so what it writes depends on how the entity is passed (declare the field as *%s, or "+
			"MarshalJSON on the value receiver)", t, t, t)
	}
	if t.Implements(textMarshalerType) || (addressable && reflect.PointerTo(t).Implements(textMarshalerType)) {
		// encoding/json writes the text as a JSON string.
		s.typ = &typeJSON{kind: kindString}
		return s
	}
	if reflect.PointerTo(t).Implements(textMarshalerType) {
		return bad("*%s implements encoding.TextMarshaler but %s does not: encoding/json calls MarshalText only when "+
			"the value is addressable, so what it writes depends on how the entity is passed (declare the field as "+
			"*%s, or MarshalText on the value receiver)", t, t, t)
	}
	switch t.Kind() {
	case reflect.Bool:
		if quoted {
			return fixed(quotedBoolPattern)
		}
		s.typ = &typeJSON{kind: kindBoolean}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if quoted {
			return fixed(quotedIntPattern)
		}
		s.typ = &typeJSON{kind: kindInteger}
		bits := uint(t.Bits())
		s.min = intNumber(new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), bits-1)))
		s.max = intNumber(new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), bits-1), big.NewInt(1)))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if quoted {
			return fixed(quotedUintPattern)
		}
		s.typ = &typeJSON{kind: kindInteger}
		s.min = intNumber(big.NewInt(0))
		s.max = intNumber(new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(t.Bits())), big.NewInt(1)))
	case reflect.Float32, reflect.Float64:
		if quoted {
			return fixed(quotedNumberPattern)
		}
		s.typ = &typeJSON{kind: kindNumber}
		if t.Kind() == reflect.Float32 {
			// encoding/json refuses to read a number beyond float32 into a float32.
			s.min = floatNumber(-math.MaxFloat32)
			s.max = floatNumber(math.MaxFloat32)
		}
	case reflect.String:
		if quoted {
			return fixed(quotedStringPattern)
		}
		s.typ = &typeJSON{kind: kindString}
	case reflect.Complex64, reflect.Complex128:
		return bad("encoding/json cannot write complex numbers (%s); store the parts in two fields", t)
	case reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return bad("encoding/json cannot write a %s (%s); leave the field out of the JSON with json:\"-\"", t.Kind(), t)
	case reflect.Slice:
		s.nullable = true
		if t.Elem().Kind() == reflect.Uint8 && !implementsAny(t.Elem(), true) {
			// encoding/json writes byte slices (not arrays) in base64.
			return fixed(base64Pattern)
		}
		elem := d.shape(t.Elem(), path+"[]", false, true)
		s.typ = &typeJSON{kind: kindArray, elem: elem.typ}
		s.bad = elem.bad
	case reflect.Array:
		elem := d.shape(t.Elem(), path+"[]", false, addressable)
		s.typ = &typeJSON{kind: kindArray, elem: elem.typ}
		s.length = t.Len()
		s.bad = elem.bad
	case reflect.Map:
		s.nullable = true
		// The schema model has no map type: a map is an object whose members the store keeps
		// unchecked, so the values are only checked to be writable by encoding/json.
		if !mapKeyOK(t.Key()) {
			return bad("encoding/json writes maps whose keys are strings, integers or encoding.TextMarshaler, not %s", t.Key())
		}
		before := len(d.problems)
		d.marshalable(t.Elem(), path+".*", map[reflect.Type]bool{})
		s.typ = &typeJSON{kind: kindObject, object: &objectJSON{Fields: []*fieldJSON{}}}
		s.bad = len(d.problems) > before
	case reflect.Struct:
		s.typ = d.objectType(t, path)
		s.bad = s.typ.kind == "?"
	default:
		return bad("unsupported type %s", t)
	}
	return s
}

// objectType is the type of a nested struct: an object declared in place, or a reference to
// the entity's own schema when t is the entity (recursive data).
func (d *deriver) objectType(t reflect.Type, path string) *typeJSON {
	for i, fr := range d.stack {
		if fr.t != t {
			continue
		}
		if i == 0 {
			return &typeJSON{kind: kindRef, ref: d.rootName}
		}
		var parts []string
		for j := i; j < len(d.stack); j++ {
			next := path
			if j+1 < len(d.stack) {
				next = d.stack[j+1].path
			}
			via := strings.TrimPrefix(next, d.stack[j].path+".")
			name := typeName(d.stack[j].t)
			parts = append(parts, name, name+"."+via)
		}
		parts = append(parts, typeName(t))
		d.problem(path, "recursive type %s: %s; the schema declares nested objects in place and can refer back only to "+
			"the entity itself (%s), so this cycle cannot be expressed (leave a field of the cycle out with "+
			"graveyard:\"-\" or json:\"-\", refer to the other object by id, or derive %s as an entity of its own)",
			typeName(t), strings.Join(parts, " -> "), d.rootPath, typeName(t))
		return &typeJSON{kind: "?"}
	}
	sfs := jsonFieldsOf(t)
	tag := d.typeTag(t, sfs, path)
	return &typeJSON{kind: kindObject, object: d.object(t, sfs, path, tag.unknownFields)}
}

// implementsAny says whether encoding/json writes values of t with a marshal method (of t, or
// of *t when withPointer).
func implementsAny(t reflect.Type, withPointer bool) bool {
	if t.Implements(marshalerType) || t.Implements(textMarshalerType) {
		return true
	}
	p := reflect.PointerTo(t)
	return withPointer && (p.Implements(marshalerType) || p.Implements(textMarshalerType))
}

func mapKeyOK(k reflect.Type) bool {
	switch k.Kind() {
	case reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return k.Implements(textMarshalerType)
}

// marshalable reports the types encoding/json cannot write at all, for the parts of a type the
// schema does not describe (fields left out with graveyard:"-", map values).
func (d *deriver) marshalable(t reflect.Type, path string, seen map[reflect.Type]bool) {
	if seen[t] {
		return
	}
	seen[t] = true
	if t.Kind() != reflect.Interface && implementsAny(t, true) {
		return
	}
	switch t.Kind() {
	case reflect.Complex64, reflect.Complex128, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		d.problem(path, "encoding/json cannot write %s, so no value of this type can be appended", t)
	case reflect.Pointer:
		d.marshalable(t.Elem(), path, seen)
	case reflect.Slice, reflect.Array:
		d.marshalable(t.Elem(), path+"[]", seen)
	case reflect.Map:
		if !mapKeyOK(t.Key()) {
			d.problem(path, "encoding/json writes maps whose keys are strings, integers or encoding.TextMarshaler, not %s",
				t.Key())
		}
		d.marshalable(t.Elem(), path+".*", seen)
	case reflect.Struct:
		for _, f := range jsonFieldsOf(t).fields {
			d.marshalable(f.sf.Type, joinPath(path, f.goPath), seen)
		}
	}
}
