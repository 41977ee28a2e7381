package samples

import (
	"math"

	v "github.com/nanopore/strangler/internal/validate"
)

// The input schemas of the sample procedures (contract 4.3 to 4.8), declared
// with the zod-compatible validator so that a bad input gets the legacy
// app's exact 400 message. They mirror testbed/legacy/src/schemas.mjs (the
// stand-in's zod schemas); a differential test keeps the two equal.
//
// One declared fix: the legacy e-mail field runs a sanitiser after zod's
// check (it strips SQL keywords out of addresses). Here the address passes
// through as given; the transform only keeps zod's status rules (a failed
// e-mail check aborts the object, so create's refine does not run).

// Validation patterns, in JavaScript regular expression syntax.
const (
	schemaPatternAlphanumeric = `^[a-zA-Z0-9\s\-_.]+$`
	schemaPatternPersonName   = `^[a-zA-Z\s\-'.]+$`
	schemaPatternLabName      = `^[a-zA-Z0-9\s\-_.,']+$`
	schemaPatternChartField   = `^(HTSF|NANO|SEQ)-\d{3}$`
)

// Validation messages of the legacy app.
const (
	schemaMsgRequired     = "This field is required"
	schemaMsgEmail        = "Please enter a valid email address"
	schemaMsgUUID         = "Invalid ID format"
	schemaMsgChartField   = "Chart field must be in format: HTSF-001, NANO-001, or SEQ-001"
	schemaMsgMax255       = "Must not exceed 255 characters"
	schemaMsgMax100       = "Must not exceed 100 characters"
	schemaMsgAlphanumeric = "Only letters, numbers, spaces, hyphens, underscores, and dots are allowed"
	schemaMsgPersonName   = "Only letters, spaces, hyphens, apostrophes, and dots are allowed"
	schemaMsgLabName      = "Invalid lab name format"
	schemaMsgAmounts      = "Total amount doesn't match concentration × volume"
)

// Enumerations of contract section 3.
var (
	SampleTypes   = []string{"DNA", "RNA", "Protein", "Other"}
	Statuses      = []string{"submitted", "prep", "sequencing", "analysis", "completed", "archived"}
	Priorities    = []string{"low", "normal", "high", "urgent"}
	FlowCellTypes = []string{"R9.4.1", "R10.4.1", "R10.5.1", "Other"}
)

// amountsAgree is create's cross-field rule: when concentration, volume and
// totalAmount are all truthy, totalAmount must equal their product within
// 0.001 (JavaScript truthiness: zero, null and undefined are falsy).
func amountsAgree(x any) bool {
	o := x.(*v.Object)
	c, cOK := truthyNumber(o.Value("concentration"))
	vol, vOK := truthyNumber(o.Value("volume"))
	if !cOK || !vOK {
		return true
	}
	t, tOK := truthyNumber(o.Value("totalAmount"))
	return !tOK || !(math.Abs(c*vol-t) > 0.001) // NaN passes, as in JS
}

func truthyNumber(x any) (float64, bool) {
	f, ok := x.(float64)
	return f, ok && f != 0 && !math.IsNaN(f)
}

// Schemas maps each procedure that declares an input to its schema.
// Procedures absent from it (health, nanopore.getAll) take no input, which
// tRPC then never parses.
var Schemas = buildSchemas()

