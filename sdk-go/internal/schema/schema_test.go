package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// ---------------------------------------------------------------------------------------------
// helpers

// decode reads JSON with numbers as json.Number, so that large integers compare exactly.
func decode(t *testing.T, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, data)
	}
	return v
}

// assertJSON compares two JSON texts as decoded structures.
func assertJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	g, w := decode(t, got), decode(t, []byte(want))
	if !reflect.DeepEqual(g, w) {
		var gi, wi bytes.Buffer
		_ = json.Indent(&gi, got, "", "  ")
		_ = json.Indent(&wi, []byte(want), "", "  ")
		t.Errorf("JSON differs\n got: %s\nwant: %s", gi.String(), wi.String())
	}
}

// one is a struct type with one field F of type typ and the given tag.
func one(typ reflect.Type, tag string) reflect.Type {
	return reflect.StructOf([]reflect.StructField{{Name: "F", Type: typ, Tag: reflect.StructTag(tag)}})
}

// fieldJSONOf derives struct{ F typ `json:"f" <graveyard tag>` } and returns its one field as JSON.
func fieldJSONOf(t *testing.T, typ reflect.Type, jsonTag, graveyardTag string) []byte {
	t.Helper()
	tag := `json:"` + jsonTag + `"`
	if graveyardTag != "" {
		tag += ` graveyard:"` + graveyardTag + `"`
	}
	def, err := Derive(one(typ, tag), WithName("T"))
	if err != nil {
		t.Fatalf("Derive: %v", err)
	}
	var s struct{ Fields []json.RawMessage }
	if err := json.Unmarshal(def.JSON, &s); err != nil || len(s.Fields) != 1 {
		t.Fatalf("not one field: %s (%v)", def.JSON, err)
	}
	return s.Fields[0]
}

// problemsOf derives v and returns its problems, failing when it derives.
func problemsOf(t *testing.T, v any, opts ...Option) []Problem {
	t.Helper()
	def, err := Derive(v, opts...)
	if err == nil {
		t.Fatalf("derived, want problems: %s", def.JSON)
	}
	var de *DerivationError
	if !errors.As(err, &de) {
		t.Fatalf("error %T, want *DerivationError: %v", err, err)
	}
	return de.Problems
}

// want is an expected problem: the path (exactly, unless empty) and a part of the message.
type want struct {
	path, message string
}

// assertProblems checks that the problems are exactly these, in this order.
func assertProblems(t *testing.T, got []Problem, wants ...want) {
	t.Helper()
	ok := len(got) == len(wants)
	for i := 0; ok && i < len(wants); i++ {
		if (wants[i].path != "" && got[i].Path != wants[i].path) || !strings.Contains(got[i].Message, wants[i].message) {
			ok = false
		}
	}
	if !ok {
		var b strings.Builder
		for _, p := range got {
			fmt.Fprintf(&b, "\n\t%s", p)
		}
		b.WriteString("\nwant:")
		for _, w := range wants {
			fmt.Fprintf(&b, "\n\t%s: ...%s...", w.path, w.message)
		}
		t.Errorf("problems differ; got:%s", b.String())
	}
}

// oneProblem derives struct{ F typ `<tag>` } and checks it has exactly one problem, about F.
func oneProblem(t *testing.T, typ reflect.Type, tag, message string) {
	t.Helper()
	got := problemsOf(t, one(typ, tag), WithName("T"))
	if len(got) != 1 || !strings.Contains(got[0].Path, "}.F") || !strings.Contains(got[0].Message, message) {
		t.Errorf("problems %v, want one about F containing %q", got, message)
	}
}

// ---------------------------------------------------------------------------------------------
// types

type level int

func (l level) MarshalText() ([]byte, error) { return []byte(strconv.Itoa(int(l))), nil }

type textKey struct{ a, b int }

func (k textKey) MarshalText() ([]byte, error) { return []byte(fmt.Sprint(k.a, k.b)), nil }

type color string

type point struct {
	X float64 `json:"x" graveyard:"required"`
	Y float64 `json:"y"`
}

