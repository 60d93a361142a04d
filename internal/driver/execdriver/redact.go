package execdriver

import (
	"regexp"
	"strings"
	"sync"
	"unicode"
)

// TailBytes is how much of a command's output is kept for diagnosis.
const TailBytes = 2048

// rawKeep is how much raw output is held before redaction: redacting a
// larger window than is shown means a secret cut at the window's start is
// far outside the part that is shown.
const rawKeep = 8 * TailBytes

const redacted = "[REDACTED]"

// tail is an io.Writer that keeps the last rawKeep bytes written.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*rawKeep {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-rawKeep:]...)
	}
	return len(p), nil
}

func (t *tail) bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) > rawKeep {
		return t.buf[len(t.buf)-rawKeep:]
	}
	return t.buf
}

// credential patterns redacted even when the value is not a known secret.
var patterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\b((?:password|passwd|secret|token|api[_-]?key|private[_-]?key|access[_-]?key)[A-Za-z0-9_-]*)(\s*[:=]\s*)("[^"]*"|'[^']*'|\S+)`),
	regexp.MustCompile(`(?i)\b(authorization:\s*)?(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}`),
}

// redact replaces every known secret value and anything shaped like a
// credential, drops control characters, and keeps the last TailBytes.
func redact(raw []byte, secrets []string) string {
	// Control characters go first, so a secret printed with one in the
	// middle is still found whole.
	s := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return -1
	}, strings.ToValidUTF8(string(raw), ""))
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, redacted)
		}
	}
	s = patterns[0].ReplaceAllString(s, "${1}${2}"+redacted)
	s = patterns[1].ReplaceAllString(s, "${1}${2} "+redacted)
	if len(s) > TailBytes {
		s = "…" + s[len(s)-TailBytes:]
	}
	// Again: the cut, or a secret that is not itself valid UTF-8, may
	// have split a character.
	return strings.TrimSpace(strings.ToValidUTF8(s, ""))
}
