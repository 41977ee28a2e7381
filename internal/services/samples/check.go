package samples

import (
	"strings"

	"github.com/nanopore/strangler/internal/validate"
)

// legacyEmail is the legacy service's own e-mail test, in its JS syntax.
var legacyEmail = mustJSRegexp(`^[^\s@]+@[^\s@]+\.[^\s@]+$`)

// checkCreate is the legacy service's own re-check after zod (contract 4.3):
// it runs on the transformed input, so a name of spaces, which passes zod's
// min(1) before being trimmed to "", fails here. Problems are joined with
// ", " after "Validation failed: ", in legacy's order.
func checkCreate(in CreateInput) error {
	var problems []string
	required := []struct{ value, msg string }{
		{in.SampleName, "Sample name is required"},
		{in.SubmitterName, "Submitter name is required"},
		{in.SubmitterEmail, "Submitter email is required"},
		{in.SampleType, "Sample type is required"},
		{in.ChartField, "Chart field is required"},
	}
	for _, r := range required {
		if validate.TrimJS(r.value) == "" {
			problems = append(problems, r.msg)
		}
	}
	if in.SubmitterEmail != "" && !legacyEmail.MatchString(in.SubmitterEmail) {
		problems = append(problems, "Invalid email format")
	}
	if in.Concentration < 0 {
		problems = append(problems, "Concentration must be positive")
	}
	if in.Volume < 0 {
		problems = append(problems, "Volume must be positive")
	}
	if in.FlowCellCount < 0 {
		problems = append(problems, "Flow cell count must be at least 1")
	}
	if len(problems) > 0 {
		return badRequest("Validation failed: " + strings.Join(problems, ", "))
	}
	return nil
}
