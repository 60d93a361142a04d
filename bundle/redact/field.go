package redact

import "bytes"

// findSecretFields is the secret_field rule's matcher. It does what the
// rule's Pattern says, anchored at each keyword instead of trying every
// offset, which Go's regexp makes slow on long text. Each result has the
// Pattern's layout: whole match, key, secret.
func findSecretFields(b, lower []byte, keywords []string) [][]int {
	var out [][]int
	last := 0
	for _, kw := range keywordHits(lower, keywords) {
		if kw[0] < last {
			continue
		}
		idx := fieldAt(b, kw[0], kw[1])
		if idx == nil {
			continue
		}
		out = append(out, idx)
		last = idx[1]
	}
	return out
}

// keywordHits returns the [start, end) of every keyword occurrence, sorted.
func keywordHits(lower []byte, keywords []string) [][2]int {
	var hits [][2]int
	for _, k := range keywords {
		for from := 0; ; {
			i := bytes.Index(lower[from:], []byte(k))
			if i < 0 {
				break
			}
			hits = append(hits, [2]int{from + i, from + i + len(k)})
			from += i + len(k)
		}
	}
	sortSpans(hits)
	return hits
}

// fieldAt matches `"?key"?[ \t]*[=:][ \t]*"?value` around a keyword at
// b[ks:ke], or returns nil.
func fieldAt(b []byte, ks, ke int) []int {
	start := ks
	for start > 0 && isKeyChar(b[start-1]) {
		start--
	}
	end := ke
	for end < len(b) && isKeyChar(b[end]) {
		end++
	}
	m0, k0, k1 := start, start, end
	if start > 0 && b[start-1] == '"' {
		m0 = start - 1
	}
	i := end
	if i < len(b) && b[i] == '"' {
		i++
	}
	i = skipBlanks(b, i)
	if i >= len(b) || (b[i] != '=' && b[i] != ':') {
		return nil
	}
	i = skipBlanks(b, i+1)
	if i < len(b) && b[i] == '"' {
		i++
	}
	v := i
	for i < len(b) && !isValueStop(b[i]) {
		i++
	}
	if i == v {
		return nil
	}
	return []int{m0, i, k0, k1, v, i}
}

func isKeyChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-'
}

func skipBlanks(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return i
}

func isValueStop(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f', '"', '\'', '\\', ',', ';', '&', '{', '}', '[', ']':
		return true
	}
	return false
}
