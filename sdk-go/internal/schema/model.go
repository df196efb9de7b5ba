package schema

import (
	"bytes"
	"encoding/json"
	"regexp"
)

// The schema model as the store reads it (core/src/schema/model.rs). Members are written in
// the store's order and optional ones are left out when unset, as the store writes them.

type schemaJSON struct {
	Name          string       `json:"name"`
	Description   string       `json:"description,omitempty"`
	Fields        []*fieldJSON `json:"fields"`
	UnknownFields string       `json:"unknown_fields,omitempty"` // "" for the store's default, allow
	Compatibility string       `json:"compatibility,omitempty"`  // "" for the store's default, backward
}

type fieldJSON struct {
	Name     string    `json:"name"`
	Type     *typeJSON `json:"type"`
	Required bool      `json:"required,omitempty"`
	Nullable bool      `json:"nullable,omitempty"`
	// Numbers as JSON text, so that integer bounds beyond 2^53 are written exactly (the store
	// reads them as f64).
	Min         json.Number     `json:"min,omitempty"`
	Max         json.Number     `json:"max,omitempty"`
	MinLength   *uint64         `json:"min_length,omitempty"`
	MaxLength   *uint64         `json:"max_length,omitempty"`
	Pattern     *string         `json:"pattern,omitempty"`
	Default     json.RawMessage `json:"default,omitempty"`
	Description string          `json:"description,omitempty"`

	// For the checks of defaults and recursion; not part of the JSON.
	path   string         // the Go path of the field, for problems
	rank   int            // the order of the field in the derivation, for problems
	min    *number        // parsed Min
	max    *number        // parsed Max
	re     *regexp.Regexp // Pattern anchored at both ends, when it compiled
	value  any            // the decoded default (json.Number for numbers), when it is valid
	hasDef bool           // value is set
}

// typeJSON is a field's type: "number", "integer", "string", "boolean", {"enum": [...]},
// {"array": <type>}, {"object": {...}} or {"ref": {"name": ...}}.
type typeJSON struct {
	kind   string // number, integer, string, boolean, enum, array, object, ref
	enum   []string
	elem   *typeJSON
	object *objectJSON
	ref    string
	fixed  bool // a string whose form the Go type fixes (its pattern is set by the derivation)
}

type objectJSON struct {
	Fields        []*fieldJSON `json:"fields"`
	UnknownFields string       `json:"unknown_fields,omitempty"`
}

const (
	kindNumber  = "number"
	kindInteger = "integer"
	kindString  = "string"
	kindBoolean = "boolean"
	kindEnum    = "enum"
	kindArray   = "array"
	kindObject  = "object"
	kindRef     = "ref"
)

// label is the type's name in messages, as the store names it (a ref is an object).
func (t *typeJSON) label() string {
	if t.kind == kindRef {
		return kindObject
	}
	return t.kind
}

func (t *typeJSON) MarshalJSON() ([]byte, error) {
	switch t.kind {
	case kindEnum:
		return marshal(struct {
			Enum []string `json:"enum"`
		}{t.enum})
	case kindArray:
		return marshal(struct {
			Array *typeJSON `json:"array"`
		}{t.elem})
	case kindObject:
		return marshal(struct {
			Object *objectJSON `json:"object"`
		}{t.object})
	case kindRef:
		type ref struct {
			Name string `json:"name"`
		}
		return marshal(struct {
			Ref ref `json:"ref"`
		}{ref{t.ref}})
	default:
		return marshal(t.kind)
	}
}

// marshal is json.Marshal without HTML escaping: patterns keep their '<', '>' and '&'
// readable (the escaped form would mean the same to the store).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
