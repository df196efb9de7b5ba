package schema

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// fieldKeys are the keys of a field's graveyard tag.
var fieldKeys = []string{"required", "nullable", "min", "max", "min_length", "max_length", "pattern", "enum",
	"default", "description", "-"}

// rules applies the tag's items to field f of shape s, reporting every inconsistency.
func (d *deriver) rules(f *fieldJSON, s *shape, items []item, jf jsonField) {
	path := f.path
	before := len(d.problems)
	var (
		required, nullable   bool
		low, high            *number
		minLength, maxLength *uint64
		pattern, def         *string
		enum                 []string
		hasEnum              bool
	)
	seen := map[string]bool{}
	for _, it := range items {
		if it.key == "-" {
			d.problem(path, "'-' leaves the field out of the schema and takes no other key")
			continue
		}
		if seen[it.key] {
			d.problem(path, "%s is given more than once", it.key)
			continue
		}
		seen[it.key] = true
		switch it.key {
		case "required", "nullable":
			if it.hasValue {
				d.problem(path, "%s takes no value (write %s alone)", it.key, it.key)
				continue
			}
		case "min", "max", "min_length", "max_length", "pattern", "enum", "default", "description":
			if !it.hasValue {
				d.problem(path, "%s needs a value (%s=...)", it.key, it.key)
				continue
			}
		case "entity", "compatibility", "unknown_fields":
			d.problem(path, "%s is a setting of the type, not of a field: put it on a blank field "+
				"(_ struct{} `graveyard:\"%s=...\"`) of the struct type", it.key, it.key)
			continue
		default:
			d.problem(path, "unknown key %q (the keys are %s)", it.key, strings.Join(fieldKeys, ", "))
			continue
		}
		switch it.key {
		case "required":
			required = true
		case "nullable":
			nullable = true
		case "min", "max":
			n, err := parseNumber(it.value)
			if err != nil {
				d.problem(path, "%s=%s: %v", it.key, quoteValue(it.value), err)
			} else if it.key == "min" {
				low = n
			} else {
				high = n
			}
		case "min_length", "max_length":
			n, err := strconv.ParseUint(it.value, 10, 64)
			if err != nil {
				d.problem(path, "%s=%s: not a length (a whole number of characters or items, from 0)", it.key,
					quoteValue(it.value))
			} else if it.key == "min_length" {
				minLength = &n
			} else {
				maxLength = &n
			}
		case "pattern":
			pattern = &it.value
		case "enum":
			enum, hasEnum = it.variants, true
		case "default":
			def = &it.value
		case "description":
			f.Description = it.value
		}
	}

	// required, nullable
	if required && nullable {
		d.problem(path, "both required and nullable: a required field holds a value (drop one)")
	}
	f.Required = required
	f.Nullable = nullable || (s.nullable && !required)
	if s.bad {
		return
	}
	what := s.what()

	// enum: a string type becomes an enum; the items of arrays of strings become enums.
	if hasEnum {
		sorted := slices.Clone(enum)
		slices.Sort(sorted)
		for i := 1; i < len(sorted); i++ {
			if sorted[i] == sorted[i-1] && (i == 1 || sorted[i-2] != sorted[i]) {
				d.problem(path, "enum variant %q is listed more than once", sorted[i])
			}
		}
		target := &f.Type
		for (*target).kind == kindArray {
			target = &(*target).elem
		}
		if (*target).kind == kindString && !(*target).fixed {
			*target = &typeJSON{kind: kindEnum, enum: enum}
		} else {
			d.problem(path, "enum applies to strings (and to the items of arrays of strings), not to %s", what)
		}
		what = f.Type.label() + " (" + s.desc + ")"
	}
	kind := f.Type.kind

	// min, max
	numeric := kind == kindInteger || kind == kindNumber
	for _, rule := range []struct {
		key   string
		bound *number
	}{{"min", low}, {"max", high}} {
		if rule.bound != nil && !numeric {
			d.problem(path, "%s applies to numbers and integers, not to %s", rule.key, what)
		}
	}
	if numeric {
		if low != nil && s.min != nil && low.cmp(s.min) < 0 {
			d.problem(path, "min %s is below the smallest %s (%s)", low.text, s.desc, s.min.text)
		}
		if high != nil && s.max != nil && high.cmp(s.max) > 0 {
			d.problem(path, "max %s is above the largest %s (%s)", high.text, s.desc, s.max.text)
		}
		f.min, f.max = s.min, s.max
		if low != nil {
			f.min = low
		}
		if high != nil {
			f.max = high
		}
		if f.min != nil && f.max != nil && f.min.cmp(f.max) > 0 {
			d.problem(path, "min %s is above max %s", f.min.text, f.max.text)
		}
		if f.min != nil {
			f.Min = json.Number(f.min.text)
		}
		if f.max != nil {
			f.Max = json.Number(f.max.text)
		}
	}

	// min_length, max_length
	for _, rule := range []struct {
		key   string
		bound *uint64
	}{{"min_length", minLength}, {"max_length", maxLength}} {
		switch {
		case rule.bound == nil:
		case kind == kindString && f.Type.fixed:
			d.problem(path, "%s does not apply to %s, whose text has a fixed form (the schema carries its pattern)",
				rule.key, what)
		case kind == kindArray && s.length >= 0:
			d.problem(path, "%s does not apply to %s, which always has %d items", rule.key, what, s.length)
		case kind != kindString && kind != kindArray:
			d.problem(path, "%s applies to strings and arrays, not to %s", rule.key, what)
		}
	}
	if minLength != nil && maxLength != nil && *minLength > *maxLength {
		d.problem(path, "min_length %d is above max_length %d", *minLength, *maxLength)
	}
	f.MinLength, f.MaxLength = minLength, maxLength
	if s.length >= 0 {
		n := uint64(s.length)
		f.MinLength, f.MaxLength = &n, &n
	}

	// pattern
	if s.pattern != "" {
		f.Pattern = &s.pattern
		f.re = regexp.MustCompile(`\A(?:` + s.pattern + `)\z`)
	}
	if pattern != nil {
		switch {
		case kind == kindString && f.Type.fixed:
			d.problem(path, "pattern does not apply to %s, whose text has a fixed form (the schema carries its "+
				"pattern)", what)
		case kind != kindString:
			d.problem(path, "pattern applies to strings, not to %s", what)
		default:
			re, err := compilePattern(*pattern)
			if err != nil {
				d.problem(path, "pattern %s: %v", quoteValue(*pattern), err)
			}
			f.Pattern, f.re = pattern, re
		}
	}

	// default: checked once every field exists (it may hold the entity itself), and only when
	// the field's own rules are right, so that one mistake is not reported twice.
	if def != nil && len(d.problems) == before {
		d.defaults = append(d.defaults, pendingDefault{f: f, text: *def, goType: jf.sf.Type, quoted: jf.quoted})
	}
}

