package graveyard_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	graveyard "github.com/graveyard-db/graveyard/sdk-go"
)

// tempStore opens an embedded store in a fresh directory; cleanup closes it and removes the
// directory.
func tempStore() (client *graveyard.Client, cleanup func()) {
	dir, err := os.MkdirTemp("", "graveyard-example-")
	if err != nil {
		log.Fatal(err)
	}
	client, err = graveyard.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	return client, func() {
		client.Close()
		os.RemoveAll(dir)
	}
}

// Open an embedded store, append two events to a stream, and read them back.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "graveyard-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	client, err := graveyard.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()

	result, err := client.Append(ctx, "order-1", graveyard.NoStream,
		graveyard.EventData{Type: "OrderPlaced", ContentType: "application/json", Data: []byte(`{"sku":"A-1","qty":2}`)},
		graveyard.EventData{Type: "OrderPaid", ContentType: "application/json", Data: []byte(`{"amount":40}`)},
	)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("revisions", result.FirstRevision, "to", result.LastRevision)

	for event, err := range client.ReadStream(ctx, "order-1") {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(event.Revision, event.Type, string(event.Data))
	}
	// Output:
	// revisions 0 to 1
	// 0 OrderPlaced {"sku":"A-1","qty":2}
	// 1 OrderPaid {"amount":40}
}

// Optimistic concurrency: an append that expects a revision the stream has moved past fails
// with ErrWrongExpectedVersion, whose details say what the stream's revision is.
func ExampleClient_Append() {
	client, cleanup := tempStore()
	defer cleanup()
	ctx := context.Background()

	deposit := graveyard.EventData{Type: "Deposited", ContentType: "application/json", Data: []byte(`{"amount":10}`)}
	if _, err := client.Append(ctx, "account-7", graveyard.NoStream, deposit, deposit); err != nil {
		log.Fatal(err)
	}
	// A writer that read the stream at revision 0 appends, expecting it unchanged.
	_, err := client.Append(ctx, "account-7", graveyard.Exact(0), deposit)
	if errors.Is(err, graveyard.ErrWrongExpectedVersion) {
		fmt.Println("the stream moved on")
	}
	var conflict *graveyard.WrongExpectedVersionError
	if errors.As(err, &conflict) {
		fmt.Println("expected", conflict.Expected, "but the stream is at", conflict.Actual)
		// Read again from the actual revision, decide again, and retry.
		result, err := client.Append(ctx, "account-7", graveyard.Exact(conflict.Actual.Revision), deposit)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("appended at revision", result.FirstRevision)
	}
	// Output:
	// the stream moved on
	// expected exact 0 but the stream is at 1
	// appended at revision 2
}

// A catch-up subscription: the stream's history, the CaughtUp marker, then live events.
func ExampleClient_SubscribeToStream() {
	client, cleanup := tempStore()
	defer cleanup()
	ctx := context.Background()

	placed := graveyard.EventData{Type: "OrderPlaced", ContentType: "application/json", Data: []byte(`{}`)}
	if _, err := client.Append(ctx, "order-1", graveyard.NoStream, placed); err != nil {
		log.Fatal(err)
	}
	sub, err := client.SubscribeToStream(ctx, "order-1", graveyard.SubscribeOptions{Start: graveyard.FromStart})
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()

	for msg, err := range sub.Messages(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		if msg.CaughtUp {
			fmt.Println("caught up")
			// A live event, appended by another writer.
			shipped := graveyard.EventData{Type: "OrderShipped", ContentType: "application/json", Data: []byte(`{}`)}
			if _, err := client.Append(ctx, "order-1", graveyard.Exact(0), shipped); err != nil {
				log.Fatal(err)
			}
			continue
		}
		fmt.Println(msg.Event.Revision, msg.Event.Type)
		if msg.Event.Type == "OrderShipped" {
			break
		}
	}
	// Output:
	// 0 OrderPlaced
	// caught up
	// 1 OrderShipped
}

// A consumer group shares a stream's events among its members; each delivery is settled with
// Ack or Nack.
func ExampleClient_JoinGroup() {
	client, cleanup := tempStore()
	defer cleanup()
	ctx := context.Background()

	_, err := client.CreateGroup(ctx, "emails", graveyard.StreamTarget("signups"), graveyard.FromStart, graveyard.GroupSettings{})
	if err != nil {
		log.Fatal(err)
	}
	for _, who := range []string{"ann", "bob", "eve"} {
		data := []byte(fmt.Sprintf(`{"name":%q}`, who))
		event := graveyard.EventData{Type: "SignedUp", ContentType: "application/json", Data: data}
		if _, err := client.Append(ctx, "signups", graveyard.Any, event); err != nil {
			log.Fatal(err)
		}
	}

	worker, err := client.JoinGroup(ctx, "emails", "worker-1")
	if err != nil {
		log.Fatal(err)
	}
	defer worker.Close()
	for delivery, err := range worker.Deliveries(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		var signup struct{ Name string }
		if err := delivery.Event.Decode(&signup); err != nil {
			log.Fatal(err)
		}
		if signup.Name == "eve" {
			// Not for us: settled without handling it.
			err = delivery.Nack(ctx, graveyard.Skip)
		} else {
			fmt.Println("welcome mail to", signup.Name)
			err = delivery.Ack(ctx)
		}
		if err != nil {
			log.Fatal(err)
		}
		if delivery.Event.Revision == 2 {
			break
		}
	}
	info, err := client.GroupInfo(ctx, "emails")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("checkpoint", info.Checkpoint, "lag", info.Lag)
	// Output:
	// welcome mail to ann
	// welcome mail to bob
	// checkpoint 3 lag 0
}

// User is an entity: its schema comes from its fields and their graveyard tags.
type User struct {
	Name string `json:"name" graveyard:"required,min_length=1"`
	Age  int    `json:"age" graveyard:"min=18"`
}

// UpsertSchema registers the schema of a struct type under its entity name, the event type
// AppendValues gives its values; appends that break it are refused with the violations.
func ExampleClient_UpsertSchema() {
	client, cleanup := tempStore()
	defer cleanup()
	ctx := context.Background()

	upsert, err := client.UpsertSchema(ctx, User{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("schema", upsert.Name, "version", upsert.Version)

	if _, err := client.AppendValues(ctx, "user-1", graveyard.NoStream, User{Name: "Ann", Age: 34}); err != nil {
		log.Fatal(err)
	}
	_, err = client.AppendValues(ctx, "user-2", graveyard.NoStream, User{Name: "", Age: 12})
	var violation *graveyard.SchemaViolationError
	if errors.As(err, &violation) {
		for _, v := range violation.Violations {
			fmt.Printf("%s: %s (%s)\n", v.Path, v.Rule, v.Value)
		}
	}

	for event, err := range client.ReadStream(ctx, "user-1") {
		if err != nil {
			log.Fatal(err)
		}
		var u User
		if err := event.Decode(&u); err != nil {
			log.Fatal(err)
		}
		fmt.Println(event.Type, u.Name, u.Age, "schema version", event.SchemaVersion)
	}
	// Output:
	// schema User version 1
	// name: min_length ("")
	// age: min (12)
	// User Ann 34 schema version 1
}
