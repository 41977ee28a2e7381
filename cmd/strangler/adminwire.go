package main

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/nanopore/strangler/internal/admin"
)

// openAdmin builds the admin listener's handler: health, readiness,
// metrics, the admin API and (as it arrives) the console.
func (m *Main) openAdmin() {
	m.admin = admin.New(admin.Options{Gatherer: m.Registry, Health: m.health, Logger: m.Logger,
		Control: m.control, Authorize: m.authorize})
}

// authorize admits admin API callers with an admin token (bearer).
func (m *Main) authorize(r *http.Request) (string, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !m.router.ValidToken(tok) {
		return "", false
	}
	sum := sha256.Sum256([]byte(tok))
	return "token:" + hex.EncodeToString(sum[:4]), true
}
