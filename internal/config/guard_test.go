package config

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// guardHolder stands for Config until it carries the Guard field.
type guardHolder struct {
	Guard Guard `mapstructure:"guard"`
}

// loadGuard runs yaml and environ through the path Load takes (defaults,
// file, unknown keys, environment, decode with ZeroFields) into a Guard.
func loadGuard(t *testing.T, yaml string, environ []string) (Guard, Problems) {
	t.Helper()
	def := guardHolder{Guard: DefaultGuard()}
	v := viper.New()
	v.SetConfigType("yaml")
	setDefaults(v, reflect.ValueOf(def), "")
	if err := v.MergeConfig(strings.NewReader(yaml)); err != nil {
		t.Fatal(err)
	}
	fv := viper.New()
	fv.SetConfigType("yaml")
	_ = fv.ReadConfig(bytes.NewReader([]byte(yaml)))
	probs := unknownKeys(fv.AllSettings(), reflect.TypeOf(def), "")
	probs = append(probs, applyEnv(v, environ, leafKeys(reflect.TypeOf(def), ""))...)
	out := guardHolder{Guard: DefaultGuard()}
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: &out, WeaklyTypedInput: true, ZeroFields: true,
		DecodeHook: mapstructure.ComposeDecodeHookFunc(durationHook, mapstructure.StringToSliceHookFunc(","))})
	if err != nil {
		t.Fatal(err)
	}
	probs = append(probs, decodeProblems(dec.Decode(v.AllSettings()))...)
	return out.Guard, append(probs, out.Guard.Problems()...)
}

func TestGuardDefaultsLoad(t *testing.T) {
	got, probs := loadGuard(t, "", nil)
	if len(probs) > 0 {
		t.Fatalf("defaults: %v", probs)
	}
	if !reflect.DeepEqual(got, DefaultGuard()) {
		t.Fatalf("defaults changed on the way through viper:\n got %+v\nwant %+v", got, DefaultGuard())
	}
}

func TestGuardOverridesAndEnvironment(t *testing.T) {
	yaml := `
guard:
  defaults:
    window: 45s
  routes:
    - route: "nanopore.get*"
      latency_ratio: 0
      window: 2m
      breaker_open: true
    - route: "files.*"
      off: true
  normal_errors:
    - procedure: nanopore.delete
      messages: ["Sample with ID"]
`
	g, probs := loadGuard(t, yaml, []string{"STRANGLER_GUARD_DEFAULTS_ERROR_RATE=0.5"})
	if len(probs) > 0 {
		t.Fatalf("problems: %v", probs)
	}
	r, on := g.Rule("nanopore.getAll")
	want := DefaultGuard().Defaults
	want.Window, want.ErrorRate, want.LatencyRatio, want.BreakerOpen = 2*time.Minute, 0.5, 0, true
	if !on || r != want {
		t.Fatalf("nanopore.getAll: %+v (on %v), want %+v", r, on, want)
	}
	if r, on := g.Rule("nanopore.update"); !on || r.Window != 45*time.Second || r.LatencyRatio != 4 {
		t.Fatalf("nanopore.update keeps the defaults: %+v", r)
	}
	if _, on := g.Rule("files.list"); on {
		t.Fatal("files.list is off")
	}
	if len(g.NormalErrors) != 1 || g.NormalErrors[0].Procedure != "nanopore.delete" {
		t.Fatalf("a configured list replaces the shipped one: %+v", g.NormalErrors)
	}
}

func TestGuardProblems(t *testing.T) {
	yaml := `
guard:
  flush_interval: 0s
  defaults:
    window: 1h
    error_rate: 1.5
    min_samples: 0
  routes:
    - route: "["
      latency_ratio: 0.5
  normal_errors:
    - procedure: x
      side: both
  webhook:
    url: ftp://x
  unknown: 1
`
	_, probs := loadGuard(t, yaml, nil)
	keys := map[string]bool{}
	for _, p := range probs {
		keys[p.Key] = true
	}
	for _, k := range []string{"guard.flush_interval", "guard.defaults.window", "guard.defaults.error_rate",
		"guard.defaults.min_samples", "guard.routes[0].route", "guard.routes[0].latency_ratio",
		"guard.normal_errors[0].messages", "guard.normal_errors[0].side", "guard.webhook.url", "guard.unknown"} {
		if !keys[k] {
			t.Errorf("no problem reported for %s; got %v", k, probs)
		}
	}
}

// TestGuardShippedDefaultsFailFast: the defaults' arithmetic behind "a
// fully failing new side at 10 requests/s rolls back within 30 s" (the
// guard package's tests show it on recorded events).
func TestGuardShippedDefaultsFailFast(t *testing.T) {
	g := DefaultGuard()
	d := g.Defaults
	fill := time.Duration(d.MinSamples) * time.Second / 10 // 10 requests/s
	if worst := fill + g.FlushInterval + g.EvaluateInterval; worst > 30*time.Second || d.Window < fill {
		t.Fatalf("a fully failing new side trips after up to %s", worst)
	}
	if d.MinSamples > g.Breaker.ConsecutiveFailures {
		t.Fatal("the breaker would divert safe requests before the error rate has its minimum samples")
	}
}
