package netpol

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Format is a connectivity output format.
type Format string

// Connectivity output formats.
const (
	FormatText     Format = "txt"
	FormatJSON     Format = "json"
	FormatCSV      Format = "csv"
	FormatMarkdown Format = "md"
	FormatDOT      Format = "dot"
)

// Formats lists the connectivity formats.
func Formats() []string {
	return []string{string(FormatText), string(FormatJSON), string(FormatCSV), string(FormatMarkdown), string(FormatDOT)}
}

// ParseFormat reads a format name; "text" and "table" mean txt.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "txt", "text", "table", "":
		return FormatText, nil
	case "json":
		return FormatJSON, nil
	case "csv":
		return FormatCSV, nil
	case "md", "markdown":
		return FormatMarkdown, nil
	case "dot":
		return FormatDOT, nil
	}
	return "", fmt.Errorf("unknown connectivity format %q (valid: %s)", s, strings.Join(Formats(), ", "))
}

// jsonConnection is the JSON form of a connection; src, dst and conn are
// the text output's fields.
type jsonConnection struct {
	Src  string `json:"src"`
	Dst  string `json:"dst"`
	Conn string `json:"conn"`
	// Unknown are the connections the model cannot judge, when some are.
	Unknown string `json:"unknown,omitempty"`
}

// Write renders the connectivity. Every format is deterministic.
func Write(w io.Writer, f Format, c *Connectivity) error {
	bw := bufio.NewWriter(w)
	var err error
	switch f {
	case FormatText:
		for _, x := range c.Connections {
			bw.WriteString(x.String())
			bw.WriteByte('\n')
		}
	case FormatJSON:
		rows := make([]jsonConnection, len(c.Connections))
		for i, x := range c.Connections {
			rows[i] = jsonConnection{Src: x.Src.String(), Dst: x.Dst.String(), Conn: x.Conns.String()}
			if u := x.UnknownConns(); !u.IsEmpty() {
				rows[i].Unknown = u.String()
			}
		}
		enc := json.NewEncoder(bw)
		enc.SetIndent("", "  ")
		err = enc.Encode(rows)
	case FormatCSV:
		cw := csv.NewWriter(bw)
		_ = cw.Write([]string{"src", "dst", "conn"})
		for _, x := range c.Connections {
			_ = cw.Write([]string{x.Src.String(), x.Dst.String(), x.ConnText()})
		}
		cw.Flush()
		err = cw.Error()
	case FormatMarkdown:
		bw.WriteString("| src | dst | conn |\n|-----|-----|------|\n")
		for _, x := range c.Connections {
			fmt.Fprintf(bw, "| %s | %s | %s |\n", mdEscape(x.Src.String()), mdEscape(x.Dst.String()), mdEscape(x.ConnText()))
		}
	case FormatDOT:
		writeDOT(bw, c)
	default:
		return fmt.Errorf("unknown connectivity format %q", f)
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// writeDOT draws workloads grouped by namespace, external ranges apart.
func writeDOT(w *bufio.Writer, c *Connectivity) {
	byNS := map[string]map[string]*Peer{}
	ext := map[string]bool{}
	for _, x := range c.Connections {
		for _, e := range []Endpoint{x.Src, x.Dst} {
			if e.Peer == nil {
				ext[e.String()] = true
				continue
			}
			if byNS[e.Peer.Namespace] == nil {
				byNS[e.Peer.Namespace] = map[string]*Peer{}
			}
			byNS[e.Peer.Namespace][e.String()] = e.Peer
		}
	}
	w.WriteString("digraph {\n")
	for _, ns := range sortedKeys(byNS) {
		fmt.Fprintf(w, "\tsubgraph %q {\n", "cluster_"+ns)
		for _, id := range sortedKeys(byNS[ns]) {
			p := byNS[ns][id]
			fmt.Fprintf(w, "\t\t%q [label=%q color=\"blue\" fontcolor=\"blue\"]\n", id, p.Name+"["+p.Kind+"]")
		}
		fmt.Fprintf(w, "\t\tlabel=%q\n\t}\n", ns)
	}
	for _, id := range sortedKeys(ext) {
		fmt.Fprintf(w, "\t%q [label=%q color=\"red2\" fontcolor=\"red2\"]\n", id, id)
	}
	for _, x := range c.Connections {
		fmt.Fprintf(w, "\t%q -> %q [label=%q color=\"gold2\" fontcolor=\"darkgreen\"]\n", x.Src.String(), x.Dst.String(), x.ConnText())
	}
	w.WriteString("}\n")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// WriteExplanations renders --focus output: for each pair, the verdict and
// the policies and rules on each side.
func WriteExplanations(w io.Writer, ex []Explanation) error {
	bw := bufio.NewWriter(w)
	for i, e := range ex {
		if i > 0 {
			bw.WriteByte('\n')
		}
		verdict := "DENIED"
		if !e.Allowed.IsEmpty() {
			verdict = "ALLOWED " + e.Allowed.String()
		}
		if !e.Unknown.IsEmpty() {
			verdict += ", UNKNOWN " + e.Unknown.String()
		}
		fmt.Fprintf(bw, "%s => %s : %s\n", e.Src, e.Dst, verdict)
		for _, r := range e.Egress {
			fmt.Fprintf(bw, "  egress:  %s\n", r)
		}
		for _, r := range e.Ingress {
			fmt.Fprintf(bw, "  ingress: %s\n", r)
		}
	}
	return bw.Flush()
}
