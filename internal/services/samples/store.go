package samples

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nanopore/strangler/internal/dualwrite"
	"github.com/nanopore/strangler/internal/trpc"
	"github.com/nanopore/strangler/internal/validate"
)

// OIDs of the result column types the encoder reads.
const (
	oidText        = 25
	oidInt4        = 23
	oidVarchar     = 1043
	oidTimestamptz = 1184
	oidUUID        = 2950
)

// checkShape verifies that a result has the columns, types and binary
// formats the encoder expects, so that a changed table or pool setting fails
// with an error instead of garbled JSON.
func checkShape(fds []pgconn.FieldDescription, cols []column) error {
	if len(fds) != len(cols) {
		return fmt.Errorf("%w: %d columns, want %d", errRowShape, len(fds), len(cols))
	}
	for i, c := range cols {
		fd := fds[i]
		ok := false
		switch c.kind {
		case kindUUID:
			ok = fd.DataTypeOID == oidUUID && fd.Format == pgx.BinaryFormatCode
		case kindInt:
			ok = fd.DataTypeOID == oidInt4 && fd.Format == pgx.BinaryFormatCode
		case kindTime:
			ok = fd.DataTypeOID == oidTimestamptz && fd.Format == pgx.BinaryFormatCode
		case kindText, kindNum, kindJSON:
			// text and varchar have the same bytes in both formats.
			ok = fd.DataTypeOID == oidText || fd.DataTypeOID == oidVarchar
		}
		if !ok {
			return fmt.Errorf("%w: column %s has type %d format %d", errRowShape, c.name, fd.DataTypeOID, fd.Format)
		}
	}
	return nil
}

// query runs sql with the service's query options before args.
func (s *Service) query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	all := make([]any, 0, len(s.queryOpts)+len(args))
	all = append(all, s.queryOpts...)
	return s.db(ctx).Query(ctx, sql, append(all, args...)...)
}

// appendOne runs a statement returning at most one row and appends it as a
// JSON object; no row is the 500 notFound error.
func (s *Service) appendOne(ctx context.Context, buf []byte, cols []column, notFound string, sql string, args ...any) ([]byte, error) {
	rows, err := s.query(ctx, sql, args...)
	if err != nil {
		return buf, mapError(err)
	}
	defer rows.Close()
	if !rows.Next() {
		rows.Close()
		if err := rows.Err(); err != nil {
			return buf, mapError(err)
		}
		return buf, internal(notFound)
	}
	if err := checkShape(rows.FieldDescriptions(), cols); err != nil {
		return buf, internal(err.Error())
	}
	buf, err = appendRow(buf, cols, rows.RawValues())
	if err != nil {
		return buf, internal(err.Error())
	}
	rows.Close()
	return buf, mapError(rows.Err())
}

