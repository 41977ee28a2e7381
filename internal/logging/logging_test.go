package logging

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

type countingWriter struct {
	mu     sync.Mutex
	writes int
	buf    bytes.Buffer
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	return c.buf.Write(p)
}

func TestBufferedWriterBatchesWholeLinesAndFlushesOnClose(t *testing.T) {
	out := &countingWriter{}
	w := NewBufferedWriter(out, time.Hour, 1<<10)
	for i := 0; i < 100; i++ {
		if _, err := w.Write([]byte(`{"line":"` + strings.Repeat("x", 40) + `"}` + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	out.mu.Lock()
	writes := out.writes
	out.mu.Unlock()
	if writes == 0 || writes >= 20 {
		t.Errorf("100 lines took %d writes; want a few batches", writes)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.buf.String(), "\n"), "\n")
	if len(lines) != 100 {
		t.Fatalf("%d lines after Close, want 100", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, `{"line":`) || !strings.HasSuffix(l, `"}`) {
			t.Fatalf("a line was split: %q", l)
		}
	}
}

func TestBufferedWriterFlushesOnItsInterval(t *testing.T) {
	out := &countingWriter{}
	w := NewBufferedWriter(out, 10*time.Millisecond, 1<<20)
	defer w.Close()
	_, _ = w.Write([]byte("one line\n"))
	deadline := time.Now().Add(20 * time.Second)
	for {
		out.mu.Lock()
		got := out.buf.String()
		out.mu.Unlock()
		if got == "one line\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the line was never flushed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
