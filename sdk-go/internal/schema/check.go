package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// compilePattern checks a pattern as well as Go can: the store compiles patterns with Rust's
// regex crate, whose syntax is close to Go's (both are RE2-like: no look-around, no
// back-references). It compiles the pattern alone, then anchored at both ends as the store
// does, and refuses the few constructs Go reads differently from Rust.
func compilePattern(p string) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(p); err != nil {
		return nil, fmt.Errorf("does not compile: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	re, err := regexp.Compile(`\A(?:` + p + `)\z`)
	if err != nil {
		return nil, fmt.Errorf("does not compile once anchored: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	if found := rustIncompatible(p); len(found) > 0 {
		return nil, fmt.Errorf("uses %s, which the store's regular expressions (Rust regex syntax) read "+
			"differently or refuse", strings.Join(found, " and "))
	}
	return re, nil
}

var repetition = regexp.MustCompile(`\A\{[0-9]+(?:,[0-9]*)?\}`)

// rustIncompatible lists what Go's regexp accepts in p but Rust's regex crate refuses (with
// its default options) or reads differently: \Q...\E quoting, octal escapes (\0, \12), and a
// '{' that does not start a repetition (a literal to Go, an error to Rust).
func rustIncompatible(p string) []string {
	var found []string
	add := func(what string) {
		if !slices.Contains(found, what) {
			found = append(found, what)
		}
	}
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\':
			if i+1 < len(p) && p[i+1] == 'Q' {
				add(`\Q...\E quoting`)
			}
			if i+1 < len(p) && '0' <= p[i+1] && p[i+1] <= '7' {
				add(`octal escapes (write \x{..} instead)`)
			}
			i++
		case inClass:
			if c == '[' && strings.HasPrefix(p[i:], "[:") {
				if end := strings.Index(p[i+2:], ":]"); end >= 0 {
					i += end + 3
				}
			} else if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
			if i+1 < len(p) && p[i+1] == '^' {
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				i++ // a ']' first in a class is a literal
			}
		case c == '{':
			if !repetition.MatchString(p[i:]) {
				add(`a literal '{' (escape it: \{)`)
			}
		}
	}
	return found
}

// checkDefaults checks every default once all fields exist: it must be JSON (raw text for
// strings and enums), be readable into the field's Go type, and keep the field's rules as the
// store checks them.
func (d *deriver) checkDefaults() {
	var valid []pendingDefault
	for _, p := range d.defaults {
		f := p.f
		d.rank = f.rank
		shown := quoteValue(p.text)
		var data []byte
		if f.Type.kind == kindString || f.Type.kind == kindEnum {
			data, _ = marshal(p.text)
		} else {
			dec := json.NewDecoder(strings.NewReader(p.text))
			dec.UseNumber()
			var v any
			err := dec.Decode(&v)
			if err == nil {
				if _, err2 := dec.Token(); err2 != io.EOF {
					err = errors.New("text after the value")
				}
			}
			if err != nil {
				d.problem(f.path, "default=%s is not JSON (%v); the default of %s is JSON text (only string and "+
					"enum fields take raw text)", shown, strings.TrimPrefix(err.Error(), "json: "), f.Type.label())
				continue
			}
			if v == nil {
				d.problem(f.path, "default=null changes nothing (a default replaces null)")
				continue
			}
			var b bytes.Buffer
			_ = json.Compact(&b, []byte(p.text))
			data = b.Bytes()
		}
		if err := decodeInto(p.goType, p.quoted, data); err != nil {
			d.problem(f.path, "default=%s cannot be read into %s: %v", shown, p.goType, err)
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		_ = dec.Decode(&f.value)
		f.hasDef = true
		f.Default = data
		valid = append(valid, p)
	}
	for _, p := range valid {
		f := p.f
		d.rank = f.rank
		w := &walker{root: d.rootObj}
		w.value(f.Type, f, f.value, f.Name)
		for _, v := range w.violations {
			d.problem(f.path, "default=%s breaks the field: %s", quoteValue(p.text), v)
		}
		if w.endless {
			d.problem(f.path, "default=%s expands endlessly: filling it fills a default that holds it again",
				quoteValue(p.text))
		}
		if len(w.violations) > 0 || w.endless {
			f.hasDef = false
		}
	}
}

// decodeInto reads data as encoding/json would read the member into a field of type t.
func decodeInto(t reflect.Type, quoted bool, data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = nil // a type reflect cannot wrap: leave the check to the store
		}
	}()
	tag := `json:"v"`
	if quoted {
		tag = `json:"v,string"`
	}
	wrapper := reflect.StructOf([]reflect.StructField{{Name: "V", Type: t, Tag: reflect.StructTag(tag)}})
	doc := append(append([]byte(`{"v":`), data...), '}')
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	err = dec.Decode(reflect.New(wrapper).Interface())
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		at := ""
		if field, ok := strings.CutPrefix(typeErr.Field, "v."); ok {
			at = " at " + field
		}
		return fmt.Errorf("a JSON %s does not fit %s%s", typeErr.Value, typeErr.Type, at)
	}
	if err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// The store's limits on expanding defaults (core/src/schema/validate.rs).