func buildSchemas() map[string]v.Schema {
	sampleName := v.String().Min(1, schemaMsgRequired).Max(255, schemaMsgMax255).
		Regex(schemaPatternAlphanumeric, schemaMsgAlphanumeric).Trim()
	projectID := v.Optional(v.String().Max(100, schemaMsgMax100).
		Regex(schemaPatternAlphanumeric, schemaMsgAlphanumeric).Trim())
	personName := v.String().Min(1, schemaMsgRequired).Max(255, schemaMsgMax255).
		Regex(schemaPatternPersonName, schemaMsgPersonName).Trim()
	email := v.Transform(v.String().Email(schemaMsgEmail), func(x any) any { return v.TrimJS(x.(string)) })
	labName := v.Optional(v.String().Max(255, schemaMsgMax255).
		Regex(schemaPatternLabName, schemaMsgLabName).Trim())
	sampleType := v.Enum(SampleTypes, v.Params{
		Required: schemaMsgRequired, InvalidType: "Sample type must be DNA, RNA, Protein, or Other"})
	sampleBuffer := v.Optional(v.String().Max(100, schemaMsgMax100).Trim())
	chartField := v.String().Min(1, schemaMsgRequired).Regex(schemaPatternChartField, schemaMsgChartField).Trim()
	// Number-or-null fields: three branches, so that a wrong type yields an
	// invalid_union whose unionErrors list number, null and undefined.
	concentration := v.Optional(v.Union(v.Number().
		Min(0.001, "Concentration must be at least 0.001 ng/μL").
		Max(10000, "Concentration cannot exceed 10,000 ng/μL"), v.Null(), v.UndefinedSchema()))
	volume := v.Optional(v.Union(v.Number().
		Min(0.1, "Volume must be at least 0.1 μL").
		Max(1000, "Volume cannot exceed 1,000 μL"), v.Null(), v.UndefinedSchema()))
	totalAmount := v.Optional(v.Number().
		Min(0.001, "Total amount must be at least 0.001 ng").
		Max(100000, "Total amount cannot exceed 100,000 ng"))
	flowCellCount := v.Default(v.Number().Int().
		Min(1, "Flow cell count must be at least 1").
		Max(10, "Flow cell count cannot exceed 10"), 1.0)
	status := v.Enum(Statuses, v.Params{Required: schemaMsgRequired, InvalidType: "Invalid status value"})
	priority := v.Default(v.Enum(Priorities, v.Params{
		Required: schemaMsgRequired, InvalidType: "Priority must be low, normal, high, or urgent"}), "normal")
	flowCellType := v.Optional(v.Enum(FlowCellTypes, v.Params{InvalidType: "Invalid flow cell type"}))
	defaultUUID := v.String().UUID()
	customUUID := v.String().UUID(schemaMsgUUID)
	createInput := v.Refine(v.Shape(
		v.F("sampleName", sampleName),
		v.F("projectId", projectID),
		v.F("submitterName", personName),
		v.F("submitterEmail", email),
		v.F("labName", labName),
		v.F("sampleType", sampleType),
		v.F("sampleBuffer", sampleBuffer),
		v.F("concentration", concentration),
		v.F("volume", volume),
		v.F("totalAmount", totalAmount),
		v.F("flowCellType", flowCellType),
		v.F("flowCellCount", flowCellCount),
		v.F("priority", priority),
		v.F("assignedTo", v.Optional(personName)),
		v.F("libraryPrepBy", v.Optional(personName)),
		v.F("chartField", chartField),
	), amountsAgree, schemaMsgAmounts, "totalAmount")

	// updateData: every field optional without defaults (Optional answers
	// undefined before an inner Default runs), plus status, minus chartField.
	updateData := v.Shape(
		v.F("sampleName", v.Optional(sampleName)),
		v.F("projectId", v.Optional(projectID)),
		v.F("submitterName", v.Optional(personName)),
		v.F("submitterEmail", v.Optional(email)),
		v.F("labName", v.Optional(labName)),
		v.F("sampleType", v.Optional(sampleType)),
		v.F("sampleBuffer", sampleBuffer),
		v.F("concentration", v.Optional(concentration)),
		v.F("volume", v.Optional(volume)),
		v.F("totalAmount", v.Optional(totalAmount)),
		v.F("flowCellType", v.Optional(flowCellType)),
		v.F("flowCellCount", v.Optional(flowCellCount)),
		v.F("status", v.Optional(status)),
		v.F("priority", v.Optional(priority)),
		v.F("assignedTo", v.Optional(personName)),
		v.F("libraryPrepBy", v.Optional(personName)),
	)

	return map[string]v.Schema{
		"nanopore.create": createInput,
		"nanopore.update": v.Shape(v.F("id", defaultUUID), v.F("data", updateData)),
		"nanopore.assign": v.Shape(
			v.F("id", customUUID),
			v.F("assignedTo", personName),
			v.F("libraryPrepBy", v.Optional(personName)),
		),
		"nanopore.updateStatus":                 v.Shape(v.F("id", customUUID), v.F("status", status)),
		"nanopore.delete":                       defaultUUID,
		"nanopore.getProcessingSteps":           defaultUUID,
		"nanopore.createDefaultProcessingSteps": defaultUUID,
		"nanopore.updateProcessingStep": v.Shape(
			v.F("stepId", defaultUUID),
			v.F("updates", v.Shape(
				v.F("assignedTo", v.Optional(v.String())),
				v.F("notes", v.Optional(v.String())),
				v.F("estimatedDurationHours", v.Optional(v.Number())),
				v.F("resultsData", v.Optional(v.Any())),
			)),
		),
		"nanopore.startProcessingStep": v.Shape(
			v.F("stepId", defaultUUID),
			v.F("assignedTo", v.Optional(v.String())),
		),
		"nanopore.completeProcessingStep": v.Shape(
			v.F("stepId", defaultUUID),
			v.F("notes", v.Optional(v.String())),
			v.F("resultsData", v.Optional(v.Any())),
		),
	}
}
