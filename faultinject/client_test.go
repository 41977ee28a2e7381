//go:build faultinject

package faultinject

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// answer is what a user got for one request.
type answer struct {
	what   string // read or write
	status int
	body   []byte
	id     string // X-Request-Id: the proxy's id, also seen by the sides
	err    error
}

// failed says whether the user saw an error: no answer, an error status,
// or a tRPC error entry inside a successful status.
func (a answer) failed() bool {
	return a.err != nil || a.status >= 400 || bytes.Contains(a.body, []byte(`"error":{`))
}

var client = &http.Client{Timeout: waitLong, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// do sends one request through the proxy; extra are "Name: value" headers.
func (e *env) do(what, method, path, body string, extra ...string) answer {
	req, err := http.NewRequest(method, e.proxy.PublicURL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range extra {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	a := answer{what: what}
	resp, err := client.Do(req)
	if err != nil {
		a.err = err
		return a
	}
	defer resp.Body.Close()
	a.status, a.id = resp.StatusCode, resp.Header.Get("X-Request-Id")
	a.body, a.err = io.ReadAll(resp.Body)
	return a
}

// seen collects answers from several workers.
type seen struct {
	mu  sync.Mutex
	all []answer
}

func (l *seen) add(a answer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, a)
}

func (l *seen) answers() []answer {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]answer(nil), l.all...)
}

// drive runs workers in a closed loop, each calling send with a request
// number, until stop says so (checked before every request).
func drive(workers int, stop func() bool, send func(n int)) {
	var n atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop() {
				send(int(n.Add(1)))
			}
		}()
	}
	wg.Wait()
}

// after returns a stop function that is true once n requests were started.
func after(n int) func() bool {
	var c atomic.Int64
	return func() bool { return c.Add(1) > int64(n) }
}

// metric returns the value of one series of the proxy's /metrics whose
// labels include every given "name=value" pair (summed over the rest).
func (e *env) metric(name string, labels ...string) (float64, bool) {
	e.t.Helper()
	resp, err := http.Get(e.proxy.AdminURL + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	var sum float64
	found := false
	for sc.Scan() {
		line := sc.Text()
		series, value, ok := strings.Cut(line, " ")
		if !ok || series != name && !strings.HasPrefix(series, name+"{") {
			continue
		}
		match := true
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			match = match && strings.Contains(series, k+`="`+v+`"`)
		}
		if match {
			f, _ := strconv.ParseFloat(value, 64)
			sum += f
			found = true
		}
	}
	return sum, found
}

// accessLine is one line of the proxy's JSON access log.
type accessLine struct {
	Message    string  `json:"message"`
	RequestID  string  `json:"request_id"`
	Route      string  `json:"route"`
	Target     string  `json:"target"`
	Status     int     `json:"status"`
	DurationMS float64 `json:"duration_ms"`
}

// accessLog reads the proxy's access log by request id. The proxy batches
// log writes (100 ms), so callers wait for the ids they need.
func (e *env) accessLog() map[string]accessLine {
	out := map[string]accessLine{}
	for line := range strings.Lines(e.proxy.Output()) {
		var l accessLine
		if json.Unmarshal([]byte(line), &l) == nil && l.Message == "request" {
			out[l.RequestID] = l
		}
	}
	return out
}

// goroutines reads go_goroutines of the proxy once it has been steady for
// a while: the same value over 10 reads 200 ms apart (idle connections
// close within the test's upstream idle timeout).
func (e *env) goroutines() float64 {
	e.t.Helper()
	client.CloseIdleConnections()
	var last float64
	same := 0
	deadline := time.Now().Add(waitLong)
	for same < 10 && time.Now().Before(deadline) {
		v, _ := e.metric("go_goroutines")
		if v == last {
			same++
		} else {
			last, same = v, 0
		}
		time.Sleep(200 * time.Millisecond)
	}
	return last
}

// until returns a stop function for drive: true once done is set, or once
// limit requests were started (a ceiling; the caller then fails).
func until(done *atomic.Bool, limit int) func() bool {
	stop := after(limit)
	return func() bool { return done.Load() || stop() }
}
