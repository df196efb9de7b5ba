package graveyard

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Code is the code of an error, a number of docs/boundary.md's table (codes_gen.go). A Code is
// also an error, the sentinel of its code: errors.Is(err, graveyard.ErrWrongExpectedVersion).
type Code int32

func (c Code) String() string {
	if name, ok := codeNames[c]; ok {
		return name
	}
	return fmt.Sprintf("CODE_%d", int32(c))
}

func (c Code) Error() string {
	return "graveyard: " + c.String()
}

// Error is what every failing call of the store returns: its code, a message for people (never
// to be compared) and, for the codes that have them, typed details reachable with errors.As:
// *WrongExpectedVersionError, *StreamDeletedError, *SchemaViolationError, *InvalidSchemaError.
type Error struct {
	Code    Code
	Message string
	// Details is the code's details as the library's JSON, or nil.
	Details json.RawMessage
	detail  error
}

func (e *Error) Error() string {
	return "graveyard: " + e.Code.String() + ": " + e.Message
}

// Is matches the sentinel of the error's code (a Code).
func (e *Error) Is(target error) bool {
	c, ok := target.(Code)
	return ok && c == e.Code
}

// Unwrap gives the typed details, for errors.As.
func (e *Error) Unwrap() error {
	return e.detail
}

// WrongExpectedVersionError is the detail of CodeWrongExpectedVersion: the expected version
// of the append (or delete) and the stream's actual revision.
type WrongExpectedVersionError struct {
	Stream   string          `json:"stream"`
	Expected ExpectedVersion `json:"expected"`
	Actual   CurrentRevision `json:"actual"`
}

func (e *WrongExpectedVersionError) Error() string {
	return fmt.Sprintf("stream %q: expected %s, actual %s", e.Stream, e.Expected, e.Actual)
}

// StreamDeletedError is the detail of CodeStreamDeleted.
type StreamDeletedError struct {
	Stream string `json:"stream"`
}

func (e *StreamDeletedError) Error() string {
	return fmt.Sprintf("stream %q is deleted", e.Stream)
}

// Violation is one broken rule of a schema: where (a path like "address.zip", "items[2]", ""
// for the data itself), which rule, the offending value (null when absent) and a message.
type Violation struct {
	Path    string          `json:"path"`
	Rule    string          `json:"rule"`
	Value   json.RawMessage `json:"value"`
	Message string          `json:"message"`
}

// SchemaViolationError is the detail of CodeSchemaViolation: the first event of an append
// (by index) that broke its schema, and every violation of it.
type SchemaViolationError struct {
	Schema     string      `json:"schema"`
	Version    uint32      `json:"version"`
	Event      int         `json:"event"`
	Violations []Violation `json:"violations"`
}

func (e *SchemaViolationError) Error() string {
	return fmt.Sprintf("event %d breaks schema %s v%d: %d violation(s)", e.Event, e.Schema, e.Version, len(e.Violations))
}

// InvalidSchemaError is the detail of CodeInvalidSchema: every problem of a definition.
type InvalidSchemaError struct {
	Schema   string   `json:"schema"`
	Problems []string `json:"problems"`
}

func (e *InvalidSchemaError) Error() string {
	return fmt.Sprintf("schema %q is invalid: %d problem(s)", e.Schema, len(e.Problems))
}

func newError(code Code, message, details string) *Error {
	e := &Error{Code: code, Message: message}
	if details == "" {
		return e
	}
	e.Details = json.RawMessage(details)
	var detail error
	switch code {
	case CodeWrongExpectedVersion:
		detail = &WrongExpectedVersionError{}
	case CodeStreamDeleted:
		detail = &StreamDeletedError{}
	case CodeSchemaViolation:
		detail = &SchemaViolationError{}
	case CodeInvalidSchema:
		detail = &InvalidSchemaError{}
	default:
		return e
	}
	// Details the SDK cannot read stay available as raw JSON; the error itself is intact.
	if json.Unmarshal(e.Details, detail) == nil {
		e.detail = detail
	}
	return e
}

// errTimeout and errEnded are the C ABI's own outcomes of a session's next; they never reach
// a caller as such.
var (
	errTimeout = errors.New("graveyard: no item within the timeout")
	errEnded   = errors.New("graveyard: the session is over")
)

// ErrSessionClosed is what a subscription's or a member's Next returns once it was closed by
// its Close (and a subscription's, after it reported the failure that ended it).
var ErrSessionClosed = errors.New("graveyard: the session is closed")
