package samples

import (
	"github.com/nanopore/strangler/internal/validate"
)

// The decoders read validated inputs (validate's value model, shaped by
// schemas.go) into the typed inputs of the data layer. Validation already
// guaranteed every type, so a value of another type can only be absent.
// Strings pass through wellFormed: the value model keeps lone surrogates,
// which node-postgres would have sent as U+FFFD.

// str returns o[key] as a string, "" when absent.
func str(o *validate.Object, key string) string {
	if o == nil {
		return ""
	}
	s, _ := o.String(key)
	return wellFormed(s)
}

// optStr returns o[key] as a string, nil when absent.
func optStr(o *validate.Object, key string) *string {
	s, ok := o.String(key)
	if !ok {
		return nil
	}
	s = wellFormed(s)
	return &s
}

// num returns o[key] as a number, 0 when absent or null.
func num(o *validate.Object, key string) float64 {
	f, _ := o.Number(key)
	return f
}

// optNum returns o[key] as a number, nil when absent.
func optNum(o *validate.Object, key string) *float64 {
	f, ok := o.Number(key)
	if !ok {
		return nil
	}
	return &f
}

// nullableNum tells absent, null and a number apart.
func nullableNum(o *validate.Object, key string) Number {
	switch x := o.Value(key).(type) {
	case float64:
		return Number{Set: true, Value: x}
	case nil:
		return Number{Set: true, Null: true}
	}
	return Number{}
}

func createInput(o *validate.Object) CreateInput {
	return CreateInput{
		SampleName:     str(o, "sampleName"),
		ProjectID:      str(o, "projectId"),
		SubmitterName:  str(o, "submitterName"),
		SubmitterEmail: str(o, "submitterEmail"),
		LabName:        str(o, "labName"),
		SampleType:     str(o, "sampleType"),
		SampleBuffer:   str(o, "sampleBuffer"),
		Concentration:  num(o, "concentration"),
		Volume:         num(o, "volume"),
		TotalAmount:    num(o, "totalAmount"),
		FlowCellType:   str(o, "flowCellType"),
		FlowCellCount:  int(num(o, "flowCellCount")),
		Priority:       str(o, "priority"),
		AssignedTo:     str(o, "assignedTo"),
		LibraryPrepBy:  str(o, "libraryPrepBy"),
		ChartField:     str(o, "chartField"),
	}
}

func updateInput(o *validate.Object) UpdateInput {
	d, _ := o.Value("data").(*validate.Object)
	if d == nil {
		return UpdateInput{ID: str(o, "id")}
	}
	var count *int
	if f := optNum(d, "flowCellCount"); f != nil {
		n := int(*f)
		count = &n
	}
	return UpdateInput{ID: str(o, "id"), Data: UpdateData{
		SampleName:     optStr(d, "sampleName"),
		ProjectID:      optStr(d, "projectId"),
		SubmitterName:  optStr(d, "submitterName"),
		SubmitterEmail: optStr(d, "submitterEmail"),
		LabName:        optStr(d, "labName"),
		SampleType:     optStr(d, "sampleType"),
		SampleBuffer:   optStr(d, "sampleBuffer"),
		Concentration:  nullableNum(d, "concentration"),
		Volume:         nullableNum(d, "volume"),
		TotalAmount:    optNum(d, "totalAmount"),
		FlowCellType:   optStr(d, "flowCellType"),
		FlowCellCount:  count,
		Status:         optStr(d, "status"),
		Priority:       optStr(d, "priority"),
		AssignedTo:     optStr(d, "assignedTo"),
		LibraryPrepBy:  optStr(d, "libraryPrepBy"),
	}}
}

func stepUpdates(v any) StepUpdates {
	o, _ := v.(*validate.Object)
	if o == nil {
		return StepUpdates{}
	}
	return StepUpdates{
		AssignedTo:             optStr(o, "assignedTo"),
		Notes:                  optStr(o, "notes"),
		EstimatedDurationHours: optNum(o, "estimatedDurationHours"),
		ResultsData:            rawJSON(o.Value("resultsData")),
	}
}

// rawJSON is JSON.stringify(v) (what node-postgres sends for an object),
// nil when v is undefined.
func rawJSON(v any) []byte {
	if v == validate.Undefined {
		return nil
	}
	return validate.AppendValue(nil, v)
}
