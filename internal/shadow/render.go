package shadow

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/nanopore/strangler/internal/validate"
)

// column is the width of one side in side-by-side output.
const column = 58

// RenderReport writes a report for a person: the groups with counts, first
// and last seen, and each group's example as a side-by-side diff; then the
// noise learnt.
func RenderReport(w io.Writer, rep *Report) {
	scope := "all routes"
	if rep.Route != "" {
		scope = "route " + rep.Route
	}
	fmt.Fprintf(w, "%d mismatch records since %s (%s)\n", rep.Records, rep.Since.Local().Format(time.DateTime), scope)
	if len(rep.Groups) == 0 {
		fmt.Fprintln(w, "no mismatches")
	} else {
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "\nROUTE\tPROCEDURE\tPATH\tCOUNT\tFIRST SEEN\tLAST SEEN\tEXAMPLE")
		for _, g := range rep.Groups {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t#%d\n", g.Route, dash(g.Procedure), g.Path, g.Count,
				g.FirstSeen.Local().Format(time.DateTime), g.LastSeen.Local().Format(time.DateTime), g.ExampleID)
		}
		tw.Flush()
		for _, g := range rep.Groups {
			fmt.Fprintf(w, "\n== %s %s %s: example #%d, %s\n", g.Route, dash(g.Procedure), g.Path, g.ExampleID, g.Request)
			renderDiffs(w, g.Example)
		}
	}
	if len(rep.Noise) > 0 {
		fmt.Fprintln(w, "\nNoise learnt (differs between two legacy answers; not counted as mismatches):")
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ROUTE\tPROCEDURE\tPATH\tHITS\tLAST SEEN")
		for _, n := range rep.Noise {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", n.Route, dash(n.Procedure), n.Path, n.Hits, n.LastSeen.Local().Format(time.DateTime))
		}
		tw.Flush()
	}
}

// RenderRecord writes one record: the request, the differences side by
// side, and both bodies side by side.
func RenderRecord(w io.Writer, r *Record) {
	fmt.Fprintf(w, "mismatch #%d at %s, replica %s, request id %s\n", r.ID, r.At.Local().Format(time.RFC3339), dash(r.Replica), dash(r.RequestID))
	fmt.Fprintf(w, "route %s, procedure %s, primary %s\n", r.Route, dash(r.Procedure), r.PrimarySide)
	req := r.Method + " " + r.Path
	if r.Query != "" {
		req += "?" + r.Query
	}
	fmt.Fprintf(w, "request: %s\n", req)
	if r.Input != "" {
		fmt.Fprintf(w, "input:   %s\n", r.Input)
	}
	fmt.Fprintf(w, "legacy:  %d in %.1f ms    new: %d in %.1f ms\n\n", r.LegacyStatus, r.LegacyMS, r.NewStatus, r.NewMS)
	renderDiffs(w, r.Diffs)
	fmt.Fprintln(w)
	SideBySide(w, pretty(r.LegacyBody), pretty(r.NewBody))
}

// renderDiffs writes differences as PATH, then LEGACY | NEW.
func renderDiffs(w io.Writer, diffs []Diff) {
	fmt.Fprintf(w, "  %-*s | %s\n", column, "LEGACY", "NEW")
	for _, d := range diffs {
		tag := d.Kind
		if d.Class != "" && d.Class != ClassMismatch {
			tag += ", " + d.Class
			if d.Reason != "" {
				tag += ": " + d.Reason
			}
		}
		fmt.Fprintf(w, "%s (%s)\n", d.Path, tag)
		left, right := wrap(orAbsent(d.Legacy), column), wrap(orAbsent(d.New), column)
		for i := 0; i < max(len(left), len(right)); i++ {
			fmt.Fprintf(w, "  %-*s | %s\n", column, at(left, i), at(right, i))
		}
	}
}

func orAbsent(s string) string {
	if s == "" {
		return "(absent)"
	}
	return s
}

// SideBySide writes two texts in two columns, line by line aligned on
// their longest common subsequence: '|' marks a changed line, '<' a line
// only on the left (legacy), '>' one only on the right (new).
func SideBySide(w io.Writer, left, right string) {
	a, b := capLines(strings.Split(left, "\n")), capLines(strings.Split(right, "\n"))
	fmt.Fprintf(w, "%-*s   %s\n", column, "LEGACY", "NEW")
	for _, op := range alignLines(a, b) {
		l, r, mark := "", "", " "
		switch {
		case op.i >= 0 && op.j >= 0:
			l, r = a[op.i], b[op.j]
			if l != r {
				mark = "|"
			}
		case op.i >= 0:
			l, mark = a[op.i], "<"
		default:
			r, mark = b[op.j], ">"
		}
		fmt.Fprintf(w, "%-*s %s %s\n", column, clip(l, column), mark, clip(r, column))
	}
}

// maxLines bounds the side-by-side alignment (quadratic in lines).
const maxLines = 600

func capLines(lines []string) []string {
	if len(lines) <= maxLines {
		return lines
	}
	return append(lines[:maxLines:maxLines], fmt.Sprintf("... (%d more lines)", len(lines)-maxLines))
}

type lineOp struct{ i, j int }

// alignLines pairs the lines of a and b: equal lines from the LCS, and
// between them, the remaining lines side by side as changes.
func alignLines(a, b []string) []lineOp {
	n, m := len(a), len(b)
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops, la, lb []lineOp
	flush := func() {
		for k := 0; k < max(len(la), len(lb)); k++ {
			op := lineOp{-1, -1}
			if k < len(la) {
				op.i = la[k].i
			}
			if k < len(lb) {
				op.j = lb[k].j
			}
			ops = append(ops, op)
		}
		la, lb = la[:0], lb[:0]
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			flush()
			ops = append(ops, lineOp{i, j})
			i, j = i+1, j+1
		case j >= m || i < n && lcs[i+1][j] >= lcs[i][j+1]:
			la = append(la, lineOp{i: i, j: -1})
			i++
		default:
			lb = append(lb, lineOp{i: -1, j: j})
			j++
		}
	}
	flush()
	return ops
}

// pretty indents a JSON body; anything else is shown as it is.
func pretty(body string) string {
	if v, err := validate.ParseJSONText(body); err == nil {
		return string(validate.StringifyIndent(v))
	}
	return body
}

// wrap cuts s into lines of at most width characters.
func wrap(s string, width int) []string {
	var out []string
	for utf8.RuneCountInString(s) > width {
		cut := 0
		for n := 0; n < width; n++ {
			_, size := utf8.DecodeRuneInString(s[cut:])
			cut += size
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	return append(out, s)
}

func clip(s string, width int) string {
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	return wrap(s, width-1)[0] + "…"
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return ""
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
