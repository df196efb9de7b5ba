package schema

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// tagKey is the struct tag key this package reads.
const tagKey = "graveyard"

// item is one key of a graveyard tag, with its value when it has one.
type item struct {
	key      string
	value    string   // the value, unquoted (not for enum)
	hasValue bool     // "key=..." rather than "key"
	variants []string // enum only: the variants, unquoted
}

// lookupTag is reflect.StructTag.Lookup that tells a malformed value apart from an absent one:
// Lookup reports "absent" when the value is not a valid Go string literal (graveyard:"\d"),
// which would silently drop every rule of the field.
func lookupTag(tag reflect.StructTag, key string) (value string, found bool, err error) {
	// The loop follows reflect.StructTag.Lookup.
	for tag != "" {
		i := 0
		for i < len(tag) && tag[i] == ' ' {
			i++
		}
		tag = tag[i:]
		if tag == "" {
			break
		}
		i = 0
		for i < len(tag) && tag[i] > ' ' && tag[i] != ':' && tag[i] != '"' && tag[i] != 0x7f {
			i++
		}
		if i == 0 || i+1 >= len(tag) || tag[i] != ':' || tag[i+1] != '"' {
			break
		}
		name := string(tag[:i])
		tag = tag[i+1:]
		i = 1
		for i < len(tag) && tag[i] != '"' {
			if tag[i] == '\\' {
				i++
			}
			i++
		}
		if i >= len(tag) {
			if name == key {
				return "", true, fmt.Errorf("the %s tag has no closing quote", key)
			}
			break
		}
		quoted := string(tag[:i+1])
		tag = tag[i+1:]
		if name == key {
			value, err := strconv.Unquote(quoted)
			if err != nil {
				return "", true, fmt.Errorf("the %s tag %s is not a valid Go string literal "+
					"(inside the tag's double quotes, write a backslash as \\\\ and a double quote as \\\")", key, quoted)
			}
			return value, true, nil
		}
	}
	// A key written without its ':"' (graveyard=..., graveyard:'...') would be ignored by Go.
	if strings.Contains(string(tag), key) {
		return "", true, fmt.Errorf("the struct tag %q is malformed near %q (write %s:\"...\")", string(tag), key, key)
	}
	return "", false, nil
}

// parseTag splits the text of a graveyard tag into its items. A syntax error stops the parse
// (what follows it cannot be read reliably); the items before it are returned with the error.
//
// Grammar (see the package documentation):
//
//	tag     = "-" | item { "," item }
//	item    = key [ "=" value ]
//	value   = quoted | bare
//	quoted  = "'" { any character but "'" | "''" } "'"
//	bare    = any characters but "," (spaces around are trimmed), not starting with "'", not empty
//	enum    = "enum=" variant { "|" variant }
//	variant = quoted | bare variant (any characters but "," and "|", not starting with "'")
func parseTag(s string) ([]item, error) {
	if strings.TrimSpace(s) == "-" {
		return []item{{key: "-"}}, nil
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	p := &tagParser{s: s}
	var items []item
	for {
		p.spaces()
		start := p.pos
		for p.pos < len(p.s) && p.s[p.pos] != '=' && p.s[p.pos] != ',' {
			p.pos++
		}
		key := strings.TrimSpace(p.s[start:p.pos])
		if key == "" {
			if p.pos >= len(p.s) {
				return items, fmt.Errorf("empty item at the end of the tag (a trailing comma?)")
			}
			return items, fmt.Errorf("empty item at offset %d", start)
		}
		it := item{key: key}
		if p.pos < len(p.s) && p.s[p.pos] == '=' {
			p.pos++
			it.hasValue = true
			if key == "enum" {
				variants, err := p.variants()
				if err != nil {
					return items, fmt.Errorf("%s: %w", key, err)
				}
				it.variants = variants
			} else {
				p.spaces()
				quoted := p.pos < len(p.s) && p.s[p.pos] == '\''
				value, err := p.value(false)
				if err != nil {
					return items, fmt.Errorf("%s: %w", key, err)
				}
				if value == "" && !quoted {
					return items, fmt.Errorf("%s: empty value (write '' for the empty string)", key)
				}
				it.value = value
			}
		}
		p.spaces()
		if p.pos < len(p.s) && p.s[p.pos] != ',' {
			return items, fmt.Errorf("%s: unexpected %q after the value (quote a value that contains it: %s='...')",
				key, p.rest(), key)
		}
		items = append(items, it)
		if p.pos >= len(p.s) {
			return items, nil
		}
		p.pos++
	}
}

type tagParser struct {
	s   string
	pos int
}

func (p *tagParser) spaces() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

func (p *tagParser) rest() string {
	rest := p.s[p.pos:]
	if len(rest) > 20 {
		rest = rest[:20] + "..."
	}
	return rest
}

// value reads a quoted or a bare value. In a list (enum variants) a bare value also stops at '|'.
func (p *tagParser) value(inList bool) (string, error) {
	p.spaces()
	if p.pos < len(p.s) && p.s[p.pos] == '\'' {
		return p.quoted()
	}
	start := p.pos
	for p.pos < len(p.s) && p.s[p.pos] != ',' && !(inList && p.s[p.pos] == '|') {
		p.pos++
	}
	return strings.TrimRight(p.s[start:p.pos], " \t"), nil
}

// quoted reads a value between single quotes, in which two quotes in a row stand for one.
func (p *tagParser) quoted() (string, error) {
	start := p.pos
	p.pos++ // the opening quote
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == '\'' {
			if p.pos+1 < len(p.s) && p.s[p.pos+1] == '\'' {
				b.WriteByte('\'')
				p.pos += 2
				continue
			}
			p.pos++
			return b.String(), nil
		}
		b.WriteByte(c)
		p.pos++
	}
	return "", fmt.Errorf("the quoted value starting at offset %d has no closing quote (write a quote inside "+
		"a quoted value as '')", start)
}

func (p *tagParser) variants() ([]string, error) {
	var variants []string
	for {
		p.spaces()
		quoted := p.pos < len(p.s) && p.s[p.pos] == '\''
		v, err := p.value(true)
		if err != nil {
			return nil, err
		}
		if v == "" && !quoted {
			return nil, fmt.Errorf("empty variant %d (write '' for the empty string)", len(variants)+1)
		}
		variants = append(variants, v)
		p.spaces()
		if p.pos < len(p.s) && p.s[p.pos] == '|' {
			p.pos++
			continue
		}
		return variants, nil
	}
}

// quoteValue writes a value so that parseTag reads it back: bare when it can be, else quoted.
// Used in messages, so that a problem shows a value as it would be written in a tag.
func quoteValue(s string) string {
	if s != "" && !strings.ContainsAny(s, ",'|") && strings.TrimSpace(s) == s {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
