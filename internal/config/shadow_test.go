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

// shadowHolder stands for Config until it carries the Shadow field: the
// section must load through the same viper and mapstructure path.
type shadowHolder struct {
	Shadow Shadow `mapstructure:"shadow"`
}

func loadShadow(t *testing.T, yaml string, environ []string) (Shadow, Problems) {
	t.Helper()
	v := viper.New()
	v.SetConfigType("yaml")
	def := shadowHolder{Shadow: DefaultShadow()}
	setDefaults(v, reflect.ValueOf(def), "")
	if err := v.MergeConfig(bytes.NewReader([]byte(yaml))); err != nil {
		t.Fatal(err)
	}
	fv := viper.New()
	fv.SetConfigType("yaml")
	_ = fv.ReadConfig(bytes.NewReader([]byte(yaml)))
	probs := unknownKeys(fv.AllSettings(), reflect.TypeOf(def), "")
	probs = append(probs, applyEnv(v, environ, leafKeys(reflect.TypeOf(def), ""))...)
	out := shadowHolder{Shadow: DefaultShadow()}
	// ZeroFields: without it mapstructure decodes a list into the default
	// list element by element, so a configured rule would inherit the
	// fields of the shipped rule at the same index. load.go's decode needs
	// the same setting once Config carries Shadow.
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: &out, WeaklyTypedInput: true, ZeroFields: true,
		DecodeHook: mapstructure.ComposeDecodeHookFunc(durationHook, mapstructure.StringToSliceHookFunc(","))})
	if err != nil {
		t.Fatal(err)
	}
	probs = append(probs, decodeProblems(dec.Decode(v.AllSettings()))...)
	return out.Shadow, append(probs, out.Shadow.Problems()...)
}

func TestShadowDefaultsLoad(t *testing.T) {
	got, probs := loadShadow(t, "", nil)
	if len(probs) > 0 {
		t.Fatalf("defaults: %v", probs)
	}
	if !reflect.DeepEqual(got, DefaultShadow()) {
		t.Fatalf("defaults changed on the way through viper:\n got %+v\nwant %+v", got, DefaultShadow())
	}
}

func TestShadowFileAndEnvironment(t *testing.T) {
	yaml := `
shadow:
  workers: 8
  timeout: 2s
  rules:
    - route: "/api/monitoring"
      ignore: ["$.uptime", "$.memory"]
  accepted:
    - route: health
      path: "$.timestamp"
      reason: clocks differ
      owner: platform
      expires: "2030-01-01"
`
	got, probs := loadShadow(t, yaml, []string{"STRANGLER_SHADOW_QUEUE=10", "STRANGLER_SHADOW_RECORD_PER_ROUTE_PER_HOUR=5"})
	if len(probs) > 0 {
		t.Fatalf("problems: %v", probs)
	}
	if got.Workers != 8 || got.Timeout != 2*time.Second || got.Queue != 10 || got.Record.PerRoutePerHour != 5 {
		t.Fatalf("values: %+v", got)
	}
	want := []ShadowRule{{Route: "/api/monitoring", Ignore: []string{"$.uptime", "$.memory"}}}
	if !reflect.DeepEqual(got.Rules, want) || len(got.Accepted) != 1 || got.Accepted[0].Owner != "platform" || got.Accepted[0].LegacyMessage != "" {
		t.Fatalf("a configured list must replace the shipped one, not overlay it:\nrules %+v\naccepted %+v", got.Rules, got.Accepted)
	}
}

func TestShadowProblems(t *testing.T) {
	yaml := `
shadow:
  workers: 0
  relearn_fraction: 2
  redact:
    text_patterns: ["("]
  rules:
    - route: x
      ignore: ["uptime"]
      typo: 1
  accepted:
    - route: x
      path: "$.a"
      expires: someday
      within: 5m
`
	_, probs := loadShadow(t, yaml, nil)
	text := probs.Error()
	for _, want := range []string{
		"shadow.workers: must be at least 1", "shadow.relearn_fraction: must be a fraction",
		"shadow.redact.text_patterns[0]: not a regular expression", "shadow.rules[0].typo: unknown key",
		"shadow.rules[0].ignore[0]: path \"uptime\" must start with $", "shadow.accepted[0].reason:",
		"shadow.accepted[0].owner:", "shadow.accepted[0].expires:", "shadow.accepted[0].within:",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("problems lack %q:\n%s", want, text)
		}
	}
}
