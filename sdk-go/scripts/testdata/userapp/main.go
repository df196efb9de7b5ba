// A user's program, built by scripts/user-test.sh in an empty module outside the repository
// against the SDK resolved from a module proxy, as `go get` resolves a published version.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	graveyard "github.com/graveyard-db/graveyard/sdk-go"
)

type User struct {
	Name string `json:"name" graveyard:"required,min_length=1"`
	Age  int    `json:"age" graveyard:"min=18"`
}

func run(ctx context.Context, client *graveyard.Client) error {
	if _, err := client.UpsertSchema(ctx, User{}); err != nil {
		return fmt.Errorf("upsert schema: %w", err)
	}
	stream := fmt.Sprintf("user-%d", time.Now().UnixNano())
	if _, err := client.AppendValues(ctx, stream, graveyard.NoStream, User{Name: "Ada", Age: 36}); err != nil {
		return fmt.Errorf("append: %w", err)
	}
	_, err := client.AppendValues(ctx, stream, graveyard.Any, User{Name: "Kid", Age: 7})
	var violation *graveyard.SchemaViolationError
	if !errors.As(err, &violation) || len(violation.Violations) == 0 {
		return fmt.Errorf("an under-age user was not refused: %v", err)
	}
	for ev, err := range client.ReadStream(ctx, stream) {
		if err != nil {
			return err
		}
		var u User
		if err := ev.Decode(&u); err != nil {
			return err
		}
		fmt.Printf("%s@%d: %s is %d\n", ev.Stream, ev.Revision, u.Name, u.Age)
	}
	return nil
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var client *graveyard.Client
	var err error
	switch os.Args[1] {
	case "embedded":
		client, err = graveyard.Open(os.Args[2])
	case "node":
		client, err = graveyard.Connect(ctx, []string{os.Args[2]})
	}
	if err == nil {
		defer client.Close()
		err = run(ctx, client)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "user app:", err)
		os.Exit(1)
	}
	fmt.Println("ok:", os.Args[1])
}
