package schema_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/graveyard-db/graveyard/sdk-go/internal/schema"
)

type User struct {
	_      struct{}  `graveyard:"entity=user,unknown_fields=reject"`
	Name   string    `json:"name" graveyard:"required,min_length=1,max_length=100"`
	Age    int       `json:"age" graveyard:"min=18,max=150"`
	Email  *string   `json:"email,omitempty" graveyard:"pattern='^[^@,]+@[^@,]+$'"`
	Status string    `json:"status" graveyard:"enum=active|suspended|'on hold',default=active"`
	Since  time.Time `json:"since"`
	Notes  string    `json:"-"`
}

func indent(data []byte) string {
	var out bytes.Buffer
	if err := json.Indent(&out, data, "", "  "); err != nil {
		return err.Error()
	}
	return out.String()
}

func Example() {
	def, err := schema.Derive(User{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(def.Name)
	fmt.Println(indent(def.JSON))
	// Output:
	// user
	// {
	//   "name": "user",
	//   "fields": [
	//     {
	//       "name": "name",
	//       "type": "string",
	//       "required": true,
	//       "min_length": 1,
	//       "max_length": 100
	//     },
	//     {
	//       "name": "age",
	//       "type": "integer",
	//       "min": 18,
	//       "max": 150
	//     },
	//     {
	//       "name": "email",
	//       "type": "string",
	//       "nullable": true,
	//       "pattern": "^[^@,]+@[^@,]+$"
	//     },
	//     {
	//       "name": "status",
	//       "type": {
	//         "enum": [
	//           "active",
	//           "suspended",
	//           "on hold"
	//         ]
	//       },
	//       "default": "active"
	//     },
	//     {
	//       "name": "since",
	//       "type": "string",
	//       "pattern": "[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,9})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
	//     }
	//   ],
	//   "unknown_fields": "reject"
	// }
}

func ExampleDerive_options() {
	type Point struct {
		X float64 `json:"x" graveyard:"required"`
		Y float64 `json:"y" graveyard:"required"`
	}
	def, err := schema.Derive(Point{}, schema.WithName("point"), schema.WithDescription("A point in the plane"),
		schema.WithCompatibility("full"), schema.WithUnknownFields("reject"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(def.JSON))
	// Output:
	// {"name":"point","description":"A point in the plane","fields":[{"name":"x","type":"number","required":true},{"name":"y","type":"number","required":true}],"unknown_fields":"reject","compatibility":"full"}
}

// A field of the entity's own type refers to the entity's schema.
func ExampleDerive_recursive() {
	type Comment struct {
		_       struct{}  `graveyard:"entity=comment"`
		Text    string    `json:"text" graveyard:"required,max_length=500"`
		Replies []Comment `json:"replies,omitempty"`
	}
	def, err := schema.Derive(Comment{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(def.JSON))
	// Output:
	// {"name":"comment","fields":[{"name":"text","type":"string","required":true,"max_length":500},{"name":"replies","type":{"array":{"ref":{"name":"comment"}}},"nullable":true}]}
}

func ExampleEntityName() {
	name, err := schema.EntityName(&User{})
	fmt.Println(name, err)
	type OrderShipped struct {
		Carrier string `json:"carrier"`
	}
	name, err = schema.EntityName(OrderShipped{})
	fmt.Println(name, err)
	// Output:
	// user <nil>
	// OrderShipped <nil>
}

type Account struct {
	Owner   string            `json:"owner" graveyard:"required,nullable"`
	Balance int8              `json:"balance" graveyard:"min=0,max=1000"`
	IBAN    string            `json:"iban" graveyard:"pattern='^[A-Z]{2}[0-9'"`
	Payload any               `json:"payload"`
	Parent  AccountRef        `json:"parent"`
	Limits  map[string]func() `json:"limits"`
}

type AccountRef struct {
	Branch Branch `json:"branch"`
}

type Branch struct {
	Accounts []AccountRef `json:"accounts"`
}

// Every problem of a type is reported at once.
func ExampleDerivationError() {
	_, err := schema.Derive(Account{})
	var problems *schema.DerivationError
	if errors.As(err, &problems) {
		for _, p := range problems.Problems {
			fmt.Println(p.Path)
		}
	}
	fmt.Println(err)
	// Output:
	// Account.Owner
	// Account.Balance
	// Account.IBAN
	// Account.Payload
	// Account.Parent.Branch.Accounts[]
	// Account.Limits.*
	// graveyard schema: cannot derive Account (6 problems):
	// 	Account.Owner: both required and nullable: a required field holds a value (drop one)
	// 	Account.Balance: max 1000 is above the largest int8 (127)
	// 	Account.IBAN: pattern ^[A-Z]{2}[0-9: does not compile: missing closing ]: `[0-9`
	// 	Account.Payload: interface {} can hold any value, and the schema model has no type for any JSON value; leave it out of the schema with graveyard:"-" (the store then keeps the member unchecked, as long as the object allows unknown fields), or declare a concrete type
	// 	Account.Parent.Branch.Accounts[]: recursive type AccountRef: AccountRef -> AccountRef.Branch -> Branch -> Branch.Accounts[] -> AccountRef; the schema declares nested objects in place and can refer back only to the entity itself (Account), so this cycle cannot be expressed (leave a field of the cycle out with graveyard:"-" or json:"-", refer to the other object by id, or derive AccountRef as an entity of its own)
	// 	Account.Limits.*: encoding/json cannot write func(), so no value of this type can be appended
}
