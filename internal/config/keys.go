package config

import (
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/viper"
)

// leafKeys lists every settable key path of t ("server.idle_timeout").
// Slices are leaves: their elements are checked by unknownKeys.
func leafKeys(t reflect.Type, prefix string) map[string]bool {
	keys := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := tagName(f)
		if name == "" {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type.String() != "time.Time" {
			for k := range leafKeys(f.Type, prefix+name+".") {
				keys[k] = true
			}
			continue
		}
		keys[prefix+name] = true
	}
	return keys
}

// setDefaults registers every leaf of val with viper so that AllSettings and
// environment overrides know each key.
func setDefaults(v *viper.Viper, val reflect.Value, prefix string) {
	t := val.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := tagName(f)
		if name == "" {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type.String() != "time.Time" {
			setDefaults(v, val.Field(i), prefix+name+".")
			continue
		}
		v.SetDefault(prefix+name, val.Field(i).Interface())
	}
}

// unknownKeys walks a raw YAML tree against the struct type t and returns a
// problem for every key that names no field, with its full path.
func unknownKeys(raw any, t reflect.Type, path string) Problems {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			return nil // a type mismatch is reported by decode
		}
		fields := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			if name := tagName(t.Field(i)); name != "" {
				fields[name] = t.Field(i).Type
			}
		}
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		sort.Strings(names)
		var probs Problems
		for _, k := range names {
			ft, ok := fields[strings.ToLower(k)]
			if !ok {
				probs = append(probs, Problem{Key: join(path, k), Reason: "unknown key"})
				continue
			}
			probs = append(probs, unknownKeys(m[k], ft, join(path, k))...)
		}
		return probs
	case reflect.Slice:
		items, ok := raw.([]any)
		if !ok {
			return nil
		}
		var probs Problems
		for i, it := range items {
			probs = append(probs, unknownKeys(it, t.Elem(), path+"["+strconv.Itoa(i)+"]")...)
		}
		return probs
	}
	return nil
}

func tagName(f reflect.StructField) string {
	tag := f.Tag.Get("mapstructure")
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	if name == "" {
		return strings.ToLower(f.Name)
	}
	return name
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
