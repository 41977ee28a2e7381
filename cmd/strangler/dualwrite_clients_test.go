package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/testutil"
)

// dwClients are users writing samples through the proxy: creates (single
// and batched), updates, status changes, assigns, deletes, a batch that
// touches one sample three times, and concurrent updates of one shared
// "hot" sample.
type dwClients struct {
	t     *testing.T
	url   string
	hot   string
	phase atomic.Value // the mode the test last applied
	ops   atomic.Int64 // operations answered 200
	stop  chan struct{}
	wg    sync.WaitGroup
	http  *http.Client

	mu           sync.Mutex
	unexpected   []string
	connErrors   int
	createdInNew []string
}

func startClients(t *testing.T, url, hot, phase string, n int) *dwClients {
	c := &dwClients{t: t, url: url, hot: hot, stop: make(chan struct{}),
		http: &http.Client{Timeout: e2eTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	c.phase.Store(phase)
	for i := range n {
		c.wg.Add(1)
		go func() { defer c.wg.Done(); c.run(i) }()
	}
	t.Cleanup(c.halt)
	return c
}

// halt stops the clients and waits for them.
func (c *dwClients) halt() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	c.wg.Wait()
}

// waitOps waits until the clients made n more operations.
func (c *dwClients) waitOps(n int64) {
	c.t.Helper()
	target := c.ops.Load() + n
	testutil.Eventually(c.t, 3*time.Minute, fmt.Sprintf("%d client operations", n), func() bool { return c.ops.Load() >= target })
}

// thinkTime is how long a client leaves a sample it created before it
// changes it: none, the hardest case for a flip to new (the sample's
// converge may not have run yet; the service's missing-sample hook copies
// it from legacy).
const thinkTime = 0

// owned is a sample a client created.
type owned struct {
	id string
	at time.Time
}

func (c *dwClients) run(id int) {
	var live []owned
	for i := 0; ; i++ {
		select {
		case <-c.stop:
			return
		default:
		}
		before := c.phase.Load().(string)
		ids, ok := c.step(id, i, &live)
		if ok && before == "new" && c.phase.Load().(string) == "new" {
			c.mu.Lock()
			c.createdInNew = append(c.createdInNew, ids...)
			c.mu.Unlock()
		}
	}
}

// step makes one operation; it returns the ids a create made.
func (c *dwClients) step(id, i int, live *[]owned) ([]string, bool) {
	ready := 0 // live is in creation order: the first ready ones are old enough
	for ready < len(*live) && time.Since((*live)[ready].at) >= thinkTime {
		ready++
	}
	own := func() string { return (*live)[i%ready].id }
	if ready < 2 || i%10 < 2 || i%10 >= 8 {
		ids, ok := c.create(fmt.Sprintf("c%d-%d", id, i), i%3 == 0)
		for _, x := range ids {
			*live = append(*live, owned{x, time.Now()})
		}
		return ids, ok
	}
	switch i % 10 {
	case 2:
		c.post(`{"id":"`+own()+`","data":{"volume":`+fmt.Sprint(i%50+1)+`,"sampleBuffer":"TE"}}`, "nanopore.update")
	case 3:
		c.post(`{"id":"`+own()+`","status":"`+[]string{"prep", "sequencing", "completed"}[i%3]+`"}`, "nanopore.updateStatus")
	case 4:
		c.post(`{"id":"`+own()+`","assignedTo":"Al Smith"}`, "nanopore.assign")
	case 5:
		x := own()
		c.post(`{"0":{"id":"`+x+`","assignedTo":"Bo Lee","libraryPrepBy":"Cy Ray"},"1":{"id":"`+x+`","status":"prep"},"2":{"id":"`+x+`","data":{"priority":"high"}}}`,
			"nanopore.assign", "nanopore.updateStatus", "nanopore.update")
	case 6:
		c.post(`{"id":"`+c.hot+`","data":{"priority":"`+[]string{"low", "normal", "high", "urgent"}[i%4]+`"}}`, "nanopore.update")
	case 7:
		if ready > 3 {
			c.post(`"`+(*live)[0].id+`"`, "nanopore.delete")
			*live = (*live)[1:]
		}
	}
	return nil, false
}

// create makes one sample (or two in a batch) and returns their ids.
func (c *dwClients) create(name string, batch bool) ([]string, bool) {
	in := fmt.Sprintf(`{"sampleName":%q,"submitterName":"Jo Smith","submitterEmail":"%s.update@lab.org","sampleType":"DNA","chartField":"SEQ-001","concentration":1.5,"volume":2}`,
		name, strings.ReplaceAll(name, "-", ""))
	if !batch {
		body, ok := c.post(in, "nanopore.create")
		var env struct {
			Result struct{ Data struct{ ID string } } `json:"result"`
		}
		if !ok || json.Unmarshal(body, &env) != nil || env.Result.Data.ID == "" {
			return nil, false
		}
		return []string{env.Result.Data.ID}, true
	}
	body, ok := c.post(`{"0":`+in+`,"1":`+strings.Replace(in, name, name+"b", 1)+`}`, "nanopore.create", "nanopore.create")
	var envs []struct {
		Result struct{ Data struct{ ID string } } `json:"result"`
	}
	if !ok || json.Unmarshal(body, &envs) != nil || len(envs) != 2 {
		return nil, false
	}
	return []string{envs[0].Result.Data.ID, envs[1].Result.Data.ID}, true
}

// post sends a tRPC mutation (a batch for several procedures); it notes
// an unexpected answer, or a connection error (a killed proxy).
func (c *dwClients) post(body string, procs ...string) ([]byte, bool) {
	path := c.url + "/api/trpc/" + strings.Join(procs, ",")
	if len(procs) > 1 {
		path += "?batch=1"
	}
	resp, err := c.http.Post(path, "application/json", strings.NewReader(body))
	if err != nil {
		var op *net.OpError
		c.mu.Lock()
		defer c.mu.Unlock()
		if errors.As(err, &op) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			c.connErrors++
			time.Sleep(20 * time.Millisecond) // the proxy is down: do not spin
		} else {
			c.unexpected = append(c.unexpected, err.Error())
		}
		return nil, false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		c.mu.Lock()
		defer c.mu.Unlock()
		if err != nil {
			c.connErrors++
		} else {
			c.unexpected = append(c.unexpected, fmt.Sprintf("%s (%s) in %s: %d %s", strings.Join(procs, ","), body,
				c.phase.Load(), resp.StatusCode, b))
		}
		return nil, false
	}
	c.ops.Add(1)
	return b, true
}

// report returns the unexpected answers and the connection errors.
func (c *dwClients) report() ([]string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.unexpected...), c.connErrors
}