// nullString is nil for "" (legacy's `value || null`).
func nullString(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// nullNumber is the JS text of f, or nil for 0 (`value || null`). Decimals go
// to PostgreSQL as the text a JS app sends (String(n)), so that numeric
// rounds them at the column's scale exactly as it does for legacy.
func nullNumber(f float64) any {
	if f == 0 {
		return nil
	}
	return formatJSNumber(f)
}

// AppendCreate inserts a sample (contract 4.3) and appends the stored Sample
// object to buf.
func (s *Service) AppendCreate(ctx context.Context, buf []byte, in CreateInput) ([]byte, error) {
	in.SubmitterEmail = validate.TrimJS(in.SubmitterEmail) // stored as given, never sanitised
	if err := checkCreate(in); err != nil {
		return buf, err
	}
	count := in.FlowCellCount
	if count == 0 {
		count = 1
	}
	priority := in.Priority
	if priority == "" {
		priority = "normal"
	}
	id := uuid.New()
	sec, secondary := dualwrite.SecondaryFrom(ctx)
	if secondary {
		// Replaying legacy's create: same id, so that both stores agree.
		if legacyID, err := uuid.Parse(sec.CreateID); err == nil {
			id = legacyID
		}
	}
	return s.appendOne(ctx, buf, sampleColumns, msgSampleNotFound, sqlCreate,
		[16]byte(id), in.SampleName, nullString(in.ProjectID), in.SubmitterName,
		in.SubmitterEmail, nullString(in.LabName), in.SampleType, nullString(in.SampleBuffer),
		nullNumber(in.Concentration), nullNumber(in.Volume), nullNumber(in.TotalAmount),
		nullString(in.FlowCellType), int32(count), priority, nullString(in.AssignedTo),
		nullString(in.LibraryPrepBy), s.clock(), in.ChartField, !secondary)
}

// outbox says whether a write writes its outbox row: yes when the service
// is the primary, no for a secondary execution (dualwrite.WithSecondary),
// whose change legacy already holds.
func outbox(ctx context.Context) bool {
	_, secondary := dualwrite.SecondaryFrom(ctx)
	return !secondary
}

// AppendUpdate writes the given fields of a sample (contract 4.4) and
// appends the updated Sample; an unknown id is 500 `Sample not found`.
func (s *Service) AppendUpdate(ctx context.Context, buf []byte, in UpdateInput) ([]byte, error) {
	d := in.Data
	if d.SubmitterEmail != nil {
		email := validate.TrimJS(*d.SubmitterEmail)
		d.SubmitterEmail = &email
	}
	var count any
	if d.FlowCellCount != nil {
		count = int32(*d.FlowCellCount)
	}
	var total any
	if d.TotalAmount != nil {
		total = formatJSNumber(*d.TotalAmount)
	}
	return s.appendOne(ctx, buf, sampleColumns, msgSampleNotFound, sqlUpdate,
		in.ID, d.SampleName, d.ProjectID, d.SubmitterName, d.SubmitterEmail, d.LabName,
		d.SampleType, d.SampleBuffer, d.Concentration.Set, numberArg(d.Concentration),
		d.Volume.Set, numberArg(d.Volume), total, d.FlowCellType, count, d.Status,
		d.Priority, d.AssignedTo, d.LibraryPrepBy, s.clock(), outbox(ctx))
}

// numberArg is the SQL value of a given Number: NULL or its JS text.
func numberArg(n Number) any {
	if !n.Set || n.Null {
		return nil
	}
	return formatJSNumber(n.Value)
}

// AppendAssign sets assigned_to and always overwrites library_prep_by
// (contract 4.5), then appends the updated Sample.
func (s *Service) AppendAssign(ctx context.Context, buf []byte, in AssignInput) ([]byte, error) {
	return s.appendOne(ctx, buf, sampleColumns, msgSampleNotFound, sqlAssign,
		in.ID, in.AssignedTo, nullString(in.LibraryPrepBy), outbox(ctx))
}

// AppendUpdateStatus sets a status with its side timestamps (contract 3.1,
// 4.6; transitions are not enforced), then appends the updated Sample. It is
// update with only data.status, which legacy also treats alike.
func (s *Service) AppendUpdateStatus(ctx context.Context, buf []byte, in UpdateStatusInput) ([]byte, error) {
	status := in.Status
	return s.AppendUpdate(ctx, buf, UpdateInput{ID: in.ID, Data: UpdateData{Status: &status}})
}

// Delete removes a sample and, by cascade, its steps, details and
// attachments (contract 4.7). An unknown id is 404 with the id as sent.
func (s *Service) Delete(ctx context.Context, id string) error {
	var n int64
	if err := s.db(ctx).QueryRow(ctx, sqlDelete, id, outbox(ctx)).Scan(&n); err != nil {
		return mapError(err)
	}
	if n == 0 {
		return trpc.Errorf(trpc.NotFound, "Sample with ID '"+id+"' not found")
	}
	return nil
}

// GetAll starts the getAll query (contract 4.2, always fresh) and returns a
// Stream positioned on the first row, so that a failing query is reported
// here, before any byte of the answer is written.
func (s *Service) GetAll(ctx context.Context) (*Stream, error) {
	return s.openStream(ctx, sampleColumns, sqlGetAll)
}

// openStream runs a query for a Stream of cols. The Stream closes itself
// when ctx ends unwritten (a batch cut short after an earlier call), so that
// its connection always returns to the pool.
func (s *Service) openStream(ctx context.Context, cols []column, sql string, args ...any) (*Stream, error) {
	rows, err := s.query(ctx, sql, args...)
	if err != nil {
		return nil, mapError(err)
	}
	st := &Stream{svc: s, rows: rows, cols: cols}
	if !rows.Next() {
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, mapError(err)
		}
		st.rows, st.empty = nil, true
		return st, nil
	}
	if err := checkShape(rows.FieldDescriptions(), cols); err != nil {
		rows.Close()
		return nil, internal(err.Error())
	}
	st.stop = context.AfterFunc(ctx, st.Close)
	return st, nil
}

// Stream is an open result written as a JSON array row by row, so that the
// answer's size never sits in memory (trpc.StreamData). Call WriteData or
// Close; both may be called, in any order, from any goroutine.
type Stream struct {
	svc   *Service
	cols  []column
	empty bool        // no rows: "[]", nothing held
	stop  func() bool // unregisters the close on ctx end

	mu   sync.Mutex
	rows pgx.Rows // positioned on the first row until written; nil once closed
}

var _ trpc.StreamData = (*Stream)(nil)

// flushAt is how much encoded JSON a Stream gathers before each write.
const flushAt = 32 << 10

// errStreamClosed is WriteData after Close.
var errStreamClosed = errors.New("samples: stream already written or closed")

// WriteData writes the array to w and closes the result. An error after the
// first write cannot become an error answer any more: the caller should
// abort the response.
func (st *Stream) WriteData(w io.Writer) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.empty {
		_, err := io.WriteString(w, "[]")
		return err
	}
	if st.rows == nil {
		return errStreamClosed
	}
	defer st.release()
	bp := st.svc.getBuf()
	buf, err := st.encode(w, (*bp)[:0])
	*bp = buf
	st.svc.putBuf(bp)
	if err != nil {
		// The answer is cut short and the client only sees a broken body:
		// this line is the only trace of why.
		st.svc.log.Warn().Err(err).Msg("stream cut short")
	}
	return err
}

// encode writes every row to w through buf, flushing every flushAt bytes.
func (st *Stream) encode(w io.Writer, buf []byte) ([]byte, error) {
	buf = append(buf, '[')
	for n := 0; n == 0 || st.rows.Next(); n++ {
		if n > 0 {
			buf = append(buf, ',')
		}
		var err error
		if buf, err = appendRow(buf, st.cols, st.rows.RawValues()); err != nil {
			return buf, err
		}
		if len(buf) >= flushAt {
			if _, err := w.Write(buf); err != nil {
				return buf, err
			}
			buf = buf[:0]
		}
	}
	st.rows.Close()
	if err := st.rows.Err(); err != nil {
		return buf, mapError(err)
	}
	buf = append(buf, ']')
	_, err := w.Write(buf)
	return buf, err
}

// Close releases the result without writing it.
func (st *Stream) Close() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.release()
}

// release closes the rows once; st.mu is held.
func (st *Stream) release() {
	if st.rows != nil {
		st.rows.Close()
		st.rows = nil
	}
	if st.stop != nil {
		st.stop()
	}
}
