package guard

// A minimal JSON scanner for tRPC envelopes: it finds a few members without
// building values, so that classifying an answer of any size costs one pass
// over the bytes and no allocation. Input may be cut off anywhere; every
// function then reports failure instead of reading past the end.

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value starting at b[i], or -1 when
// it is cut off.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			case '"':
				end := skipString(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			}
		}
		return -1
	}
	j := i
	for j < len(b) && !isDelim(b[j]) {
		j++
	}
	if j == len(b) {
		return -1 // a number may go on in the bytes cut off
	}
	return j
}

func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

func isDelim(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', ',', ':', ']', '}':
		return true
	}
	return false
}

// member returns where the value of key starts in the object at b[i], and
// whether the object has that key (with no escapes in its name).
func member(b []byte, i int, key string) (int, bool) {
	v, _ := scanObject(b, i, key)
	return v, v >= 0
}

// scanObject walks the object at b[i] once: it returns where the value of
// key starts (-1 when absent) and where the object ends (-1 when it is cut
// off or malformed).
func scanObject(b []byte, i int, key string) (value, end int) {
	value = -1
	if i >= len(b) || b[i] != '{' {
		return -1, -1
	}
	i = skipSpace(b, i+1)
	for i < len(b) && b[i] == '"' {
		nameEnd := skipString(b, i)
		if nameEnd < 0 {
			return value, -1
		}
		name := b[i+1 : nameEnd-1]
		i = skipSpace(b, nameEnd)
		if i >= len(b) || b[i] != ':' {
			return value, -1
		}
		i = skipSpace(b, i+1)
		if value < 0 && string(name) == key && i < len(b) {
			value = i
		}
		if i = skipValue(b, i); i < 0 {
			return value, -1
		}
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	if i < len(b) && b[i] == '}' {
		return value, i + 1
	}
	return value, -1
}
