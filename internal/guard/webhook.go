package guard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/nanopore/strangler/internal/config"
)

// webhook posts each trip as JSON to a configured URL from its own
// goroutine, with a bounded timeout and retries; a full queue drops the
// call (counted) rather than wait.
type webhook struct {
	cfg    config.GuardWebhook
	client *http.Client
	log    zerolog.Logger
	result *prometheus.CounterVec
	queue  chan Event
}

// WebhookPayload is the body posted: the event, plus a one-line text that
// chat webhooks (Slack, Mattermost) show as is.
type WebhookPayload struct {
	Text string `json:"text"`
	Event
}

func newWebhook(cfg config.GuardWebhook, client *http.Client, log zerolog.Logger, result *prometheus.CounterVec) *webhook {
	return &webhook{cfg: cfg, client: client, log: log, result: result, queue: make(chan Event, 64)}
}

func (h *webhook) enqueue(e Event) {
	if h.cfg.URL == "" {
		return
	}
	select {
	case h.queue <- e:
	default:
		h.result.WithLabelValues("dropped").Inc()
	}
}

// run delivers queued events until quit closes.
func (h *webhook) run(quit <-chan struct{}) {
	for {
		select {
		case <-quit:
			return
		case e := <-h.queue:
			h.deliver(quit, e)
		}
	}
}

func (h *webhook) deliver(quit <-chan struct{}, e Event) {
	body, _ := json.Marshal(WebhookPayload{Event: e, Text: fmt.Sprintf("strangler guard rolled %v back to legacy: %s",
		e.RolledBack, e.reason())})
	wait := h.cfg.Backoff
	var err error
	for attempt := 0; attempt <= h.cfg.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-quit:
				return
			case <-time.After(wait):
			}
			wait *= 2
		}
		var retry bool
		if retry, err = h.post(body); err == nil {
			h.result.WithLabelValues("sent").Inc()
			return
		} else if !retry {
			break
		}
	}
	h.result.WithLabelValues("failed").Inc()
	h.log.Error().Err(err).Str("route", e.Route).Msg("guard: webhook not delivered")
}

// post sends one attempt; retry says whether another attempt may help
// (network errors, 429, 5xx).
func (h *webhook) post(body []byte) (retry bool, err error) {
	req, err := http.NewRequest(http.MethodPost, h.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "strangler-guard")
	resp, err := h.client.Do(req)
	if err != nil {
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return false, fmt.Errorf("webhook answered %d", resp.StatusCode)
}