func TestTypes(t *testing.T) {
	intBits := strconv.IntSize
	intMin := fmt.Sprint(-(uint64(1) << (intBits - 1)))
	if intBits == 64 {
		intMin = "-9223372036854775808"
	}
	intMax := fmt.Sprint(uint64(1)<<(intBits-1) - 1)
	uintMax := fmt.Sprint(uint64(math.MaxUint64) >> (64 - intBits))
	pointJSON := `{"object": {"fields": [{"name": "x", "type": "number", "required": true}, {"name": "y", "type": "number"}]}}`
	for _, c := range []struct {
		name string
		typ  reflect.Type
		json string // the json tag
		want string
	}{
		{"bool", reflect.TypeFor[bool](), "f", `{"name": "f", "type": "boolean"}`},
		{"int8", reflect.TypeFor[int8](), "f", `{"name": "f", "type": "integer", "min": -128, "max": 127}`},
		{"int16", reflect.TypeFor[int16](), "f", `{"name": "f", "type": "integer", "min": -32768, "max": 32767}`},
		{"int32", reflect.TypeFor[int32](), "f", `{"name": "f", "type": "integer", "min": -2147483648, "max": 2147483647}`},
		{"int64", reflect.TypeFor[int64](), "f",
			`{"name": "f", "type": "integer", "min": -9223372036854775808, "max": 9223372036854775807}`},
		{"int", reflect.TypeFor[int](), "f", `{"name": "f", "type": "integer", "min": ` + intMin + `, "max": ` + intMax + `}`},
		{"uint8", reflect.TypeFor[uint8](), "f", `{"name": "f", "type": "integer", "min": 0, "max": 255}`},
		{"uint16", reflect.TypeFor[uint16](), "f", `{"name": "f", "type": "integer", "min": 0, "max": 65535}`},
		{"uint32", reflect.TypeFor[uint32](), "f", `{"name": "f", "type": "integer", "min": 0, "max": 4294967295}`},
		{"uint64", reflect.TypeFor[uint64](), "f", `{"name": "f", "type": "integer", "min": 0, "max": 18446744073709551615}`},
		{"uint", reflect.TypeFor[uint](), "f", `{"name": "f", "type": "integer", "min": 0, "max": ` + uintMax + `}`},
		{"uintptr", reflect.TypeFor[uintptr](), "f", `{"name": "f", "type": "integer", "min": 0, "max": ` + uintMax + `}`},
		{"named int", reflect.TypeFor[time.Month](), "f", `{"name": "f", "type": "integer", "min": ` + intMin + `, "max": ` + intMax + `}`},
		{"float32", reflect.TypeFor[float32](), "f",
			`{"name": "f", "type": "number", "min": -3.4028234663852886e+38, "max": 3.4028234663852886e+38}`},
		{"float64", reflect.TypeFor[float64](), "f", `{"name": "f", "type": "number"}`},
		{"json.Number", reflect.TypeFor[json.Number](), "f", `{"name": "f", "type": "number"}`},
		{"string", reflect.TypeFor[string](), "f", `{"name": "f", "type": "string"}`},
		{"named string", reflect.TypeFor[color](), "f", `{"name": "f", "type": "string"}`},
		{"TextMarshaler", reflect.TypeFor[level](), "f", `{"name": "f", "type": "string"}`},
		{"time.Time", reflect.TypeFor[time.Time](), "f", `{"name": "f", "type": "string", "pattern": ` + strconv.Quote(timePattern) + `}`},
		{"*time.Time", reflect.TypeFor[*time.Time](), "f",
			`{"name": "f", "type": "string", "nullable": true, "pattern": ` + strconv.Quote(timePattern) + `}`},
		{"[]byte", reflect.TypeFor[[]byte](), "f",
			`{"name": "f", "type": "string", "nullable": true, "pattern": ` + strconv.Quote(base64Pattern) + `}`},
		{"json.RawMessage-free byte array", reflect.TypeFor[[4]byte](), "f",
			`{"name": "f", "type": {"array": "integer"}, "min_length": 4, "max_length": 4}`},
		{"*int", reflect.TypeFor[*int16](), "f", `{"name": "f", "type": "integer", "nullable": true, "min": -32768, "max": 32767}`},
		{"**string", reflect.TypeFor[**string](), "f", `{"name": "f", "type": "string", "nullable": true}`},
		{"[]string", reflect.TypeFor[[]string](), "f", `{"name": "f", "type": {"array": "string"}, "nullable": true}`},
		{"*[]string", reflect.TypeFor[*[]string](), "f", `{"name": "f", "type": {"array": "string"}, "nullable": true}`},
		{"[][]int8", reflect.TypeFor[[][]int8](), "f", `{"name": "f", "type": {"array": {"array": "integer"}}, "nullable": true}`},
		{"[]*bool", reflect.TypeFor[[]*bool](), "f", `{"name": "f", "type": {"array": "boolean"}, "nullable": true}`},
		{"[3]string", reflect.TypeFor[[3]string](), "f",
			`{"name": "f", "type": {"array": "string"}, "min_length": 3, "max_length": 3}`},
		{"[]time.Time", reflect.TypeFor[[]time.Time](), "f", `{"name": "f", "type": {"array": "string"}, "nullable": true}`},
		{"map[string]int", reflect.TypeFor[map[string]int](), "f", `{"name": "f", "type": {"object": {"fields": []}}, "nullable": true}`},
		{"map[string]any", reflect.TypeFor[map[string]any](), "f", `{"name": "f", "type": {"object": {"fields": []}}, "nullable": true}`},
		{"map[int64]string", reflect.TypeFor[map[int64]string](), "f", `{"name": "f", "type": {"object": {"fields": []}}, "nullable": true}`},
		{"map[textKey]point", reflect.TypeFor[map[textKey]point](), "f", `{"name": "f", "type": {"object": {"fields": []}}, "nullable": true}`},
		{"struct", reflect.TypeFor[point](), "f", `{"name": "f", "type": ` + pointJSON + `}`},
		{"*struct", reflect.TypeFor[*point](), "f", `{"name": "f", "type": ` + pointJSON + `, "nullable": true}`},
		{"[]struct", reflect.TypeFor[[]point](), "f", `{"name": "f", "type": {"array": ` + pointJSON + `}, "nullable": true}`},
		{"empty struct", reflect.TypeFor[struct{}](), "f", `{"name": "f", "type": {"object": {"fields": []}}}`},
		// The json ",string" option writes the value inside a string.
		{",string int64", reflect.TypeFor[int64](), "f,string", `{"name": "f", "type": "string", "pattern": ` + strconv.Quote(quotedIntPattern) + `}`},
		{",string *int", reflect.TypeFor[*int](), "f,string",
			`{"name": "f", "type": "string", "nullable": true, "pattern": ` + strconv.Quote(quotedIntPattern) + `}`},
		{",string uint8", reflect.TypeFor[uint8](), "f,string", `{"name": "f", "type": "string", "pattern": ` + strconv.Quote(quotedUintPattern) + `}`},
		{",string float64", reflect.TypeFor[float64](), "f,string",
			`{"name": "f", "type": "string", "pattern": ` + strconv.Quote(quotedNumberPattern) + `}`},
		{",string json.Number", reflect.TypeFor[json.Number](), "f,string",
			`{"name": "f", "type": "string", "pattern": ` + strconv.Quote(quotedNumberPattern) + `}`},
		{",string bool", reflect.TypeFor[bool](), "f,string", `{"name": "f", "type": "string", "pattern": "true|false"}`},
		{",string string", reflect.TypeFor[string](), "f,string",
			`{"name": "f", "type": "string", "pattern": ` + strconv.Quote(quotedStringPattern) + `}`},
		// encoding/json ignores ",string" on other kinds, on pointers to pointers and on marshalers.
		{",string struct", reflect.TypeFor[point](), "f,string", `{"name": "f", "type": ` + pointJSON + `}`},
		{",string **int", reflect.TypeFor[**int8](), "f,string", `{"name": "f", "type": "integer", "nullable": true, "min": -128, "max": 127}`},
		{",string TextMarshaler", reflect.TypeFor[level](), "f,string", `{"name": "f", "type": "string"}`},
		{",string []int", reflect.TypeFor[[]int8](), "f,string", `{"name": "f", "type": {"array": "integer"}, "nullable": true}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			assertJSON(t, fieldJSONOf(t, c.typ, c.json, ""), c.want)
		})
	}
}

// The patterns of the fixed forms accept what encoding/json writes and refuse other text.
func TestFixedPatterns(t *testing.T) {
	anchored := func(p string) func(string) bool {
		re, err := compilePattern(p)
		if err != nil {
			t.Fatalf("pattern %s: %v", p, err)
		}
		return re.MatchString
	}
	text := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("%s is not a JSON string", b)
		}
		return s
	}
	timeOK := anchored(timePattern)
	zone := time.FixedZone("", -(9*3600 + 30*60))
	for _, tm := range []time.Time{
		{}, time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 1, zone),
		time.Date(1, 1, 1, 1, 1, 1, 120_000_000, time.FixedZone("", 23*3600+59*60)),
	} {
		if s := text(tm); !timeOK(s) {
			t.Errorf("time pattern refuses %s", s)
		}
	}
	for _, s := range []string{"2024-02-29", "2024-02-29T10:00:00", "2024-13-01T00:00:00Z", "2024-01-01T24:00:00Z",
		"2024-01-01T00:00:00.1234567890Z", "2024-01-01t00:00:00Z", "2024-01-01T00:00:00+24:00"} {
		if timeOK(s) {
			t.Errorf("time pattern accepts %s", s)
		}
	}
	b64 := anchored(base64Pattern)
	for _, b := range [][]byte{{}, {1}, {1, 2}, {1, 2, 3}, {0xff, 0xfe, 0xfd, 0xfc, 0xfb}} {
		if s := text(b); !b64(s) {
			t.Errorf("base64 pattern refuses %s", s)
		}
	}
	for _, s := range []string{"a", "ab=", "abc", "ab-_", "YQ"} {
		if b64(s) {
			t.Errorf("base64 pattern accepts %s", s)
		}
	}
	type quoted struct {
		I int64   `json:"i,string"`
		U uint64  `json:"u,string"`
		F float64 `json:"f,string"`
		B bool    `json:"b,string"`
		S string  `json:"s,string"`
	}
	for _, q := range []quoted{{}, {-5, math.MaxUint64, -1.5e-9, true, "a\"\\\n\u2028é"}, {math.MinInt64, 7, 1e21, false, ""}} {
		data, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		for key, p := range map[string]string{"i": quotedIntPattern, "u": quotedUintPattern, "f": quotedNumberPattern,
			"b": quotedBoolPattern, "s": quotedStringPattern} {
			if !anchored(p)(m[key]) {
				t.Errorf("pattern %s refuses %q", p, m[key])
			}
		}
	}
}

type marshalsJSON struct{}

func (marshalsJSON) MarshalJSON() ([]byte, error) { return []byte(`1`), nil }

type marshalsJSONOnPointer struct{}

func (*marshalsJSONOnPointer) MarshalJSON() ([]byte, error) { return []byte(`1`), nil }

type marshalsTextOnPointer struct{}

func (*marshalsTextOnPointer) MarshalText() ([]byte, error) { return []byte(`x`), nil }

func TestUnsupportedTypes(t *testing.T) {
	for _, c := range []struct {
		name    string
		typ     reflect.Type
		message string
	}{
		{"any", reflect.TypeFor[any](), `interface {} can hold any value`},
		{"error", reflect.TypeFor[error](), `error can hold any value`},
		{"[]any", reflect.TypeFor[[]any](), `interface {} can hold any value`},
		{"json.RawMessage", reflect.TypeFor[json.RawMessage](), `json.RawMessage holds any JSON`},
		{"*json.RawMessage", reflect.TypeFor[*json.RawMessage](), `json.RawMessage holds any JSON`},
		{"json.Marshaler", reflect.TypeFor[marshalsJSON](), `implements json.Marshaler`},
		{"MarshalJSON on the pointer", reflect.TypeFor[marshalsJSONOnPointer](), `only when the value is addressable`},
		{"MarshalText on the pointer", reflect.TypeFor[marshalsTextOnPointer](), `only when the value is addressable`},
		{"complex64", reflect.TypeFor[complex64](), `cannot write complex numbers`},
		{"complex128", reflect.TypeFor[complex128](), `cannot write complex numbers`},
		{"chan", reflect.TypeFor[chan int](), `cannot write a chan`},
		{"func", reflect.TypeFor[func()](), `cannot write a func`},
		{"unsafe.Pointer", reflect.TypeFor[unsafe.Pointer](), `cannot write a unsafe.Pointer`},
		{"map key", reflect.TypeFor[map[[2]int]string](), `not [2]int`},
		{"map value", reflect.TypeFor[map[string]chan int](), `encoding/json cannot write chan int`},
		{"map of map value", reflect.TypeFor[map[string]map[string]func()](), `encoding/json cannot write func()`},
		{"slice item", reflect.TypeFor[[]complex64](), `cannot write complex numbers`},
	} {
		t.Run(c.name, func(t *testing.T) {
			oneProblem(t, c.typ, `json:"f"`, c.message)
		})
	}
	// Reached through a pointer (or a slice), a value is addressable: the pointer's methods apply.
	assertJSON(t, fieldJSONOf(t, reflect.TypeFor[*marshalsTextOnPointer](), "f", ""),
		`{"name": "f", "type": "string", "nullable": true}`)
	assertJSON(t, fieldJSONOf(t, reflect.TypeFor[[]marshalsTextOnPointer](), "f", ""),
		`{"name": "f", "type": {"array": "string"}, "nullable": true}`)
	oneProblem(t, reflect.TypeFor[*marshalsJSONOnPointer](), `json:"f"`, "implements json.Marshaler")

	// Paths name the items of slices and the values of maps.
	type Holder struct {
		Items  []chan int
		Values map[string]func()
	}
	assertProblems(t, problemsOf(t, Holder{}),
		want{"Holder.Items[]", "cannot write a chan"},
		want{"Holder.Values.*", "encoding/json cannot write func()"})
}

// ---------------------------------------------------------------------------------------------
// tags

func TestParseTag(t *testing.T) {
	for _, c := range []struct {
		tag   string
		items []item
		err   string
	}{
		{"", nil, ""},
		{"-", []item{{key: "-"}}, ""},
		{" - ", []item{{key: "-"}}, ""},
		{"required", []item{{key: "required"}}, ""},
		{"required, nullable ,min=1", []item{{key: "required"}, {key: "nullable"}, {key: "min", value: "1", hasValue: true}}, ""},
		{"description= spaced out ", []item{{key: "description", value: "spaced out", hasValue: true}}, ""},
		{"description=it's bare", []item{{key: "description", value: "it's bare", hasValue: true}}, ""},
		{"description=a=b", []item{{key: "description", value: "a=b", hasValue: true}}, ""},
		{"pattern='^[a-z]{1,3}$'", []item{{key: "pattern", value: "^[a-z]{1,3}$", hasValue: true}}, ""},
		{"pattern='it''s', required", []item{{key: "pattern", value: "it's", hasValue: true}, {key: "required"}}, ""},
		{`pattern='^\d+(,\d+)*$'`, []item{{key: "pattern", value: `^\d+(,\d+)*$`, hasValue: true}}, ""},
		{`pattern='say "hi", = ok'`, []item{{key: "pattern", value: `say "hi", = ok`, hasValue: true}}, ""},
		{"pattern=''''", []item{{key: "pattern", value: "'", hasValue: true}}, ""},
		{"default=''", []item{{key: "default", value: "", hasValue: true}}, ""},
		{"default=", nil, "default: empty value (write '' for the empty string)"},
		{"required,pattern= ,min=1", []item{{key: "required"}}, "pattern: empty value"},
		{"default=' padded '", []item{{key: "default", value: " padded ", hasValue: true}}, ""},
		{"enum=a|b|c", []item{{key: "enum", variants: []string{"a", "b", "c"}, hasValue: true}}, ""},
		{"enum= a | 'b|c' | 'd,e' |'it''s'|'',max=1", []item{
			{key: "enum", variants: []string{"a", "b|c", "d,e", "it's", ""}, hasValue: true},
			{key: "max", value: "1", hasValue: true}}, ""},
		{"enum=a||b", nil, "empty variant 2"},
		{"enum=", nil, "empty variant 1"},
		{"required,pattern='abc", []item{{key: "required"}}, "no closing quote"},
		{"pattern='a'b", nil, `unexpected "b" after the value`},
		{"required,", []item{{key: "required"}}, "trailing comma"},
		{"required,,min=1", []item{{key: "required"}}, "empty item"},
		{"=1", nil, "empty item"},
	} {
		items, err := parseTag(c.tag)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("parseTag(%q): error %v, want %q", c.tag, err, c.err)
		}
		if !reflect.DeepEqual(items, c.items) {
			t.Errorf("parseTag(%q) = %#v, want %#v", c.tag, items, c.items)
		}
	}
	// quoteValue writes what parseTag reads back.
	for _, s := range []string{"", "a", " a", "a,b", "it's", "a|b", "''", `\d"`} {
		items, err := parseTag("description=" + quoteValue(s))
		if err != nil || len(items) != 1 || items[0].value != s {
			t.Errorf("quoteValue(%q) = %s does not read back: %v %v", s, quoteValue(s), items, err)
		}
	}
}

type Patterns struct {
	Codes   string `json:"codes" graveyard:"pattern='^[A-Z]{2,3}(,[A-Z]{2,3})*$'"`
	Quote   string `json:"quote" graveyard:"pattern='^it''s$'"`
	Digits  string `json:"digits" graveyard:"pattern='^\\d+(\\.\\d{1,2})?$'"`
	Said    string `json:"said" graveyard:"pattern='^say \"[^\"]*\"$',description='a=b, \"c\"'"`
	Equals  string `json:"equals" graveyard:"pattern=a=b|c"`
	Alone   string `json:"alone" graveyard:"pattern='',default=''"`
	Spaced  string `json:"spaced" graveyard:"required , pattern = '^ x $' , max_length = 9"`
	Default string `json:"default" graveyard:"pattern='^[a-z]+, [a-z]+$',default='hello, world'"`
}

func TestPatternsWithCommasQuotesAndBackslashes(t *testing.T) {
	def, err := Derive(Patterns{})
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, def.JSON, `{"name": "Patterns", "fields": [
		{"name": "codes", "type": "string", "pattern": "^[A-Z]{2,3}(,[A-Z]{2,3})*$"},
		{"name": "quote", "type": "string", "pattern": "^it's$"},
		{"name": "digits", "type": "string", "pattern": "^\\d+(\\.\\d{1,2})?$"},
		{"name": "said", "type": "string", "pattern": "^say \"[^\"]*\"$", "description": "a=b, \"c\""},
		{"name": "equals", "type": "string", "pattern": "a=b|c"},
		{"name": "alone", "type": "string", "pattern": "", "default": ""},
		{"name": "spaced", "type": "string", "required": true, "max_length": 9, "pattern": "^ x $"},
		{"name": "default", "type": "string", "pattern": "^[a-z]+, [a-z]+$", "default": "hello, world"}
	]}`)
}

