package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// EnvPrefix prefixes every environment variable that overrides a key.
const EnvPrefix = "STRANGLER"

// DefaultPath is where the shipped configuration lives, relative to the
// working directory.
const DefaultPath = "config/strangler.yaml"

// Problem is one invalid or unknown key.
type Problem struct {
	Key    string
	Reason string
}

func (p Problem) String() string { return p.Key + ": " + p.Reason }

// Problems is every problem found while loading; it is the error Load returns.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Source says where the configuration comes from.
type Source struct {
	// Path is the YAML file; empty means DefaultPath.
	Path string
	// Explicit is true when the user named the file, so a missing file is an
	// error; the default path may be missing (then only defaults and env apply).
	Explicit bool
	// Environ is the process environment (os.Environ()); tests pass their own.
	Environ []string
}

// Load reads, merges, decodes and validates the configuration. On failure the
// error is a Problems value listing every problem at once.
func Load(src Source) (*Config, error) {
	if src.Path == "" {
		src.Path = DefaultPath
	}
	v := viper.New()
	v.SetConfigType("yaml")
	def := Default()
	leaves := leafKeys(reflect.TypeOf(def), "")
	setDefaults(v, reflect.ValueOf(def), "")

	var probs Problems
	raw, err := readFile(src)
	if err != nil {
		return nil, Problems{{Key: "config", Reason: err.Error()}}
	}
	if raw != nil {
		if err := v.MergeConfig(bytes.NewReader(raw)); err != nil {
			return nil, Problems{{Key: "config", Reason: fmt.Sprintf("parse %s: %v", src.Path, err)}}
		}
		// The unknown-key walk looks at the file alone: viper's merged tree
		// also holds the defaults.
		fv := viper.New()
		fv.SetConfigType("yaml")
		_ = fv.ReadConfig(bytes.NewReader(raw))
		probs = append(probs, unknownKeys(fv.AllSettings(), reflect.TypeOf(def), "")...)
	}
	probs = append(probs, applyEnv(v, src.Environ, leaves)...)

	cfg := Default()
	bad := decode(v.AllSettings(), &cfg)
	probs = append(probs, bad...)
	// A key that failed to decode keeps its default, so Validate does not
	// report it twice; every other key is still checked.
	probs = append(probs, cfg.Validate()...)
	if len(probs) > 0 {
		sort.SliceStable(probs, func(i, j int) bool { return probs[i].Key < probs[j].Key })
		return nil, probs
	}
	return &cfg, nil
}

// readFile returns the file's bytes, nil when the default file is absent.
func readFile(src Source) ([]byte, error) {
	st, err := os.Stat(src.Path)
	if errors.Is(err, os.ErrNotExist) && !src.Explicit {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", src.Path, unwrapPathError(err))
	}
	if st.IsDir() {
		return nil, fmt.Errorf("read %s: is a directory, not a YAML file", src.Path)
	}
	b, err := os.ReadFile(src.Path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", src.Path, unwrapPathError(err))
	}
	return b, nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// applyEnv sets every STRANGLER_* variable onto its key; a variable that names
// no key is a problem, since a typo would otherwise be silently ignored.
func applyEnv(v *viper.Viper, environ []string, leaves map[string]bool) Problems {
	byEnv := make(map[string]string, len(leaves))
	for k := range leaves {
		byEnv[EnvPrefix+"_"+strings.ToUpper(strings.ReplaceAll(k, ".", "_"))] = k
	}
	var probs Problems
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix+"_") {
			continue
		}
		key, known := byEnv[name]
		if !known {
			probs = append(probs, Problem{Key: name, Reason: "unknown environment variable: it names no configuration key"})
			continue
		}
		v.Set(key, val)
	}
	return probs
}

// decode turns the merged settings into cfg, one problem per bad value.
func decode(settings map[string]any, cfg *Config) Problems {
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:           cfg,
		WeaklyTypedInput: true,
		// A configured list replaces the shipped one instead of being
		// merged into it element by element.
		ZeroFields: true,
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			durationHook,
			mapstructure.StringToSliceHookFunc(","),
		),
	})
	if err != nil {
		return Problems{{Key: "config", Reason: err.Error()}}
	}
	return decodeProblems(dec.Decode(settings))
}

// decodeProblems flattens mapstructure's errors into one problem per field,
// keyed by the field's path ("server.idle_timeout").
func decodeProblems(err error) Problems {
	if err == nil {
		return nil
	}
	var de *mapstructure.DecodeError
	if errors.As(err, &de) && !isJoined(err) {
		return Problems{{Key: de.Name(), Reason: reason(de.Unwrap())}}
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var probs Problems
		for _, e := range j.Unwrap() {
			probs = append(probs, decodeProblems(e)...)
		}
		return probs
	}
	if u := errors.Unwrap(err); u != nil {
		return decodeProblems(u)
	}
	return Problems{{Key: "config", Reason: err.Error()}}
}

func isJoined(err error) bool {
	var j interface{ Unwrap() []error }
	return errors.As(err, &j)
}

// reason words a decoding error for a person: which value, why, what fits.
func reason(err error) string {
	var pe *mapstructure.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("cannot read %q as %s: %v", fmt.Sprint(pe.Value), pe.Expected.Type(), pe.Err)
	}
	return err.Error()
}

// durationHook parses durations ("10s") and words a bad one for a person.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to != reflect.TypeOf(time.Duration(0)) {
		return data, nil
	}
	d, err := time.ParseDuration(data.(string))
	if err != nil {
		return nil, fmt.Errorf("invalid duration %q: use a number with a unit, such as 500ms, 10s or 2m", data)
	}
	return d, nil
}
