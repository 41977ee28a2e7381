package samples_test

import (
	"fmt"
	"time"

	"github.com/nanopore/strangler/internal/services/samples"
)

// Timestamps read like the legacy app's JSON: UTC, milliseconds truncated.
func ExampleFormatTime() {
	t := time.Date(2026, 11, 28, 11, 2, 57, 525999000, time.FixedZone("CET", 3600))
	fmt.Println(samples.FormatTime(t))
	// Output: 2026-11-28T10:02:57.525Z
}
