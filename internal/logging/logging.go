// Package logging holds the proxy's log plumbing: a buffered writer that
// turns one write(2) per access-log line into one per batch.
package logging

import (
	"io"
	"sync"
	"time"
)

// BufferedWriter collects whole log lines and writes them in batches: when
// the buffer passes Size, and at least every Interval. zerolog writes one
// complete line per Write, so lines are never split. Up to Interval of
// lines can be lost if the process is killed; Close flushes everything.
type BufferedWriter struct {
	out  io.Writer
	size int

	mu     sync.Mutex
	buf    []byte
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

// NewBufferedWriter starts a writer that flushes to out every interval or
// when size bytes are waiting.
func NewBufferedWriter(out io.Writer, interval time.Duration, size int) *BufferedWriter {
	w := &BufferedWriter{out: out, size: size, buf: make([]byte, 0, size*2),
		stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop(interval)
	return w
}

// Write appends one line; it writes through at once if the buffer is full.
func (w *BufferedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.out.Write(p)
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= w.size {
		return len(p), w.flushLocked()
	}
	return len(p), nil
}

func (w *BufferedWriter) flushLocked() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.out.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}

// Flush writes what is waiting.
func (w *BufferedWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

func (w *BufferedWriter) loop(interval time.Duration) {
	defer close(w.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			_ = w.Flush()
		}
	}
}

// Close flushes and stops the flusher; later writes go straight through.
func (w *BufferedWriter) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	err := w.flushLocked()
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	return err
}