const (
	maxDefaultDepth     = 64
	maxDefaultExpansion = 10_000
	maxViolations       = 100
)

// walker checks a value against a field's type and rules as the store validates data: the
// same rules in the same order, so that a default the store would refuse is refused here.
type walker struct {
	root       *objectJSON
	violations []string
	depth      int // how many filled defaults enclose the value: their violations are not reported
	filled     int
	endless    bool
}

func (w *walker) report(path, message, rule string) {
	if w.depth > 0 || len(w.violations) >= maxViolations {
		return
	}
	w.violations = append(w.violations, fmt.Sprintf("%s: %s (%s)", path, message, rule))
}

func (w *walker) full() bool {
	return len(w.violations) >= maxViolations || w.endless
}

// value checks v against type t; rules is the field whose rules apply (nil for array items,
// which carry none).
func (w *walker) value(t *typeJSON, rules *fieldJSON, v any, path string) {
	switch t.kind {
	case kindNumber:
		if n, ok := v.(json.Number); ok {
			w.bounds(rules, n, path)
			return
		}
	case kindInteger:
		if n, ok := v.(json.Number); ok {
			if !isInteger(string(n)) {
				w.report(path, "must be an integer (a number written without a fraction or an exponent)", "type")
				return
			}
			w.bounds(rules, n, path)
			return
		}
	case kindString:
		if s, ok := v.(string); ok {
			if rules != nil {
				w.length(rules, utf8.RuneCountInString(s), "characters", path)
				if rules.re != nil && !rules.re.MatchString(s) {
					w.report(path, "must match the pattern "+*rules.Pattern, "pattern")
				}
			}
			return
		}
	case kindBoolean:
		if _, ok := v.(bool); ok {
			return
		}
	case kindEnum:
		if s, ok := v.(string); ok {
			if !slices.Contains(t.enum, s) {
				variants := slices.Clone(t.enum)
				slices.Sort(variants)
				w.report(path, "must be one of: "+strings.Join(variants, ", "), "enum")
			}
			return
		}
	case kindArray:
		if items, ok := v.([]any); ok {
			if rules != nil {
				w.length(rules, len(items), "items", path)
			}
			for i, item := range items {
				if w.full() {
					return
				}
				itemPath := fmt.Sprintf("%s[%d]", path, i)
				if item == nil {
					w.report(itemPath, "array items must not be null", "nullable")
				} else {
					w.value(t.elem, nil, item, itemPath)
				}
			}
			return
		}
	case kindObject, kindRef:
		if m, ok := v.(map[string]any); ok {
			object := t.object
			if t.kind == kindRef {
				object = w.root
			}
			w.object(object, m, path)
			return
		}
	}
	w.report(path, fmt.Sprintf("must be %s, not %s", expectedKind(t), jsonKind(v)), "type")
}