// number is a bound: its JSON text, the f64 the store reads it as, and its exact value when it
// is an integer.
type number struct {
	text string
	f    float64
	i    *big.Int
}

var jsonNumber = regexp.MustCompile(`\A-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\z`)

// parseNumber reads a bound written as a JSON number.
func parseNumber(s string) (*number, error) {
	if !jsonNumber.MatchString(s) {
		return nil, fmt.Errorf("not a number (write a JSON number: 18, -0.5, 1e3)")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("out of range: the store holds bounds as 64-bit floating point numbers")
	}
	n := &number{text: s, f: f}
	if !strings.ContainsAny(s, ".eE") {
		n.i, _ = new(big.Int).SetString(s, 10)
	}
	return n, nil
}

func intNumber(i *big.Int) *number {
	f, _ := new(big.Float).SetInt(i).Float64()
	return &number{text: i.String(), f: f, i: i}
}

func floatNumber(f float64) *number {
	return &number{text: strconv.FormatFloat(f, 'g', -1, 64), f: f}
}

// cmp compares exactly: integers as integers, other numbers as the f64 the store reads.
func (a *number) cmp(b *number) int {
	if a.i != nil && b.i != nil {
		return a.i.Cmp(b.i)
	}
	return a.float().Cmp(b.float())
}

func (a *number) float() *big.Float {
	if a.i != nil {
		return new(big.Float).SetInt(a.i)
	}
	return new(big.Float).SetFloat64(a.f)
}
