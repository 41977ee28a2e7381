package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// kind is one request type of the pinned mix.
type kind int

const (
	kHealth kind = iota // single-procedure tRPC read (route health, shadow)
	kPage               // a page (legacy passthrough)
	kGetAll             // nanopore.getAll over the held table (shadow)
	kCreate             // nanopore.create (dual write)
	kDelete             // nanopore.delete of a sample this run created (dual write)
	numKinds
)

var kindNames = [numKinds]string{"health", "page", "getAll", "create", "delete"}

// mix is the pinned order of 20 requests: 70% single-procedure reads and
// pages (7 health, 7 pages), 10% getAll, 20% writes (2 creates, 2 deletes
// of what the run created, so the table stays at its seeded size).
var mix = [20]kind{
	kHealth, kPage, kCreate, kHealth, kPage, kGetAll, kHealth, kPage, kDelete, kHealth,
	kPage, kCreate, kHealth, kPage, kHealth, kGetAll, kPage, kDelete, kHealth, kPage,
}

const createBody = `{"sampleName":"Soak Sample","projectId":"PRJ-9","submitterName":"Ann O'Neil",` +
	`"submitterEmail":"ann.oneil@lab.org","labName":"Genomics Lab","sampleType":"DNA","sampleBuffer":"TE",` +
	`"concentration":12.5,"volume":20,"totalAmount":250,"flowCellType":"R10.4.1","flowCellCount":2,` +
	`"priority":"high","assignedTo":"Kim Park","libraryPrepBy":"Lee Wong","chartField":"HTSF-001"}`

// maxInFlight bounds the open loop: beyond it a request is counted as not
// sent (the proxy is not keeping up) instead of piling up goroutines.
const maxInFlight = 2000

// load sends the mix at a fixed rate and tallies every answer.
type load struct {
	base     string
	client   *http.Client
	created  chan string // ids this run created and has not deleted yet
	tally    *tally
	inFlight atomic.Int64
}

// tally counts answers; interval figures are taken and reset by take.
type tally struct {
	mu        sync.Mutex
	sent      [numKinds]int64
	errs      [numKinds]int64
	skipped   int64
	lat       []time.Duration
	total     [numKinds]int64
	totalErrs [numKinds]int64
	examples  []string
}

func (t *tally) add(k kind, d time.Duration, errText string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sent[k]++
	t.total[k]++
	t.lat = append(t.lat, d)
	if errText != "" {
		t.errs[k]++
		t.totalErrs[k]++
		if len(t.examples) < 20 {
			t.examples = append(t.examples, kindNames[k]+": "+errText)
		}
	}
}

// interval is one sampling period's traffic.
type interval struct {
	sent, errs int64
	p50, p99   time.Duration
}

func (t *tally) take() interval {
	t.mu.Lock()
	defer t.mu.Unlock()
	var iv interval
	for k := range numKinds {
		iv.sent += t.sent[k]
		iv.errs += t.errs[k]
		t.sent[k], t.errs[k] = 0, 0
	}
	if len(t.lat) > 0 {
		slices.Sort(t.lat)
		iv.p50 = t.lat[len(t.lat)/2]
		iv.p99 = t.lat[(len(t.lat)*99)/100]
	}
	t.lat = t.lat[:0]
	return iv
}

// run sends rate requests per second on a fixed schedule until ctx ends,
// then waits for the answers.
func (l *load) run(ctx context.Context, rate int) {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-tick.C:
		}
		if l.inFlight.Load() >= maxInFlight {
			l.tally.mu.Lock()
			l.tally.skipped++
			l.tally.mu.Unlock()
			continue
		}
		l.inFlight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer l.inFlight.Add(-1)
			l.one(mix[i%len(mix)], i)
		}()
	}
}

// one sends one request of kind k and tallies it.
func (l *load) one(k kind, i int) {
	method, path, body := http.MethodGet, "", ""
	switch k {
	case kHealth:
		path = "/api/trpc/health"
	case kPage:
		path = []string{"/", "/nanopore"}[i/len(mix)%2]
	case kGetAll:
		path = "/api/trpc/nanopore.getAll"
	case kCreate:
		method, path, body = http.MethodPost, "/api/trpc/nanopore.create", createBody
	case kDelete:
		select {
		case id := <-l.created:
			method, path, body = http.MethodPost, "/api/trpc/nanopore.delete", `"`+id+`"`
		default: // nothing created yet: create instead
			k, method, path, body = kCreate, http.MethodPost, "/api/trpc/nanopore.create", createBody
		}
	}
	start := time.Now()
	answer, err := l.do(method, path, body)
	d := time.Since(start)
	if err == nil && k == kCreate {
		var v struct {
			Result struct {
				Data struct {
					ID string `json:"id"`
				} `json:"data"`
			} `json:"result"`
		}
		if jerr := json.Unmarshal(answer, &v); jerr != nil || v.Result.Data.ID == "" {
			err = fmt.Errorf("create answered no id: %.200s", answer)
		} else {
			l.created <- v.Result.Data.ID
		}
	}
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	l.tally.add(k, d, msg)
}

func (l *load) do(method, path, body string) ([]byte, error) {
	req, err := http.NewRequest(method, l.base+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return b, fmt.Errorf("%s %s: %d %.200s", method, path, resp.StatusCode, b)
	}
	return b, nil
}
