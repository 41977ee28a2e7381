package samples

// The inputs are the procedures' validated inputs: what zod's schemas of
// the legacy app hand to its service after their transforms (strings
// trimmed, defaults applied, unknown keys stripped). Validation itself
// happens before (schemas.go); these types only carry the values.

// CreateInput is the input of nanopore.create (contract 4.3). An empty
// optional string, a zero decimal and a zero count mean "not given", which is
// also how legacy stores them (`value || null`, `count || 1`).
type CreateInput struct {
	SampleName     string
	ProjectID      string
	SubmitterName  string
	SubmitterEmail string
	LabName        string
	SampleType     string
	SampleBuffer   string
	Concentration  float64
	Volume         float64
	TotalAmount    float64
	FlowCellType   string
	FlowCellCount  int
	Priority       string
	AssignedTo     string
	LibraryPrepBy  string
	ChartField     string
}

// Number is an optional JSON number that may also be null: update can set
// concentration and volume to NULL, which nil alone could not say.
type Number struct {
	Set   bool // the key was given
	Null  bool // the value was null
	Value float64
}

// UpdateData is the data object of nanopore.update (contract 4.4): every
// field optional, nil when absent; chartField cannot be changed.
type UpdateData struct {
	SampleName     *string
	ProjectID      *string
	SubmitterName  *string
	SubmitterEmail *string
	LabName        *string
	SampleType     *string
	SampleBuffer   *string
	Concentration  Number
	Volume         Number
	TotalAmount    *float64
	FlowCellType   *string
	FlowCellCount  *int
	Status         *string
	Priority       *string
	AssignedTo     *string
	LibraryPrepBy  *string
}

// UpdateInput is the input of nanopore.update.
type UpdateInput struct {
	ID   string
	Data UpdateData
}

// AssignInput is the input of nanopore.assign (contract 4.5). An empty
// LibraryPrepBy clears the column, as legacy does when it is omitted.
type AssignInput struct {
	ID            string
	AssignedTo    string
	LibraryPrepBy string
}

// UpdateStatusInput is the input of nanopore.updateStatus (contract 4.6).
type UpdateStatusInput struct {
	ID     string
	Status string
}

// StepUpdates is the updates object of nanopore.updateProcessingStep; nil
// fields are left alone. ResultsData is raw JSON (nil when absent; the JSON
// literal null clears the column).
type StepUpdates struct {
	AssignedTo             *string
	Notes                  *string
	EstimatedDurationHours *float64
	ResultsData            []byte
}

// UpdateStepInput is the input of nanopore.updateProcessingStep.
type UpdateStepInput struct {
	StepID  string
	Updates StepUpdates
}

// StartStepInput is the input of nanopore.startProcessingStep; an empty
// AssignedTo clears the column (`assignedTo || null`).
type StartStepInput struct {
	StepID     string
	AssignedTo string
}

// CompleteStepInput is the input of nanopore.completeProcessingStep. Empty
// notes and a falsy ResultsData (absent, null, false, 0, "") clear the
// columns, as `notes || null` and `resultsData || null` would.
type CompleteStepInput struct {
	StepID      string
	Notes       string
	ResultsData []byte
}
