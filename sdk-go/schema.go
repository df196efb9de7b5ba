package graveyard

import (
	"context"

	"github.com/graveyard-db/graveyard/sdk-go/internal/schema"
)

// UpsertSchema registers the schema of a struct type, derived from its fields and tags (see
// the tag grammar in SchemaOf), under its entity name: the event type that AppendValues and
// NewEvent give its values. Every problem of the type is reported at once, before the store
// is called.
func (c *Client) UpsertSchema(ctx context.Context, entity any, opts ...SchemaOption) (SchemaUpsert, error) {
	def, err := SchemaOf(entity, opts...)
	if err != nil {
		return SchemaUpsert{}, err
	}
	return c.UpsertSchemaJSON(ctx, def)
}

// SchemaOption adjusts a derived schema.
type SchemaOption = schema.Option

// SchemaOf is the JSON definition UpsertSchema would register for entity.
func SchemaOf(entity any, opts ...SchemaOption) ([]byte, error) {
	def, err := schema.Derive(entity, opts...)
	if err != nil {
		return nil, err
	}
	return def.JSON, nil
}

// EntityName is the event type of values of entity's type.
func EntityName(entity any) (string, error) {
	return schema.EntityName(entity)
}

// SchemaName registers the schema (and names the events of NewEvent) under name instead of the
// entity tag or the type's name.
func SchemaName(name string) SchemaOption { return schema.WithName(name) }

// SchemaDescription sets the schema's description.
func SchemaDescription(description string) SchemaOption { return schema.WithDescription(description) }

// SchemaCompatibility sets the compatibility mode the schema's next versions must keep:
// "none", "backward" (the store's default), "forward" or "full".
func SchemaCompatibility(mode string) SchemaOption { return schema.WithCompatibility(mode) }

// SchemaUnknownFields says whether the entity's top-level object accepts members no field
// declares: "allow" or "reject".
func SchemaUnknownFields(mode string) SchemaOption { return schema.WithUnknownFields(mode) }

// DerivationError is every problem of a struct type that has no schema, each with the Go path
// of its field (User.Address.Zip).
type DerivationError = schema.DerivationError

// Problem is one problem of a DerivationError.
type Problem = schema.Problem