type AllRules struct {
	Name      string            `json:"name" graveyard:"required,min_length=1,max_length=20,pattern='[a-z ]+',description='The name, in lower case'"`
	Age       *int8             `json:"age" graveyard:"min=18,max=100,default=30"`
	Ratio     float64           `json:"ratio" graveyard:"nullable,min=-0.5,max=1e3,default=0.25"`
	Status    string            `json:"status" graveyard:"enum=active|'on hold'|'a,b',default=active"`
	Color     color             `json:"color" graveyard:"enum=red|green,required"`
	Tags      []string          `json:"tags" graveyard:"enum=x|y,min_length=1,max_length=2,default='[\"x\"]'"`
	Pair      [2]string         `json:"pair" graveyard:"enum=l|r"`
	Enabled   bool              `json:"enabled" graveyard:"default=true"`
	Origin    point             `json:"origin" graveyard:"default='{\"x\": 1, \"y\": 2.5}'"`
	Since     time.Time         `json:"since" graveyard:"default=2024-01-01T00:00:00Z"`
	Blob      []byte            `json:"blob" graveyard:"default=AQID"`
	Labels    map[string]string `json:"labels" graveyard:"required,default='{\"a\": \"b\"}'"`
	ID        int64             `json:"id,string" graveyard:"default=42,description=quoted"`
	Big       uint64            `json:"big" graveyard:"default=18446744073709551615"`
	Ignored   string            `json:"ignored" graveyard:"-"`
	Unrelated string            `json:"unrelated,omitempty" graveyard:""`
}

func TestEveryFieldKey(t *testing.T) {
	def, err := Derive(&AllRules{})
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, def.JSON, `{"name": "AllRules", "fields": [
		{"name": "name", "type": "string", "required": true, "min_length": 1, "max_length": 20, "pattern": "[a-z ]+",
		 "description": "The name, in lower case"},
		{"name": "age", "type": "integer", "nullable": true, "min": 18, "max": 100, "default": 30},
		{"name": "ratio", "type": "number", "nullable": true, "min": -0.5, "max": 1e3, "default": 0.25},
		{"name": "status", "type": {"enum": ["active", "on hold", "a,b"]}, "default": "active"},
		{"name": "color", "type": {"enum": ["red", "green"]}, "required": true},
		{"name": "tags", "type": {"array": {"enum": ["x", "y"]}}, "nullable": true, "min_length": 1, "max_length": 2,
		 "default": ["x"]},
		{"name": "pair", "type": {"array": {"enum": ["l", "r"]}}, "min_length": 2, "max_length": 2},
		{"name": "enabled", "type": "boolean", "default": true},
		{"name": "origin", "type": {"object": {"fields": [{"name": "x", "type": "number", "required": true},
		 {"name": "y", "type": "number"}]}}, "default": {"x": 1, "y": 2.5}},
		{"name": "since", "type": "string", "pattern": `+strconv.Quote(timePattern)+`, "default": "2024-01-01T00:00:00Z"},
		{"name": "blob", "type": "string", "nullable": true, "pattern": `+strconv.Quote(base64Pattern)+`, "default": "AQID"},
		{"name": "labels", "type": {"object": {"fields": []}}, "required": true, "default": {"a": "b"}},
		{"name": "id", "type": "string", "pattern": `+strconv.Quote(quotedIntPattern)+`, "default": "42",
		 "description": "quoted"},
		{"name": "big", "type": "integer", "min": 0, "max": 18446744073709551615, "default": 18446744073709551615},
		{"name": "unrelated", "type": "string"}
	]}`)
}

