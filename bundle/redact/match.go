package redact

import (
	"bytes"
	"sort"
)

// hintWindow caps how far from a hint a hinted rule looks when the hint's
// line is very long.
const hintWindow = 8 << 10

// lowerASCII returns b with A-Z folded to a-z; unlike bytes.ToLower it
// never changes the length, so offsets stay valid.
func lowerASCII(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// matches returns the submatch index slices of every match of the rule's
// pattern in b, in order, with offsets into b. lower is lowerASCII(b).
func (rule Rule) matches(b, lower []byte) [][]int {
	if rule.find != nil {
		return rule.find(b, lower)
	}
	if len(rule.hints) == 0 {
		return rule.Pattern.FindAllSubmatchIndex(b, -1)
	}
	var out [][]int
	for _, span := range hintSpans(lower, rule.hints) {
		for _, idx := range rule.Pattern.FindAllSubmatchIndex(b[span[0]:span[1]], -1) {
			for i := range idx {
				if idx[i] >= 0 {
					idx[i] += span[0]
				}
			}
			out = append(out, idx)
		}
	}
	return out
}

// hintSpans returns the sorted, disjoint spans of the lines of lower that
// contain a hint, each capped at hintWindow around the hint.
func hintSpans(lower []byte, hints []string) [][2]int {
	var spans [][2]int
	for _, h := range hints {
		for from := 0; ; {
			i := bytes.Index(lower[from:], []byte(h))
			if i < 0 {
				break
			}
			i += from
			spans = append(spans, lineAround(lower, i, len(h)))
			from = i + len(h)
		}
	}
	return mergeSpans(spans)
}

// lineAround returns the line holding lower[i:i+n], capped at hintWindow
// on each side.
func lineAround(lower []byte, i, n int) [2]int {
	lo := max(0, i-hintWindow)
	if j := bytes.LastIndexByte(lower[lo:i], '\n'); j >= 0 {
		lo += j + 1
	}
	hi := min(len(lower), i+n+hintWindow)
	if j := bytes.IndexByte(lower[i+n:hi], '\n'); j >= 0 {
		hi = i + n + j
	}
	return [2]int{lo, hi}
}

// mergeSpans sorts spans and joins the overlapping ones.
func mergeSpans(spans [][2]int) [][2]int {
	if len(spans) < 2 {
		return spans
	}
	sortSpans(spans)
	out := spans[:1]
	for _, s := range spans[1:] {
		last := &out[len(out)-1]
		if s[0] <= last[1] {
			last[1] = max(last[1], s[1])
			continue
		}
		out = append(out, s)
	}
	return out
}

func sortSpans(spans [][2]int) {
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
}
