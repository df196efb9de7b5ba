package schema

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// Definition is a schema derived from a Go struct type.
type Definition struct {
	// Name is the schema name, which is also the event type of the events it governs.
	Name string
	// JSON is the definition as the store takes it (compact, UTF-8).
	JSON []byte
}

// Option adjusts a derivation. Options override the type's entity tag.
type Option func(*options)

type options struct {
	name          *string
	description   *string
	compatibility *string
	unknownFields *string
}

// WithName sets the schema name (and event type) instead of the entity tag's or the type's name.
func WithName(name string) Option {
	return func(o *options) { o.name = &name }
}

// WithDescription sets the schema's description.
func WithDescription(description string) Option {
	return func(o *options) { o.description = &description }
}

// WithCompatibility sets the rule the next version of the schema must keep with this one:
// "none", "backward" (the store's default), "forward" or "full".
func WithCompatibility(mode string) Option {
	return func(o *options) { o.compatibility = &mode }
}

// WithUnknownFields sets what the store does with members of the entity's top-level object
// that no field declares: "allow" (the store's default: keep them, unchecked) or "reject".
// Nested objects keep their own setting (their type's unknown_fields tag).
func WithUnknownFields(mode string) Option {
	return func(o *options) { o.unknownFields = &mode }
}

// Problem is one reason a struct type cannot be derived.
type Problem struct {
	// Path is the Go path of what is wrong: the type name, then field names (User.Address.Zip;
	// an embedded struct's name is part of it), with [] for the items of slices and arrays and
	// .* for the values of maps.
	Path string
	// Message says what is wrong, and often how to fix it.
	Message string
}

func (p Problem) String() string {
	return p.Path + ": " + p.Message
}

// DerivationError lists every problem found in a struct type, in the order of its fields.
type DerivationError struct {
	// Type is the name of the Go type that was derived.
	Type     string
	Problems []Problem
}

func (e *DerivationError) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		fmt.Fprintf(&b, "graveyard schema: cannot derive %s: %s", e.Type, e.Problems[0])
		return b.String()
	}
	fmt.Fprintf(&b, "graveyard schema: cannot derive %s (%d problems):", e.Type, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.String())
	}
	return b.String()
}

// Derive returns the schema definition of the struct type of v: a struct value, a pointer to
// one (possibly nil) or a reflect.Type of either. It fails with a *DerivationError listing
// every problem of the type. See the package documentation for the mapping and the tags.
func Derive(v any, opts ...Option) (Definition, error) {
	t, err := structType(v)
	if err != nil {
		return Definition{}, err
	}
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	d := newDeriver(t)
	js := d.derive(&o)
	if len(d.problems) > 0 {
		return Definition{}, d.err()
	}
	out, err := marshal(js)
	if err != nil {
		return Definition{}, fmt.Errorf("graveyard schema: cannot write the schema of %s: %w", d.rootPath, err)
	}
	return Definition{Name: js.Name, JSON: out}, nil
}

// entityNames caches EntityName, which runs on every append of a struct value.
var entityNames sync.Map // reflect.Type -> entityNameResult

type entityNameResult struct {
	name string
	err  error
}

// EntityName returns the schema name of the struct type of v (same forms as Derive): the
// entity tag's name, else the type's name. It is the event type of v when v is appended. Only
// the type-level tag is checked; the fields are not derived.
func EntityName(v any) (string, error) {
	t, err := structType(v)
	if err != nil {
		return "", err
	}
	if cached, ok := entityNames.Load(t); ok {
		r := cached.(entityNameResult)
		return r.name, r.err
	}
	d := newDeriver(t)
	tag := d.typeTag(t, jsonFieldsOf(t), d.rootPath)
	name := d.entityName(tag, &options{})
	r := entityNameResult{name: name}
	if len(d.problems) > 0 {
		r = entityNameResult{err: d.err()}
	}
	entityNames.Store(t, r)
	return r.name, r.err
}

// structType finds the struct type Derive and EntityName work on.
func structType(v any) (reflect.Type, error) {
	var t reflect.Type
	switch v := v.(type) {
	case nil:
		return nil, &DerivationError{Type: "nil", Problems: []Problem{{"nil", "no type: pass a struct value, a pointer to one or its reflect.Type"}}}
	case reflect.Type:
		t = v
	default:
		t = reflect.TypeOf(v)
	}
	if t == nil {
		return nil, &DerivationError{Type: "nil", Problems: []Problem{{"nil", "no type: pass a struct value, a pointer to one or its reflect.Type"}}}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil, &DerivationError{Type: t.String(), Problems: []Problem{{t.String(),
			"an entity must be a struct (its events are JSON objects), not " + t.Kind().String()}}}
	}
	return t, nil
}

// typeName names a type in paths: its name, or its literal when it has none.
func typeName(t reflect.Type) string {
	if t.Name() != "" {
		return t.Name()
	}
	return t.String()
}
