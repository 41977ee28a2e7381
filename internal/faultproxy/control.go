package faultproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Control is the proxy's control API, served on a listener of its own:
//
//	GET    /faults            the faults in force
//	PUT    /faults            replace them (a JSON array of Fault)
//	DELETE /faults            remove them all
//	GET    /events?since=N    requests recorded after sequence number N
func (p *Proxy) Control() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, p.Faults()) })
	mux.HandleFunc("PUT /faults", func(w http.ResponseWriter, r *http.Request) {
		var faults []Fault
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&faults); err != nil {
			http.Error(w, "faults: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := p.Set(faults...); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, r *http.Request) {
		_ = p.Set()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		since, _ := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
		events := p.Events(since)
		if events == nil {
			events = []Event{}
		}
		writeJSON(w, events)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Client drives a proxy's control API (a faultproxy process).
type Client struct {
	// URL is the control listener's base URL.
	URL  string
	HTTP *http.Client
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// Set replaces the proxy's faults (none: plain forwarding).
func (c *Client) Set(ctx context.Context, faults ...Fault) error {
	if faults == nil {
		faults = []Fault{}
	}
	body, err := json.Marshal(faults)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPut, "/faults", body, nil)
}

// Clear removes every fault.
func (c *Client) Clear(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/faults", nil, nil)
}

// Events returns the requests recorded after sequence number since.
func (c *Client) Events(ctx context.Context, since int64) ([]Event, error) {
	var out []Event
	err := c.do(ctx, http.MethodGet, "/events?since="+strconv.FormatInt(since, 10), nil, &out)
	return out, err
}

func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http().Do(req)
	if err != nil {
		return fmt.Errorf("faultproxy control %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("faultproxy control %s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}