func (w *walker) object(o *objectJSON, m map[string]any, path string) {
	declared := map[string]bool{}
	for _, f := range o.Fields {
		if w.full() {
			return
		}
		declared[f.Name] = true
		fieldPath := path + "." + f.Name
		v, present := m[f.Name]
		switch {
		case present && v != nil:
			w.value(f.Type, f, v, fieldPath)
		case f.hasDef:
			w.filledDefault(f, fieldPath)
		case present && !f.Nullable:
			w.report(fieldPath, "must not be null", "nullable")
		case !present && f.Required:
			w.report(fieldPath, "is required", "required")
		}
	}
	if o.UnknownFields == "reject" {
		keys := make([]string, 0, len(m))
		for k := range m {
			if !declared[k] {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			w.report(path+"."+k, "is not a declared field, and unknown fields are rejected", "unknown_field")
		}
	}
}

// filledDefault walks a default the store would fill in, only to find defaults that never
// stop expanding (each default's own violations are reported on its own).
func (w *walker) filledDefault(f *fieldJSON, path string) {
	w.filled++
	if w.depth >= maxDefaultDepth || w.filled > maxDefaultExpansion {
		w.endless = true
		return
	}
	w.depth++
	w.value(f.Type, f, f.value, path)
	w.depth--
}

func (w *walker) bounds(rules *fieldJSON, n json.Number, path string) {
	if rules == nil {
		return
	}
	if rules.min != nil && compareNumber(string(n), rules.min.f) < 0 {
		w.report(path, "must be at least "+rules.min.text, "min")
	}
	if rules.max != nil && compareNumber(string(n), rules.max.f) > 0 {
		w.report(path, "must be at most "+rules.max.text, "max")
	}
}

func (w *walker) length(rules *fieldJSON, n int, unit, path string) {
	if rules.MinLength != nil && uint64(n) < *rules.MinLength {
		w.report(path, fmt.Sprintf("must have at least %d %s (has %d)", *rules.MinLength, unit, n), "min_length")
	} else if rules.MaxLength != nil && uint64(n) > *rules.MaxLength {
		w.report(path, fmt.Sprintf("must have at most %d %s (has %d)", *rules.MaxLength, unit, n), "max_length")
	}
}

// isInteger says whether the store reads the JSON number n as an integer: written without a
// fraction or an exponent, within -2^63..2^64-1, and not -0 (which serde_json reads as a
// float).
func isInteger(n string) bool {
	if strings.ContainsAny(n, ".eE") || n == "-0" {
		return false
	}
	i, ok := new(big.Int).SetString(n, 10)
	return ok && i.Cmp(minInt64) >= 0 && i.Cmp(maxUint64) <= 0
}

var (
	minInt64  = big.NewInt(math.MinInt64)
	maxUint64 = new(big.Int).SetUint64(math.MaxUint64)
)

// compareNumber compares a JSON number with a bound as the store does (compare_number in
// core/src/schema/validate.rs): integers exactly, other numbers as f64.
func compareNumber(n string, bound float64) int {
	if isInteger(n) {
		i, _ := new(big.Int).SetString(n, 10)
		return new(big.Float).SetInt(i).Cmp(big.NewFloat(bound))
	}
	f, err := strconv.ParseFloat(n, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0
	}
	switch {
	case f < bound:
		return -1
	case f > bound:
		return 1
	}
	return 0
}

func expectedKind(t *typeJSON) string {
	switch t.kind {
	case kindNumber:
		return "a number"
	case kindInteger:
		return "an integer"
	case kindString:
		return "a string"
	case kindBoolean:
		return "a boolean"
	case kindEnum:
		return "a string (one of the enum's variants)"
	case kindArray:
		return "an array"
	}
	return "an object"
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	}
	return "an object"
}

// recursion refuses what the store refuses: a chain of fields, each required, not nullable and
// without a default (or an array of at least one item), that leads back to the entity, which
// no finite data can satisfy. Objects declared in place cannot form cycles (the derivation
// refuses them), so the chain can only end at a reference to the entity.
func (d *deriver) recursion(o *objectJSON, chain []string) {
	for _, f := range o.Fields {
		if !f.Required || f.Nullable || f.Default != nil {
			continue
		}
		t := f.Type
		if t.kind == kindArray && f.MinLength != nil && *f.MinLength > 0 {
			t = t.elem
		}
		links := append(slices.Clip(chain), f.path)
		d.rank = f.rank
		switch t.kind {
		case kindRef:
			d.problem(f.path, "endless recursion: the chain of fields %s leads back to %s, and each is required, not "+
				"nullable and without a default, so no finite data is valid (drop required on one, or give it a "+
				"default)", strings.Join(links, " -> "), d.rootPath)
		case kindObject:
			d.recursion(t.object, links)
		}
	}
}
