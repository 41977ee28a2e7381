package validate_test

import (
	"errors"
	"fmt"

	"github.com/nanopore/strangler/internal/validate"
)

func ExampleParse() {
	schema := validate.Shape(
		validate.F("name", validate.String().Min(1, "This field is required").Trim()),
		validate.F("count", validate.Default(validate.Number().Int().Max(10), 1.0)),
	)

	out, err := validate.Parse(schema, []byte(`{"name":"  Ada ","extra":true}`))
	fmt.Println(string(validate.Stringify(out)), err)

	_, err = validate.Parse(schema, []byte(`{"name":"","count":1.5}`))
	var verr *validate.Error
	if errors.As(err, &verr) {
		fmt.Println(verr.Error()) // the exact text tRPC puts in its message
	}
	// Output:
	// {"name":"Ada","count":1} <nil>
	// [
	//   {
	//     "code": "too_small",
	//     "minimum": 1,
	//     "type": "string",
	//     "inclusive": true,
	//     "exact": false,
	//     "message": "This field is required",
	//     "path": [
	//       "name"
	//     ]
	//   },
	//   {
	//     "code": "invalid_type",
	//     "expected": "integer",
	//     "received": "float",
	//     "message": "Expected integer, received float",
	//     "path": [
	//       "count"
	//     ]
	//   }
	// ]
}
