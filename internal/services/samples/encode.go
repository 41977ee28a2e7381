package samples

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unsafe"

	"github.com/nanopore/strangler/internal/validate"
)

// The encoder writes rows as JSON by hand, appending to a byte slice: the
// getAll path encodes hundreds of thousands of values per second, and
// reflection (encoding/json) would cost an allocation per value. It reads the
// raw column bytes of pgx's binary protocol straight off the wire (uuid: 16
// bytes, int4: 4 bytes, timestamptz: microseconds since 2000-01-01, text and
// varchar: the UTF-8 bytes; numerics are selected as ::text so that they keep
// PostgreSQL's fixed scale and never pass through a float).

// kind says how one column's raw bytes become JSON.
type kind uint8

const (
	kindUUID kind = iota + 1 // JSON string, lower-case 8-4-4-4-12
	kindText                 // JSON string, escaped like JSON.stringify
	kindNum                  // JSON string: numeric text copied as is ("12.500")
	kindInt                  // JSON number from int4
	kindTime                 // JSON string, ISO-8601 ms Z, truncated like JS Date
	kindJSON                 // JSON value from jsonb text, as JSON.stringify(JSON.parse(text))
)

// column is one output key and the kind of its value.
type column struct {
	name string
	kind kind
}

// pgEpochMicros is 2000-01-01T00:00:00Z in Unix microseconds: PostgreSQL's
// binary timestamps count from there.
const pgEpochMicros = 946684800 * 1000000

// errRowShape says a result row does not have the columns the encoder expects.
var errRowShape = errors.New("samples: result row does not match the expected columns")

// appendRow appends one JSON object with the given columns in order; a nil
// value is JSON null.
func appendRow(buf []byte, cols []column, vals [][]byte) ([]byte, error) {
	if len(vals) != len(cols) {
		return buf, errRowShape
	}
	for i, c := range cols {
		if i == 0 {
			buf = append(buf, `{"`...)
		} else {
			buf = append(buf, `,"`...)
		}
		buf = append(buf, c.name...)
		buf = append(buf, `":`...)
		var err error
		buf, err = appendValue(buf, c.kind, vals[i])
		if err != nil {
			return buf, fmt.Errorf("column %s: %w", c.name, err)
		}
	}
	return append(buf, '}'), nil
}

// appendValue appends one column value of kind k.
func appendValue(buf []byte, k kind, v []byte) ([]byte, error) {
	if v == nil {
		return append(buf, "null"...), nil
	}
	switch k {
	case kindUUID:
		if len(v) != 16 {
			return buf, errRowShape
		}
		buf = append(buf, '"')
		buf = appendUUID(buf, v)
		return append(buf, '"'), nil
	case kindText:
		return appendText(buf, v), nil
	case kindNum:
		buf = append(buf, '"')
		buf = append(buf, v...)
		return append(buf, '"'), nil
	case kindInt:
		if len(v) != 4 {
			return buf, errRowShape
		}
		return strconv.AppendInt(buf, int64(int32(binary.BigEndian.Uint32(v))), 10), nil
	case kindTime:
		if len(v) != 8 {
			return buf, errRowShape
		}
		return appendPGTime(buf, int64(binary.BigEndian.Uint64(v))), nil
	case kindJSON:
		return appendJSONText(buf, v)
	}
	return buf, errRowShape
}

const hexDigits = "0123456789abcdef"

// appendUUID appends the 36-character lower-case text form of a 16-byte uuid.
func appendUUID(buf []byte, u []byte) []byte {
	for i, b := range u[:16] {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			buf = append(buf, '-')
		}
		buf = append(buf, hexDigits[b>>4], hexDigits[b&0x0f])
	}
	return buf
}

// appendText appends text column bytes as a JSON string escaped like JS
// JSON.stringify (no HTML escaping; U+2028 and U+2029 raw). The bytes are
// viewed as a string without copying: validate.AppendString only reads them
// and they stay untouched until it returns.
func appendText(buf []byte, v []byte) []byte {
	return validate.AppendString(buf, unsafe.String(unsafe.SliceData(v), len(v)))
}

// appendPGTime appends a binary timestamptz (microseconds since 2000-01-01
// UTC) as a JSON string; infinity becomes null, as JSON.stringify(Infinity).
func appendPGTime(buf []byte, pgMicros int64) []byte {
	if pgMicros == math.MaxInt64 || pgMicros == math.MinInt64 {
		return append(buf, "null"...)
	}
	days, rem := pgMicros/dayMicros, pgMicros%dayMicros // from 2000-01-01
	if rem < 0 {
		days, rem = days-1, rem+dayMicros
	}
	year, month, day := civil(days + pgEpochMicros/dayMicros)
	sec := int(rem / 1e6)
	buf = append(buf, '"')
	buf = appendISO(buf, year, month, day, sec/3600, sec/60%60, sec%60, int(rem%1e6/1e3))
	return append(buf, '"')
}

const dayMicros = 86400 * 1000000

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's days-to-civil algorithm). appendPGTime uses it instead
// of time.UnixMicro(...).Date() and .Clock(): getAll formats three to five
// timestamps per row, and this is about three times cheaper.
func civil(days int64) (year, month, day int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097                                  // day of era, [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // year of era, [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // day of year from March 1, [0, 365]
	mp := (5*doy + 2) / 153                                // month from March, [0, 11]
	day = int(doy - (153*mp+2)/5 + 1)
	month = int(mp + 3)
	if month > 12 {
		month -= 12
	}
	year = int(yoe + era*400)
	if month <= 2 {
		year++
	}
	return year, month, day
}

// appendISOTime appends t like JS Date.prototype.toISOString: UTC, exactly
// three fraction digits truncated (never rounded), a Z suffix, and the
// six-digit signed year outside 0000..9999.
func appendISOTime(buf []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	return appendISO(buf, year, int(month), day, hour, minute, sec, t.Nanosecond()/1e6)
}

// appendISO appends the parts of a UTC instant as appendISOTime does.
func appendISO(buf []byte, year, month, day, hour, minute, sec, ms int) []byte {
	switch {
	case year < 0:
		buf = append(buf, '-')
		buf = appendPadded(buf, -year, 6)
	case year > 9999:
		buf = append(buf, '+')
		buf = appendPadded(buf, year, 6)
	default:
		buf = append(buf, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10))
	}
	return append(buf, '-', two(month)[0], two(month)[1], '-', two(day)[0], two(day)[1],
		'T', two(hour)[0], two(hour)[1], ':', two(minute)[0], two(minute)[1], ':', two(sec)[0], two(sec)[1],
		'.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// two returns the two decimal digits of n (0..99).
func two(n int) [2]byte { return [2]byte{byte('0' + n/10), byte('0' + n%10)} }

// appendPadded appends a non-negative n with at least width digits.
func appendPadded(buf []byte, n, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for n > 0 || width > 0 {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
		width--
	}
	return append(buf, tmp[i:]...)
}

// FormatTime renders t the way the legacy app's JSON shows timestamps
// (JS Date.prototype.toISOString), for example 2026-11-28T10:02:57.525Z.
func FormatTime(t time.Time) string {
	var b [32]byte
	return string(appendISOTime(b[:0], t))
}