func TestRequiredAndNullable(t *testing.T) {
	for _, c := range []struct {
		name string
		typ  reflect.Type
		tag  string
		want string
	}{
		{"plain", reflect.TypeFor[string](), "", `{"name": "f", "type": "string"}`},
		{"required", reflect.TypeFor[string](), "required", `{"name": "f", "type": "string", "required": true}`},
		{"nullable on a value type", reflect.TypeFor[string](), "nullable", `{"name": "f", "type": "string", "nullable": true}`},
		{"pointer", reflect.TypeFor[*string](), "", `{"name": "f", "type": "string", "nullable": true}`},
		{"required pointer", reflect.TypeFor[*string](), "required", `{"name": "f", "type": "string", "required": true}`},
		{"required slice", reflect.TypeFor[[]string](), "required", `{"name": "f", "type": {"array": "string"}, "required": true}`},
		{"required map", reflect.TypeFor[map[string]int](), "required", `{"name": "f", "type": {"object": {"fields": []}}, "required": true}`},
		{"nullable pointer", reflect.TypeFor[*string](), "nullable", `{"name": "f", "type": "string", "nullable": true}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			assertJSON(t, fieldJSONOf(t, c.typ, "f", c.tag), c.want)
		})
	}
	// omitempty and omitzero change nothing.
	assertJSON(t, fieldJSONOf(t, reflect.TypeFor[*string](), "f,omitempty", "required"), `{"name": "f", "type": "string", "required": true}`)
	assertJSON(t, fieldJSONOf(t, reflect.TypeFor[[]int8](), "f,omitzero", ""), `{"name": "f", "type": {"array": "integer"}, "nullable": true}`)
}

func TestRuleProblems(t *testing.T) {
	for _, c := range []struct {
		name    string
		typ     reflect.Type
		tag     string
		message string
	}{
		// syntax, keys and values
		{"unknown key", reflect.TypeFor[string](), `graveyard:"requird"`, `unknown key "requird"`},
		{"type key on a field", reflect.TypeFor[string](), `graveyard:"unknown_fields=reject"`, `a setting of the type`},
		{"duplicated key", reflect.TypeFor[string](), `graveyard:"max_length=1,max_length=2"`, `max_length is given more than once`},
		{"flag with a value", reflect.TypeFor[string](), `graveyard:"required=true"`, `required takes no value`},
		{"rule without a value", reflect.TypeFor[string](), `graveyard:"pattern"`, `pattern needs a value`},
		{"'-' with others", reflect.TypeFor[string](), `graveyard:"-,required"`, `takes no other key`},
		{"unclosed quote", reflect.TypeFor[string](), `graveyard:"pattern='abc"`, `no closing quote`},
		{"not a Go string literal", reflect.TypeFor[string](), `graveyard:"pattern=\d"`, `not a valid Go string literal`},
		{"no closing double quote", reflect.TypeFor[string](), `graveyard:"pattern`, `no closing quote`},
		{"graveyard without a colon", reflect.TypeFor[string](), `graveyard='x'`, `malformed`},
		{"malformed number", reflect.TypeFor[int](), `graveyard:"min=ten"`, `min=ten: not a number`},
		{"number with a plus", reflect.TypeFor[int](), `graveyard:"max=+5"`, `not a number`},
		{"hexadecimal number", reflect.TypeFor[int](), `graveyard:"max=0x10"`, `not a number`},
		{"infinite number", reflect.TypeFor[float64](), `graveyard:"max=1e400"`, `out of range`},
		{"malformed length", reflect.TypeFor[string](), `graveyard:"min_length=-1"`, `not a length`},
		{"fractional length", reflect.TypeFor[string](), `graveyard:"max_length=1.5"`, `not a length`},
		// consistency
		{"required with nullable", reflect.TypeFor[*string](), `graveyard:"required,nullable"`, `both required and nullable`},
		{"min above max", reflect.TypeFor[float64](), `graveyard:"min=5,max=1"`, `min 5 is above max 1`},
		{"min above the type's max", reflect.TypeFor[uint8](), `graveyard:"min=300"`, `min 300 is above max 255`},
		{"min below the type's min", reflect.TypeFor[int8](), `graveyard:"min=-129"`, `min -129 is below the smallest int8 (-128)`},
		{"max above the type's max", reflect.TypeFor[int64](), `graveyard:"max=9223372036854775808"`,
			`max 9223372036854775808 is above the largest int64 (9223372036854775807)`},
		{"max above float32", reflect.TypeFor[float32](), `graveyard:"max=1e39"`, `above the largest float32`},
		{"negative min of a uint", reflect.TypeFor[uint](), `graveyard:"min=-1"`, `below the smallest uint (0)`},
		{"min_length above max_length", reflect.TypeFor[[]int8](), `graveyard:"min_length=3,max_length=2"`, `min_length 3 is above max_length 2`},
		{"duplicated enum variant", reflect.TypeFor[string](), `graveyard:"enum=a|b|a|a"`, `enum variant "a" is listed more than once`},
		// rules that do not apply
		{"min on a string", reflect.TypeFor[string](), `graveyard:"min=1"`, `min applies to numbers and integers, not to string (string)`},
		{"max on a bool", reflect.TypeFor[bool](), `graveyard:"max=1"`, `max applies to numbers and integers, not to boolean (bool)`},
		{"min on a quoted int", reflect.TypeFor[int](), `json:",string" graveyard:"min=1"`, `not to string (int with json ,string)`},
		{"min_length on an int", reflect.TypeFor[int](), `graveyard:"min_length=1"`, `min_length applies to strings and arrays, not to integer (int)`},
		{"max_length on a map", reflect.TypeFor[map[string]int](), `graveyard:"max_length=1"`, `not to object (map[string]int)`},
		{"max_length on an object", reflect.TypeFor[point](), `graveyard:"max_length=1"`, `not to object (schema.point)`},
		{"max_length on a Go array", reflect.TypeFor[[3]int8](), `graveyard:"max_length=3"`, `which always has 3 items`},
		{"max_length on time.Time", reflect.TypeFor[time.Time](), `graveyard:"max_length=30"`, `whose text has a fixed form`},
		{"min_length on []byte", reflect.TypeFor[[]byte](), `graveyard:"min_length=4"`, `whose text has a fixed form`},
		{"pattern on an int", reflect.TypeFor[int](), `graveyard:"pattern=1"`, `pattern applies to strings, not to integer (int)`},
		{"pattern on a slice", reflect.TypeFor[[]string](), `graveyard:"pattern=x"`, `not to array ([]string)`},
		{"pattern on time.Time", reflect.TypeFor[time.Time](), `graveyard:"pattern=x"`, `whose text has a fixed form`},
		{"pattern on a quoted int", reflect.TypeFor[int](), `json:",string" graveyard:"pattern=x"`, `whose text has a fixed form`},
		{"pattern on an enum", reflect.TypeFor[string](), `graveyard:"enum=a|b,pattern=a"`, `pattern applies to strings, not to enum (string)`},
		{"max_length on an enum", reflect.TypeFor[string](), `graveyard:"enum=a|b,max_length=1"`, `not to enum (string)`},
		{"enum on an int", reflect.TypeFor[int](), `graveyard:"enum=1|2"`, `enum applies to strings (and to the items of arrays of strings), not to integer (int)`},
		{"enum on time.Time", reflect.TypeFor[time.Time](), `graveyard:"enum=a"`, `enum applies to strings`},
		{"enum on []int", reflect.TypeFor[[]int](), `graveyard:"enum=a"`, `not to array ([]int)`},
		{"enum on a quoted string", reflect.TypeFor[string](), `json:",string" graveyard:"enum=a"`, `enum applies to strings`},
		// patterns
		{"pattern that does not compile", reflect.TypeFor[string](), `graveyard:"pattern='[a-z'"`, `does not compile: missing closing ]`},
		{"look-around", reflect.TypeFor[string](), `graveyard:"pattern='a(?=b)'"`, `does not compile`},
		{"back-reference", reflect.TypeFor[string](), `graveyard:"pattern='(a)\\1'"`, `does not compile`},
		{"\\Q quoting", reflect.TypeFor[string](), `graveyard:"pattern='\\Q.\\E'"`, `\Q...\E quoting`},
		{"literal brace", reflect.TypeFor[string](), `graveyard:"pattern='a{'"`, `a literal '{'`},
		{"octal escape", reflect.TypeFor[string](), `graveyard:"pattern='\\012'"`, `octal escapes`},
		{"empty minimum", reflect.TypeFor[string](), `graveyard:"pattern='a{,3}'"`, `a literal '{'`},
		{"brace that is no repetition", reflect.TypeFor[string](), `graveyard:"pattern='x{a}'"`, `a literal '{'`},
	} {
		t.Run(c.name, func(t *testing.T) {
			tag := c.tag
			if !strings.Contains(tag, "json:") {
				tag = `json:"f" ` + tag
			}
			oneProblem(t, c.typ, tag, c.message)
		})
	}
	// Escaped braces and ASCII classes are fine.
	for _, p := range []string{`a\{`, `[{]`, `\x{41}\\0`, `[[:alpha:]{]`, `x{2}`, `x{2,}`, `x{2,3}`, `(?P<n>a)`, `\pL+`} {
		if _, err := compilePattern(p); err != nil {
			t.Errorf("compilePattern(%q): %v", p, err)
		}
	}
}

func TestDefaults(t *testing.T) {
	for _, c := range []struct {
		name string
		typ  reflect.Type
		tag  string
		want string // the default in the schema, as JSON
	}{
		{"int", reflect.TypeFor[int](), "default=-7", `-7`},
		{"fraction below an int bound", reflect.TypeFor[int](), "min=0.5,default=1", `1`},
		{"number keeps its digits", reflect.TypeFor[float64](), "default=1.50", `1.50`},
		{"string is raw text", reflect.TypeFor[string](), `default=' {\"not\": \"json\"} '`, `" {\"not\": \"json\"} "`},
		{"string looking like a number", reflect.TypeFor[string](), "default=42", `"42"`},
		{"enum", reflect.TypeFor[string](), "enum=a|b,default=b", `"b"`},
		{"time", reflect.TypeFor[*time.Time](), "default=2024-02-29T10:11:12.5+01:00", `"2024-02-29T10:11:12.5+01:00"`},
		{"pointer", reflect.TypeFor[*int8](), "default=5", `5`},
		{"array of objects", reflect.TypeFor[[]point](), `default='[{\"x\": 0}]'`, `[{"x": 0}]`},
		{"map", reflect.TypeFor[map[string]int](), `default='{\"a\": 1}'`, `{"a": 1}`},
		{"json.Number", reflect.TypeFor[json.Number](), "default=1e3", `1e3`},
		{"quoted bool", reflect.TypeFor[bool](), "default=true", `"true"`},
		{"spaces in JSON are dropped", reflect.TypeFor[[]int8](), "default='[ 1 , 2 ]'", `[1,2]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			jsonTag := "f"
			if c.name == "quoted bool" {
				jsonTag = "f,string"
			}
			var f struct{ Default json.RawMessage }
			if err := json.Unmarshal(fieldJSONOf(t, c.typ, jsonTag, c.tag), &f); err != nil {
				t.Fatal(err)
			}
			assertJSON(t, f.Default, c.want)
		})
	}

	type strict struct {
		_ struct{} `graveyard:"unknown_fields=reject"`
		A string   `json:"a" graveyard:"required"`
		B int8     `json:"b" graveyard:"min=0,default=3"`
	}
	for _, c := range []struct {
		name    string
		typ     reflect.Type
		tag     string
		message string
	}{
		{"not JSON", reflect.TypeFor[int](), "default=ten", `default=ten is not JSON`},
		{"text after JSON", reflect.TypeFor[[]int](), "default='[1] 2'", `text after the value`},
		{"null", reflect.TypeFor[*int](), "default=null", `default=null changes nothing`},
		{"out of the Go range", reflect.TypeFor[int8](), "default=300", `cannot be read into int8: a JSON number 300 does not fit int8`},
		{"fraction for an int", reflect.TypeFor[int](), "default=1.5", `cannot be read into int`},
		{"string for an int", reflect.TypeFor[int](), `default='\"1\"'`, `cannot be read into int`},
		{"unknown member", reflect.TypeFor[point](), `default='{\"x\": 1, \"z\": 2}'`, `cannot be read into schema.point: unknown field "z"`},
		{"wrong member type", reflect.TypeFor[point](), `default='{\"x\": \"1\"}'`, `does not fit float64 at x`},
		{"bad time", reflect.TypeFor[time.Time](), "default=yesterday", `cannot be read into time.Time`},
		{"bad base64", reflect.TypeFor[[]byte](), "default=!!", `cannot be read into []uint8: illegal base64 data`},
		{"bad quoted int", reflect.TypeFor[int](), "default=abc", `cannot be read into int`},
		{"below min", reflect.TypeFor[int](), "min=10,default=9", `default=9 breaks the field: f: must be at least 10 (min)`},
		{"above max", reflect.TypeFor[float64](), "max=1.5,default=1.6", `f: must be at most 1.5 (max)`},
		{"negative zero is no integer", reflect.TypeFor[int](), "default=-0", `must be an integer`},
		{"exponent is no integer", reflect.TypeFor[int64](), "default=1e2", `cannot be read into int64`},
		{"too short", reflect.TypeFor[string](), "min_length=3,default=ab", `must have at least 3 characters (has 2) (min_length)`},
		{"too long in characters", reflect.TypeFor[string](), "max_length=2,default=été", `must have at most 2 characters (has 3)`},
		{"too many items", reflect.TypeFor[[]int](), "max_length=1,default='[1,2]'", `must have at most 1 items (has 2)`},
		{"pattern", reflect.TypeFor[string](), "pattern='[a-z]+',default=A", `must match the pattern [a-z]+ (pattern)`},
		{"pattern is anchored", reflect.TypeFor[string](), "pattern=a,default=ba", `must match the pattern a`},
		{"enum", reflect.TypeFor[string](), "enum=a|b,default=c", `f: must be one of: a, b (enum)`},
		{"enum items", reflect.TypeFor[[]string](), `enum=a|b,default='[\"a\", \"c\"]'`, `f[1]: must be one of: a, b (enum)`},
		{"null item", reflect.TypeFor[[]*int](), "default='[1, null]'", `f[1]: array items must not be null (nullable)`},
		{"required member", reflect.TypeFor[strict](), `default='{\"b\": 1}'`, `f.a: is required (required)`},
		{"null member", reflect.TypeFor[strict](), `default='{\"a\": null}'`, `f.a: must not be null (nullable)`},
		{"nested rule", reflect.TypeFor[strict](), `default='{\"a\": \"x\", \"b\": -1}'`, `f.b: must be at least 0 (min)`},
		{"unknown member of a map", reflect.TypeFor[map[string]int](), `default='{\"a\": \"x\"}'`, `a JSON string does not fit int`},
		{"with a broken rule", reflect.TypeFor[string](), "min=1,default=x", `min applies to numbers`},
	} {
		t.Run(c.name, func(t *testing.T) {
			jsonTag := `json:"f"`
			if c.name == "bad quoted int" {
				jsonTag = `json:"f,string"`
			}
			oneProblem(t, c.typ, jsonTag+` graveyard:"`+c.tag+`"`, c.message)
		})
	}
}

// ---------------------------------------------------------------------------------------------
// members: json names, embedding, skipped fields

type Audit struct {
	CreatedBy string `json:"created_by" graveyard:"required"`
	Version   int    `json:"version" graveyard:"min=1"`
}

type innerPromoted struct {
	Hidden  string `json:"hidden"`
	Visible string
}

type Tags []string

type Members struct {
	Renamed        string `json:"renamed"`
	Dash           string `json:"-,"`
	Skipped        string `json:"-"`
	Untagged       string
	OptionOnly     string `json:",omitempty"`
	BadName        string `json:"na'me"`
	unexported     string
	Audit                // promoted
	*innerPromoted       // unexported type, promoted through a pointer
	Tags                 // an embedded non-struct: a member named Tags
	Nested         Audit `json:"nested"`
	Named          point `json:"named"`
	Hidden         int   `json:"hidden"` // hides innerPromoted.Hidden
}

func TestMembersAreWhatEncodingJSONWrites(t *testing.T) {
	def, err := Derive(Members{})
	if err != nil {
		t.Fatal(err)
	}
	audit := `{"object": {"fields": [{"name": "created_by", "type": "string", "required": true},
		{"name": "version", "type": "integer", "min": 1, "max": 9223372036854775807}]}}`
	if strconv.IntSize != 64 {
		t.Skip("the expectation assumes a 64-bit int")
	}
	assertJSON(t, def.JSON, `{"name": "Members", "fields": [
		{"name": "renamed", "type": "string"},
		{"name": "-", "type": "string"},
		{"name": "Untagged", "type": "string"},
		{"name": "OptionOnly", "type": "string"},
		{"name": "BadName", "type": "string"},
		{"name": "created_by", "type": "string", "required": true},
		{"name": "version", "type": "integer", "min": 1, "max": 9223372036854775807},
		{"name": "Visible", "type": "string"},
		{"name": "Tags", "type": {"array": "string"}, "nullable": true},
		{"name": "nested", "type": `+audit+`},
		{"name": "named", "type": {"object": {"fields": [{"name": "x", "type": "number", "required": true},
		 {"name": "y", "type": "number"}]}}},
		{"name": "hidden", "type": "integer", "min": -9223372036854775808, "max": 9223372036854775807}
	]}`)
	assertSameMembers(t, Members{OptionOnly: "x", Audit: Audit{Version: 1}, innerPromoted: &innerPromoted{},
		Nested: Audit{Version: 2}})
}

// assertSameMembers checks that the schema of v declares exactly the members encoding/json
// writes for v, and that the store's rules (as the default check applies them) accept them.
func assertSameMembers(t *testing.T, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	d := newDeriver(reflect.TypeOf(v))
	d.derive(&options{})
	if len(d.problems) > 0 {
		t.Fatal(d.err())
	}
	members := decode(t, data).(map[string]any)
	var written, declared []string
	for k := range members {
		written = append(written, k)
	}
	for _, f := range d.rootObj.Fields {
		declared = append(declared, f.Name)
	}
	slices.Sort(written)
	slices.Sort(declared)
	if !slices.Equal(written, declared) {
		t.Errorf("encoding/json writes %v, the schema declares %v", written, declared)
	}
	w := &walker{root: d.rootObj}
	w.object(d.rootObj, members, "")
	if len(w.violations) > 0 {
		t.Errorf("the schema refuses what encoding/json writes (%s): %v", data, w.violations)
	}
}

type embeddedA struct{ ID, A string }
type embeddedB struct{ ID, B string }
type embeddedTagged struct {
	ID string `json:"ID"`
}

type Conflict struct {
	embeddedA
	embeddedB
	Own string
}

type TaggedWins struct {
	embeddedA
	embeddedTagged
}

type TaggedEmbedded struct {
	Audit `graveyard:"required"`
}

type Shadowed struct {
	embeddedA `json:"-"`
	Inner     struct {
		ID string `graveyard:"required"`
	}
	innerShadow
	ID string
}

type innerShadow struct {
	ID string `graveyard:"min_length=1"`
}

type Misplaced struct {
	hidden  string `graveyard:"required"`
	Skipped string `json:"-" graveyard:"required"`
	Kept    string
}

func TestEmbedding(t *testing.T) {
	// A name claimed twice at one depth: encoding/json writes neither.
	assertProblems(t, problemsOf(t, Conflict{}),
		want{"Conflict", `the fields Conflict.embeddedA.ID, Conflict.embeddedB.ID all write the JSON member "ID" at the same depth`})
	// A json-tagged field wins over an untagged one at the same depth.
	def, err := Derive(TaggedWins{})
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, def.JSON, `{"name": "TaggedWins", "fields": [{"name": "A", "type": "string"}, {"name": "ID", "type": "string"}]}`)
	assertSameMembers(t, TaggedWins{})
	// Tags on promoted embedded structs, on hidden fields, on unexported and on skipped fields.
	assertProblems(t, problemsOf(t, TaggedEmbedded{}),
		want{"TaggedEmbedded.Audit", "an embedded struct whose fields encoding/json promotes"})
	assertProblems(t, problemsOf(t, Shadowed{}),
		want{"Shadowed.innerShadow.ID", `encoding/json writes Shadowed.ID as member "ID" instead of this field`})
	assertProblems(t, problemsOf(t, Misplaced{}),
		want{"Misplaced.hidden", "the field is unexported"},
		want{"Misplaced.Skipped", `the field has json:"-"`})
	_ = Misplaced{hidden: ""}
}

type EmbedsItself struct {
	*EmbedsItself
	V int8 `json:"v"`
}

func TestEmbeddedCycleIsWalkedOnce(t *testing.T) {
	def, err := Derive(EmbedsItself{})
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, def.JSON, `{"name": "EmbedsItself", "fields": [{"name": "v", "type": "integer", "min": -128, "max": 127}]}`)
}

type LeftOut struct {
	Payload json.RawMessage `json:"payload" graveyard:"-"`
	Any     any             `json:"any,omitempty" graveyard:"-"`
	Kept    string          `json:"kept"`
}

type LeftOutStrict struct {
	_     struct{}        `graveyard:"unknown_fields=reject"`
	Extra json.RawMessage `json:"extra" graveyard:"-"`
	Gone  chan int        `json:"-"`
	Bad   chan int        `json:"bad" graveyard:"-"`
}

func TestLeftOut(t *testing.T) {
	def, err := Derive(LeftOut{})
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, def.JSON, `{"name": "LeftOut", "fields": [{"name": "kept", "type": "string"}]}`)
	assertProblems(t, problemsOf(t, LeftOutStrict{}),
		want{"LeftOutStrict.Extra", `graveyard:"-" leaves member "extra" out of the schema, but the object rejects unknown fields`},
		want{"LeftOutStrict.Bad", `graveyard:"-" leaves member "bad" out`},
		want{"LeftOutStrict.Bad", "encoding/json cannot write chan int"})
}

// ---------------------------------------------------------------------------------------------
// entity settings, names and options

type Settings struct {
	_ struct{} `graveyard:"entity=user-registered,description='A user, registered',compatibility=full,unknown_fields=reject"`
	A string   `json:"a"`
}

type NestedSettings struct {
	Strict struct {
		_ struct{} `graveyard:"unknown_fields=reject,entity=ignored,compatibility=none"`
		B bool     `json:"b"`
	} `json:"strict"`
}

type Plain struct{}

type Generic[T any] struct {
	V T `json:"v"`
}

func TestEntitySettings(t *testing.T) {
	def, err := Derive(Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if def.Name != "user-registered" {
		t.Errorf("name %q", def.Name)
	}
	assertJSON(t, def.JSON, `{"name": "user-registered", "description": "A user, registered",
		"fields": [{"name": "a", "type": "string"}], "unknown_fields": "reject", "compatibility": "full"}`)

	// Options override the tag; the store's defaults are left out.
	def, err = Derive(Settings{}, WithName("renamed"), WithDescription("other"), WithCompatibility("backward"),
		WithUnknownFields("allow"), nil)
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, def.JSON, `{"name": "renamed", "description": "other", "fields": [{"name": "a", "type": "string"}]}`)

	// A nested type's tag sets its unknown_fields; its other settings only matter when it is an entity.
	def, err = Derive(NestedSettings{}, WithCompatibility("none"), WithUnknownFields("reject"))
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, def.JSON, `{"name": "NestedSettings", "fields": [{"name": "strict", "type": {"object": {
		"fields": [{"name": "b", "type": "boolean"}], "unknown_fields": "reject"}}}],
		"unknown_fields": "reject", "compatibility": "none"}`)

	def, err = Derive(Plain{})
	if err != nil || def.Name != "Plain" || string(def.JSON) != `{"name":"Plain","fields":[]}` {
		t.Errorf("Derive(Plain{}) = %s, %s, %v", def.Name, def.JSON, err)
	}
	def, err = Derive(Generic[int]{}, WithName("box"))
	if err != nil || def.Name != "box" {
		t.Errorf("Derive(Generic[int]{}, WithName) = %s, %v", def.Name, err)
	}
}

type BadSettings struct {
	_ struct{} `graveyard:"entity=$system,compatibility=sideways,unknown_fields=maybe,required,description,entity=x"`
	_ int      `graveyard:"description=two"`
}

type NulName struct {
	_ struct{} `graveyard:"entity='a\x00b'"`
}

func TestEntityProblems(t *testing.T) {
	assertProblems(t, problemsOf(t, BadSettings{}, WithCompatibility("eventually"), WithUnknownFields("ignore")),
		want{"BadSettings", "2 blank (_) fields carry a graveyard tag"},
		want{"BadSettings", "compatibility=sideways: the mode must be none, backward, forward or full"},
		want{"BadSettings", "unknown_fields=maybe: the mode must be allow or reject"},
		want{"BadSettings", `unknown key "required" in the type's tag`},
		want{"BadSettings", "description needs a value"},
		want{"BadSettings", "entity is given more than once"},
		want{"BadSettings", "description is given more than once"},
		want{"BadSettings", `the entity name "$system" (entity) starts with '$'`},
		want{"BadSettings", `WithCompatibility("eventually")`},
		want{"BadSettings", `WithUnknownFields("ignore")`})
	assertProblems(t, problemsOf(t, Plain{}, WithName("")), want{"Plain", "the entity name (WithName) is empty"})
	assertProblems(t, problemsOf(t, Plain{}, WithName(strings.Repeat("é", 125))), want{"Plain", "is 250 bytes, longer than 248"})
	assertProblems(t, problemsOf(t, Plain{}, WithName("a\xffb")), want{"Plain", "not valid UTF-8"})
	assertProblems(t, problemsOf(t, NulName{}), want{"NulName", "contains a NUL character"})
	assertProblems(t, problemsOf(t, struct{ A int }{}), want{"struct { A int }", "an anonymous struct type has no name"})
	assertProblems(t, problemsOf(t, Generic[int]{}), want{"Generic[int]", "the generic type Generic[int] has no stable name"})
	if _, err := Derive(struct{ A int }{}, WithName("anonymous")); err != nil {
		t.Errorf("an anonymous struct with WithName: %v", err)
	}
}

func TestEntityName(t *testing.T) {
	for _, c := range []struct {
		v    any
		name string
		err  string
	}{
		{Settings{}, "user-registered", ""},
		{&Settings{}, "user-registered", ""},
		{(*Settings)(nil), "user-registered", ""},
		{reflect.TypeFor[Plain](), "Plain", ""},
		{reflect.TypeFor[*Plain](), "Plain", ""},
		{Conflict{}, "Conflict", ""}, // only the type's tag is read
		{BadSettings{}, "", "compatibility=sideways"},
		{Generic[string]{}, "", "no stable name"},
		{42, "", "an entity must be a struct"},
		{nil, "", "no type"},
	} {
		for range 2 { // the second call is cached
			name, err := EntityName(c.v)
			if name != c.name || (c.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.err) {
				t.Errorf("EntityName(%T) = %q, %v; want %q, %q", c.v, name, err, c.name, c.err)
			}
		}
	}
}

func TestDeriveInputs(t *testing.T) {
	for _, v := range []any{Plain{}, &Plain{}, (*Plain)(nil), reflect.TypeFor[Plain](), reflect.TypeFor[**Plain]()} {
		if def, err := Derive(v); err != nil || def.Name != "Plain" {
			t.Errorf("Derive(%T) = %v, %v", v, def, err)
		}
	}
	for v, message := range map[any]string{
		"text":                   "an entity must be a struct (its events are JSON objects), not string",
		reflect.TypeFor[[]int](): "not slice",
	} {
		_, err := Derive(v)
		var de *DerivationError
		if !errors.As(err, &de) || len(de.Problems) != 1 || !strings.Contains(de.Problems[0].Message, message) {
			t.Errorf("Derive(%v): %v, want %q", v, err, message)
		}
	}
	if _, err := Derive(nil); err == nil || !strings.Contains(err.Error(), "no type") {
		t.Errorf("Derive(nil): %v", err)
	}
	if _, err := Derive(reflect.Type(nil)); err == nil {
		t.Errorf("Derive(nil reflect.Type) derived")
	}
}

// ---------------------------------------------------------------------------------------------
// recursion

type Node struct {
	Value    int8     `json:"value"`
	Next     *Node    `json:"next"`
	Children []Node   `json:"children,omitempty"`
	Meta     NodeMeta `json:"meta"`
}

type NodeMeta struct {
	Parent *Node `json:"parent" graveyard:"description=up"`
}

func TestSelfReference(t *testing.T) {
	def, err := Derive(Node{}, WithName("node"))
	if err != nil {
		t.Fatal(err)
	}
	ref := `{"ref": {"name": "node"}}`
	assertJSON(t, def.JSON, `{"name": "node", "fields": [
		{"name": "value", "type": "integer", "min": -128, "max": 127},
		{"name": "next", "type": `+ref+`, "nullable": true},
		{"name": "children", "type": {"array": `+ref+`}, "nullable": true},
		{"name": "meta", "type": {"object": {"fields": [{"name": "parent", "type": `+ref+`, "nullable": true, "description": "up"}]}}}
	]}`)
	assertSameMembers(t, Node{Next: &Node{Value: 2}, Children: []Node{{Value: 3}}, Meta: NodeMeta{Parent: &Node{}}})
}

type Doc struct {
	Title string `json:"title"`
	Root  Tree   `json:"root"`
}

type Tree struct {
	Label string `json:"label"`
	Kids  []Tree `json:"kids"`
}

type Outer struct {
	A A `json:"a"`
}

type A struct {
	B *B `json:"b"`
}

type B struct {
	A     *A     `json:"a"`
	Outer *Outer `json:"outer"` // back to the entity: fine
}

type Endless struct {
	Next  *Endless     `json:"next" graveyard:"required"`
	Inner EndlessInner `json:"inner" graveyard:"required"`
	Loose *Endless     `json:"loose"`
	Many  []Endless    `json:"many" graveyard:"required,min_length=1"`
}

type EndlessInner struct {
	Back *Endless `json:"back" graveyard:"required"`
}

type EndlessDefault struct {
	Next *EndlessDefault `json:"next" graveyard:"default='{}'"`
}

func TestRecursion(t *testing.T) {
	assertProblems(t, problemsOf(t, Doc{}),
		want{"Doc.Root.Kids[]", "recursive type Tree: Tree -> Tree.Kids[] -> Tree;"})
	assertProblems(t, problemsOf(t, Outer{}),
		want{"Outer.A.B.A", "recursive type A: A -> A.B -> B -> B.A -> A;"})
	assertProblems(t, problemsOf(t, Endless{}),
		want{"Endless.Next", "endless recursion: the chain of fields Endless.Next leads back to Endless"},
		want{"Endless.Inner.Back", "the chain of fields Endless.Inner -> Endless.Inner.Back leads back"},
		want{"Endless.Many", "the chain of fields Endless.Many leads back"})
	assertProblems(t, problemsOf(t, EndlessDefault{}),
		want{"EndlessDefault.Next", "expands endlessly"})
}

// ---------------------------------------------------------------------------------------------
// every problem at once

type Broken struct {
	_       struct{}        `graveyard:"unknown_fields=sometimes"`
	Name    string          `json:"name" graveyard:"required,nullable,min=1"`
	Age     int8            `json:"age" graveyard:"min=18,max=200,default=17"`
	Email   string          `json:"email" graveyard:"pattern='[a-z'"`
	Status  string          `json:"status" graveyard:"enum=a|b,default=c"`
	Address BrokenAddress   `json:"address"`
	Notes   []BrokenNote    `json:"notes"`
	Extra   any             `json:"extra"`
	Stream  chan string     `json:"stream"`
	Labels  map[bool]string `json:"labels"`
	Weight  float64         `json:"weight" graveyard:"minimum=3"`
}

type BrokenAddress struct {
	Zip  string `json:"zip" graveyard:"pattern='^[0-9]{4}(-[0-9]{3})?$',max_length=x"`
	City string `json:"city" graveyard:"min_length=5,max_length=2"`
}

type BrokenNote struct {
	Text string `json:"text" graveyard:"enum=x|x"`
}

func TestEveryProblemAtOnce(t *testing.T) {
	got := problemsOf(t, Broken{})
	assertProblems(t, got,
		want{"Broken", "unknown_fields=sometimes"},
		want{"Broken.Name", "both required and nullable"},
		want{"Broken.Name", "min applies to numbers and integers, not to string (string)"},
		want{"Broken.Age", "max 200 is above the largest int8 (127)"},
		want{"Broken.Email", "pattern [a-z: does not compile: missing closing ]"},
		want{"Broken.Status", "default=c breaks the field: status: must be one of: a, b (enum)"},
		want{"Broken.Address.Zip", "max_length=x: not a length"},
		want{"Broken.Address.City", "min_length 5 is above max_length 2"},
		want{"Broken.Notes[].Text", `enum variant "x" is listed more than once`},
		want{"Broken.Extra", "interface {} can hold any value"},
		want{"Broken.Stream", "encoding/json cannot write a chan"},
		want{"Broken.Labels", "not bool"},
		want{"Broken.Weight", `unknown key "minimum"`})
	err := &DerivationError{Type: "Broken", Problems: got}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != 14 || lines[0] != "graveyard schema: cannot derive Broken (13 problems):" ||
		lines[2] != "\tBroken.Name: both required and nullable: a required field holds a value (drop one)" {
		t.Errorf("Error() = %s", err)
	}
	one := &DerivationError{Type: "T", Problems: got[:1]}
	if one.Error() != "graveyard schema: cannot derive T: Broken: unknown_fields=sometimes: the mode must be allow or reject" {
		t.Errorf("Error() = %s", one)
	}
}

// ---------------------------------------------------------------------------------------------
// golden: a realistic entity

type OrderPlaced struct {
	_          struct{}          `graveyard:"entity=order-placed,description='An order was placed',compatibility=full,unknown_fields=reject"`
	OrderID    string            `json:"order_id" graveyard:"required,pattern='^ord_[0-9a-z]{12}$',description='Order id, ord_ + 12 characters'"`
	Customer   Customer          `json:"customer" graveyard:"required"`
	Lines      []OrderLine       `json:"lines" graveyard:"required,min_length=1,max_length=50"`
	Currency   string            `json:"currency" graveyard:"enum=EUR|USD|GBP,default=EUR"`
	Total      float64           `json:"total" graveyard:"min=0"`
	Coupon     *string           `json:"coupon,omitempty" graveyard:"pattern='^[A-Z0-9-]{4,16}$'"`
	PlacedAt   time.Time         `json:"placed_at" graveyard:"required"`
	Tags       []string          `json:"tags,omitempty" graveyard:"max_length=5"`
	Attributes map[string]string `json:"attributes,omitempty"`
	Channel    string            `json:"channel" graveyard:"enum=web|app|'in store',default='in store'"`
	Priority   uint8             `json:"priority" graveyard:"max=9,default=5"`
	internal   int
}

type Customer struct {
	_     struct{} `graveyard:"unknown_fields=reject"`
	ID    int64    `json:"id,string" graveyard:"required"`
	Email string   `json:"email" graveyard:"required,max_length=254,pattern='^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$'"`
	Name  *string  `json:"name"`
	Audit
}

type OrderLine struct {
	SKU       string  `json:"sku" graveyard:"required,pattern='^[A-Z]{3}-[0-9]{4}$'"`
	Quantity  int32   `json:"quantity" graveyard:"required,min=1,max=1000"`
	UnitPrice float64 `json:"unit_price" graveyard:"required,min=0"`
	Gift      bool    `json:"gift,omitempty"`
}

const orderPlacedJSON = `{
  "name": "order-placed",
  "description": "An order was placed",
  "fields": [
    {"name": "order_id", "type": "string", "required": true, "pattern": "^ord_[0-9a-z]{12}$",
     "description": "Order id, ord_ + 12 characters"},
    {"name": "customer", "type": {"object": {"fields": [
      {"name": "id", "type": "string", "required": true, "pattern": "-?(?:0|[1-9][0-9]*)"},
      {"name": "email", "type": "string", "required": true, "max_length": 254,
       "pattern": "^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$"},
      {"name": "name", "type": "string", "nullable": true},
      {"name": "created_by", "type": "string", "required": true},
      {"name": "version", "type": "integer", "min": 1, "max": 9223372036854775807}
    ], "unknown_fields": "reject"}}, "required": true},
    {"name": "lines", "type": {"array": {"object": {"fields": [
      {"name": "sku", "type": "string", "required": true, "pattern": "^[A-Z]{3}-[0-9]{4}$"},
      {"name": "quantity", "type": "integer", "required": true, "min": 1, "max": 1000},
      {"name": "unit_price", "type": "number", "required": true, "min": 0},
      {"name": "gift", "type": "boolean"}
    ]}}}, "required": true, "min_length": 1, "max_length": 50},
    {"name": "currency", "type": {"enum": ["EUR", "USD", "GBP"]}, "default": "EUR"},
    {"name": "total", "type": "number", "min": 0},
    {"name": "coupon", "type": "string", "nullable": true, "pattern": "^[A-Z0-9-]{4,16}$"},
    {"name": "placed_at", "type": "string", "required": true,
     "pattern": "[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,9})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"},
    {"name": "tags", "type": {"array": "string"}, "nullable": true, "max_length": 5},
    {"name": "attributes", "type": {"object": {"fields": []}}, "nullable": true},
    {"name": "channel", "type": {"enum": ["web", "app", "in store"]}, "default": "in store"},
    {"name": "priority", "type": "integer", "min": 0, "max": 9, "default": 5}
  ],
  "unknown_fields": "reject",
  "compatibility": "full"
}`

func TestGoldenOrderPlaced(t *testing.T) {
	if strconv.IntSize != 64 {
		t.Skip("the expectation assumes a 64-bit int")
	}
	def, err := Derive(OrderPlaced{})
	if err != nil {
		t.Fatal(err)
	}
	if def.Name != "order-placed" {
		t.Errorf("name %q", def.Name)
	}
	assertJSON(t, def.JSON, orderPlacedJSON)
	if !json.Valid(def.JSON) || bytes.Contains(def.JSON, []byte("\n")) {
		t.Errorf("not compact JSON: %s", def.JSON)
	}
	if name, err := EntityName(OrderPlaced{}); name != "order-placed" || err != nil {
		t.Errorf("EntityName = %q, %v", name, err)
	}
	// What encoding/json writes for a filled order is valid under its schema.
	coupon := "SPRING-24"
	assertSameMembers(t, OrderPlaced{
		OrderID:    "ord_0123456789ab",
		Customer:   Customer{ID: 1 << 62, Email: "ana@example.org", Audit: Audit{CreatedBy: "web", Version: 3}},
		Lines:      []OrderLine{{SKU: "ABC-0001", Quantity: 2, UnitPrice: 9.99, Gift: true}},
		Currency:   "USD",
		Total:      19.98,
		Coupon:     &coupon,
		PlacedAt:   time.Date(2024, 5, 1, 12, 30, 0, 123_000_000, time.FixedZone("", 3600)),
		Tags:       []string{"first"},
		Attributes: map[string]string{"source": "newsletter"},
		Channel:    "web",
		Priority:   9,
		internal:   1,
	})
}

// ---------------------------------------------------------------------------------------------
// more paths: marshal methods on the entity, malformed type tags, parts left out, embedding twice

type MarshalsItself struct {
	A string `json:"a"`
}

func (MarshalsItself) MarshalJSON() ([]byte, error) { return []byte(`{}`), nil }

type myInt int

type EmbedsUnexportedInt struct {
	myInt `graveyard:"required"`
	B     string
}

type Zed struct{ ID string }
type viaX struct{ Zed }
type viaY struct{ Zed }

type EmbedsTwice struct {
	viaX
	viaY
	Own string
}

type LeftOutButBroken struct {
	A *[]complex64               `graveyard:"-"`
	B map[[2]int]string          `graveyard:"-"`
	C struct{ D func() }         `graveyard:"-"`
	E map[string]*unsafe.Pointer `graveyard:"-"`
	F []MarshalsItself           `graveyard:"-"` // writes itself: fine
}

type BadTypeTag struct {
	_ struct{} `graveyard:"entity='unclosed"`
}

func TestMorePaths(t *testing.T) {
	assertProblems(t, problemsOf(t, MarshalsItself{}), want{"MarshalsItself", "implements json.Marshaler or encoding.TextMarshaler"})
	assertProblems(t, problemsOf(t, EmbedsUnexportedInt{}),
		want{"EmbedsUnexportedInt.myInt", "an embedded field of an unexported non-struct type"})
	_ = EmbedsUnexportedInt{myInt: 0}
	assertProblems(t, problemsOf(t, EmbedsTwice{}),
		want{"EmbedsTwice", `the field EmbedsTwice.viaX.Zed.ID is promoted through more than one embedded schema.Zed at the same depth`})
	assertProblems(t, problemsOf(t, LeftOutButBroken{}),
		want{"LeftOutButBroken.A[]", "encoding/json cannot write complex64"},
		want{"LeftOutButBroken.B", "not [2]int"},
		want{"LeftOutButBroken.C.D", "encoding/json cannot write func()"},
		want{"LeftOutButBroken.E.*", "encoding/json cannot write unsafe.Pointer"})
	assertProblems(t, problemsOf(t, BadTypeTag{}), want{"BadTypeTag", "graveyard tag of the blank field: entity: the quoted value"})
	// A type tag that is not a Go string literal (go vet refuses it in source, reflect builds it).
	typ := reflect.StructOf([]reflect.StructField{
		{Name: "_", PkgPath: "example.org/p", Type: reflect.TypeFor[struct{}](), Tag: `graveyard:"entity=\d"`},
		{Name: "A", Type: reflect.TypeFor[string]()},
	})
	assertProblems(t, problemsOf(t, typ, WithName("x")), want{"", "is not a valid Go string literal"})
}

// The walker checks values as the store validates data (core/src/schema/validate.rs).
func TestWalkerMirrorsTheStore(t *testing.T) {
	num := func(s string) *number {
		n, err := parseNumber(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	u := func(n uint64) *uint64 { return &n }
	str := func(s string) *string { return &s }
	object := &objectJSON{UnknownFields: "reject", Fields: []*fieldJSON{
		{Name: "n", Type: &typeJSON{kind: kindNumber}, min: num("2.5"), max: num("10")},
		{Name: "i", Type: &typeJSON{kind: kindInteger}, min: num("-9223372036854775808"), max: num("9007199254740992")},
		{Name: "u", Type: &typeJSON{kind: kindInteger}, min: num("0"), max: num("18446744073709551615")},
		{Name: "s", Type: &typeJSON{kind: kindString}, MinLength: u(1), MaxLength: u(3), Pattern: str("[a-zé]+"),
			re: regexp.MustCompile(`\A(?:[a-zé]+)\z`)},
		{Name: "b", Type: &typeJSON{kind: kindBoolean}, Required: true},
		{Name: "e", Type: &typeJSON{kind: kindEnum, enum: []string{"y", "x"}}, Nullable: true},
		{Name: "a", Type: &typeJSON{kind: kindArray, elem: &typeJSON{kind: kindInteger}}, MaxLength: u(2)},
		{Name: "o", Type: &typeJSON{kind: kindObject, object: &objectJSON{Fields: []*fieldJSON{}}}},
		{Name: "r", Type: &typeJSON{kind: kindRef, ref: "root"}},
	}}
	for _, c := range []struct {
		data string
		want []string
	}{
		{`{"b": true}`, nil},
		{`{"b": false, "n": 2.5, "i": 9007199254740992, "u": 18446744073709551615, "s": "été", "e": null, "a": [1, 2],
			"o": {"any": 1}, "r": {"b": true}}`, nil},
		{`{}`, []string{"$.b: is required (required)"}},
		{`{"b": null}`, []string{"$.b: must not be null (nullable)"}},
		{`{"b": true, "n": 2, "i": 9007199254740993, "u": -1}`, []string{
			"$.n: must be at least 2.5 (min)", "$.i: must be at most 9007199254740992 (max)", "$.u: must be at least 0 (min)"}},
		{`{"b": true, "n": 10.000001, "i": 1.0, "u": 1e2}`, []string{"$.n: must be at most 10 (max)",
			"$.i: must be an integer (a number written without a fraction or an exponent) (type)",
			"$.u: must be an integer (a number written without a fraction or an exponent) (type)"}},
		{`{"b": true, "i": 18446744073709551616}`, []string{"$.i: must be an integer (a number written without a fraction or an exponent) (type)"}},
		{`{"b": true, "s": ""}`, []string{"$.s: must have at least 1 characters (has 0) (min_length)",
			"$.s: must match the pattern [a-zé]+ (pattern)"}},
		{`{"b": true, "s": "abcd"}`, []string{"$.s: must have at most 3 characters (has 4) (max_length)"}},
		{`{"b": true, "s": "A"}`, []string{"$.s: must match the pattern [a-zé]+ (pattern)"}},
		{`{"b": true, "e": "z"}`, []string{"$.e: must be one of: x, y (enum)"}},
		{`{"b": true, "a": [1, null, 2]}`, []string{"$.a: must have at most 2 items (has 3) (max_length)", "$.a[1]: array items must not be null (nullable)"}},
		{`{"b": true, "a": [1, "x"]}`, []string{"$.a[1]: must be an integer, not a string (type)"}},
		{`{"b": true, "r": {}}`, []string{"$.r.b: is required (required)"}},
		{`{"b": "yes", "n": "1", "s": 1, "e": 1, "a": {}, "o": [], "r": true, "i": false}`, []string{
			"$.n: must be a number, not a string (type)", "$.i: must be an integer, not a boolean (type)",
			"$.s: must be a string, not a number (type)", "$.b: must be a boolean, not a string (type)",
			"$.e: must be a string (one of the enum's variants), not a number (type)", "$.a: must be an array, not an object (type)",
			"$.o: must be an object, not an array (type)", "$.r: must be an object, not a boolean (type)"}},
		{`{"b": true, "zz": 1, "aa": null}`, []string{"$.aa: is not a declared field, and unknown fields are rejected (unknown_field)",
			"$.zz: is not a declared field, and unknown fields are rejected (unknown_field)"}},
	} {
		w := &walker{root: object}
		w.value(&typeJSON{kind: kindObject, object: object}, nil, decode(t, []byte(c.data)), "$")
		if !slices.Equal(w.violations, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.data, w.violations, c.want)
		}
	}
	// A full walker stops.
	w := &walker{root: object, violations: make([]string, maxViolations)}
	w.value(&typeJSON{kind: kindArray, elem: &typeJSON{kind: kindBoolean}}, nil, []any{1.0}, "$")
	if len(w.violations) != maxViolations {
		t.Errorf("%d violations", len(w.violations))
	}
}

func TestCompareNumber(t *testing.T) {
	for _, c := range []struct {
		n     string
		bound float64
		want  int
	}{
		{"2", 2.5, -1}, {"3", 2.5, 1}, {"2", 2, 0}, {"-3", -2.5, -1},
		{"9223372036854775807", 9223372036854775807, -1}, // the bound reads as 2^63
		{"9223372036854775808", 9223372036854775807, 0},  // 2^63 as u64 equals it
		{"18446744073709551615", 18446744073709551615, -1},
		{"9007199254740993", 9007199254740992, 1}, // integers are not rounded to f64
		{"1.5", 1.5, 0}, {"1e3", 999.5, 1}, {"-0", 0, 0}, {"1e400", 1e308, 1},
	} {
		if got := compareNumber(c.n, c.bound); got != c.want {
			t.Errorf("compareNumber(%s, %v) = %d, want %d", c.n, c.bound, got, c.want)
		}
	}
}
