package dualwrite

// Samples is the Spec of the write group "samples": every nanopore.*
// mutation, the legacy tables of contract section 8 in schema public and
// their copies in schema samples (migrations/samples). The aggregate is a
// sample with its processing steps, details and attachments.
var Samples = &Spec{
	Group:        "samples",
	Service:      "samples",
	LegacySchema: "public",
	NewSchema:    "samples",
	Outbox:       "outbox",
	Sweep:        "submitted_at",
	Tables: []Table{
		{Name: "nanopore_samples", Key: "id", Version: "updated_at", Columns: []string{
			"id", "sample_name", "project_id", "submitter_name", "submitter_email", "lab_name",
			"sample_type", "sample_buffer", "concentration", "volume", "total_amount",
			"flow_cell_type", "flow_cell_count", "status", "priority", "assigned_to",
			"library_prep_by", "submitted_at", "started_at", "completed_at", "created_at",
			"updated_at", "created_by", "chart_field"}},
		{Name: "nanopore_processing_steps", Key: "id", Parent: "sample_id", Version: "updated_at", Columns: []string{
			"id", "sample_id", "step_name", "step_status", "assigned_to", "started_at",
			"completed_at", "estimated_duration_hours", "notes", "results_data", "created_at",
			"updated_at"}},
		{Name: "nanopore_sample_details", Key: "id", Parent: "sample_id", Version: "updated_at", Columns: []string{
			"id", "sample_id", "organism", "genome_size", "expected_read_length",
			"library_prep_kit", "barcoding_required", "barcode_kit", "run_time_hours",
			"basecalling_model", "data_delivery_method", "file_format", "analysis_required",
			"analysis_type", "qc_passed", "qc_notes", "special_instructions", "internal_notes",
			"created_at", "updated_at"}},
		{Name: "nanopore_attachments", Key: "id", Parent: "sample_id", Columns: []string{
			"id", "sample_id", "file_name", "file_type", "file_size_bytes", "file_path",
			"description", "uploaded_by", "uploaded_at", "created_at"}},
	},
	Procedures: map[string]Procedure{
		"nanopore.create":                       {Table: "nanopore_samples", Creates: true},
		"nanopore.update":                       {Table: "nanopore_samples", InputKey: "id"},
		"nanopore.assign":                       {Table: "nanopore_samples", InputKey: "id"},
		"nanopore.updateStatus":                 {Table: "nanopore_samples", InputKey: "id"},
		"nanopore.delete":                       {Table: "nanopore_samples"},
		"nanopore.createDefaultProcessingSteps": {Table: "nanopore_samples"},
		"nanopore.updateProcessingStep":         {Table: "nanopore_processing_steps", InputKey: "stepId"},
		"nanopore.startProcessingStep":          {Table: "nanopore_processing_steps", InputKey: "stepId"},
		"nanopore.completeProcessingStep":       {Table: "nanopore_processing_steps", InputKey: "stepId"},
	},
}

// Specs are the write groups the machinery knows, by group name.
var Specs = map[string]*Spec{Samples.Group: Samples}
