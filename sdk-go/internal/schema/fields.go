package schema

import (
	"cmp"
	"reflect"
	"slices"
	"strings"
	"unicode"
)

// jsonField is one member encoding/json writes for a struct type.
type jsonField struct {
	name      string
	tagged    bool  // the name comes from a json tag
	index     []int // as reflect.Type.FieldByIndex takes it
	goPath    string
	sf        reflect.StructField // the field itself (at the end of index)
	owner     reflect.Type        // the struct type that declares it
	quoted    bool                // the json ",string" option applies
	omitEmpty bool
	omitZero  bool
}

// structFields is what encoding/json makes of a struct type, and what it drops.
type structFields struct {
	fields []jsonField // the members, in the order encoding/json writes them
	// Members dropped because several fields at the same depth claim the name (encoding/json
	// silently writes none of them).
	conflicts [][]jsonField
	// Fields hidden by a shallower (or tagged) field of the same name, with the winner.
	shadowed []shadow
	// Graveyard tags that can have no effect: on unexported fields, on embedded structs whose
	// fields are promoted.
	misplaced []misplacedTag
	// The type-level tags: the graveyard tags of the blank (_) fields of the struct itself.
	typeTags []reflect.StructField
}

type shadow struct {
	hidden, by jsonField
}

type misplacedTag struct {
	goPath string
	why    string
}

// jsonFieldsOf mirrors typeFields of encoding/json (Go 1.23 to 1.26): the same walk through
// embedded structs, the same names, options and dominance rules; it also records what was
// dropped, for problems.
func jsonFieldsOf(t reflect.Type) structFields {
	type queued struct {
		typ    reflect.Type
		index  []int
		goPath string
	}
	var out structFields
	var all []jsonField
	current := []queued{}
	next := []queued{{typ: t}}
	var count, nextCount map[reflect.Type]int
	visited := map[reflect.Type]bool{}
	for len(next) > 0 {
		current, next = next, current[:0]
		count, nextCount = nextCount, map[reflect.Type]int{}
		for _, f := range current {
			if visited[f.typ] {
				continue
			}
			visited[f.typ] = true
			for i := 0; i < f.typ.NumField(); i++ {
				sf := f.typ.Field(i)
				goPath := joinPath(f.goPath, sf.Name)
				_, hasGraveyard := sf.Tag.Lookup(tagKey)
				if !hasGraveyard {
					_, hasGraveyard, _ = lookupTag(sf.Tag, tagKey)
				}
				if sf.Name == "_" {
					if hasGraveyard && len(f.index) == 0 {
						out.typeTags = append(out.typeTags, sf)
					}
					continue
				}
				if sf.Anonymous {
					et := sf.Type
					if et.Kind() == reflect.Pointer {
						et = et.Elem()
					}
					if !sf.IsExported() && et.Kind() != reflect.Struct {
						if hasGraveyard {
							out.misplaced = append(out.misplaced, misplacedTag{goPath,
								"the field is an embedded field of an unexported non-struct type, which encoding/json does not write"})
						}
						continue
					}
				} else if !sf.IsExported() {
					if hasGraveyard {
						out.misplaced = append(out.misplaced, misplacedTag{goPath,
							"the field is unexported, so encoding/json does not write it"})
					}
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					if hasGraveyard {
						out.misplaced = append(out.misplaced, misplacedTag{goPath,
							"the field has json:\"-\", so encoding/json does not write it"})
					}
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !validJSONName(name) {
					name = ""
				}
				index := append(slices.Clip(f.index), i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				quoted := false
				if hasOption(opts, "string") {
					switch ft.Kind() {
					case reflect.Bool,
						reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
						reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
						reflect.Float32, reflect.Float64,
						reflect.String:
						quoted = true
					}
				}
				if name != "" || !sf.Anonymous || ft.Kind() != reflect.Struct {
					tagged := name != ""
					if name == "" {
						name = sf.Name
					}
					field := jsonField{
						name:      name,
						tagged:    tagged,
						index:     index,
						goPath:    goPath,
						sf:        sf,
						owner:     f.typ,
						quoted:    quoted,
						omitEmpty: hasOption(opts, "omitempty"),
						omitZero:  hasOption(opts, "omitzero"),
					}
					all = append(all, field)
					if count[f.typ] > 1 {
						// The same embedded type twice at this depth: a duplicate makes the
						// dominance rules below drop the name, as encoding/json does.
						all = append(all, field)
					}
					continue
				}
				if hasGraveyard {
					out.misplaced = append(out.misplaced, misplacedTag{goPath,
						"the field is an embedded struct whose fields encoding/json promotes into this object " +
							"(tag its fields, or give it a json name to make it a nested object)"})
				}
				nextCount[ft]++
				if nextCount[ft] == 1 {
					next = append(next, queued{typ: ft, index: index, goPath: goPath})
				}
			}
		}
	}

	slices.SortFunc(all, func(a, b jsonField) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := cmp.Compare(len(a.index), len(b.index)); c != 0 {
			return c
		}
		if a.tagged != b.tagged {
			if a.tagged {
				return -1
			}
			return +1
		}
		return slices.Compare(a.index, b.index)
	})
	for i, advance := 0, 0; i < len(all); i += advance {
		for advance = 1; i+advance < len(all) && all[i+advance].name == all[i].name; advance++ {
		}
		group := all[i : i+advance]
		if len(group) == 1 {
			out.fields = append(out.fields, group[0])
			continue
		}
		if len(group[0].index) == len(group[1].index) && group[0].tagged == group[1].tagged {
			out.conflicts = append(out.conflicts, dedupe(group))
			continue
		}
		out.fields = append(out.fields, group[0])
		for _, hidden := range group[1:] {
			out.shadowed = append(out.shadowed, shadow{hidden: hidden, by: group[0]})
		}
	}
	slices.SortFunc(out.fields, func(a, b jsonField) int { return slices.Compare(a.index, b.index) })
	return out
}

// dedupe drops the copies the walk adds for types embedded twice at one depth.
func dedupe(fields []jsonField) []jsonField {
	var out []jsonField
	for _, f := range fields {
		if len(out) == 0 || !slices.Equal(out[len(out)-1].index, f.index) {
			out = append(out, f)
		}
	}
	return out
}

func hasOption(opts, name string) bool {
	for opts != "" {
		var opt string
		opt, opts, _ = strings.Cut(opts, ",")
		if opt == name {
			return true
		}
	}
	return false
}

// validJSONName is isValidTag of encoding/json: a json tag name it does not accept is ignored
// (the Go field name is used).
func validJSONName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}
