// Package testutil holds the helpers that tests across packages share: a
// fresh PostgreSQL database per test, the legacy stand-in as a real process,
// and waiting on conditions instead of sleeping.
package testutil
