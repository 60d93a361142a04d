package chatops

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// ErrSyntax is wrapped by every parse error; the message says what was
// wrong and what to type instead.
var ErrSyntax = errors.New("syntax error")

// maxInput bounds what the parser looks at; Slack caps command text lower.
const maxInput = 4000

// token is one word of the command line, with whether it starts with a
// quote (a quoted "--x" is an argument, not a flag).
type token struct {
	text   string
	quoted bool
}

// closing quote for each opening quote. Slack clients turn straight
// quotes into typographic ones, so both are accepted.
var quotePairs = map[rune]rune{'"': '"', '\'': '\'', '“': '”', '‘': '’', '”': '”', '’': '’'}

// tokenize splits text into words. Words are separated by white space;
// a quoted run ("…", '…', “…”, ‘…’) is one word, inside which a backslash
// escapes the next character. An unterminated quote is an error.
func tokenize(text string) ([]token, error) {
	if len(text) > maxInput {
		return nil, fmt.Errorf("%w: command is longer than %d characters", ErrSyntax, maxInput)
	}
	var (
		toks   []token
		cur    strings.Builder
		inWord bool
		quoted bool
		closer rune
		inQ    bool
		escape bool
	)
	flush := func() {
		if inWord {
			toks = append(toks, token{text: cur.String(), quoted: quoted})
		}
		cur.Reset()
		inWord, quoted = false, false
	}
	for _, r := range text {
		switch {
		case escape:
			cur.WriteRune(r)
			escape = false
		case inQ && r == '\\':
			escape = true
		case inQ && r == closer:
			inQ = false
		case inQ:
			cur.WriteRune(r)
		case quotePairs[r] != 0:
			// Only a word that starts with a quote is "quoted": --reason="a b" is still a flag.
			quoted = quoted || !inWord
			inQ, closer, inWord = true, quotePairs[r], true
		case unicode.IsSpace(r):
			flush()
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inQ {
		return nil, fmt.Errorf("%w: a quote is not closed; close it, e.g. --reason \"planned restart\"", ErrSyntax)
	}
	flush()
	return toks, nil
}

// line is a tokenized command: positional words and flags.
type line struct {
	args  []string
	flags map[string]string
	order []string // flag names in the order given (for error messages)
}

// splitFlags separates positional words from --flag value and
// --flag=value pairs. A flag given twice is an error: the operator must be
// unambiguous.
func splitFlags(toks []token) (line, error) {
	l := line{flags: map[string]string{}}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.quoted || !strings.HasPrefix(t.text, "--") || t.text == "--" {
			l.args = append(l.args, t.text)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(t.text, "--"), "=")
		if name == "" {
			return l, fmt.Errorf("%w: %q is not a flag; flags look like --reason \"why\"", ErrSyntax, t.text)
		}
		if _, dup := l.flags[name]; dup {
			return l, fmt.Errorf("%w: --%s is given twice; give it once", ErrSyntax, name)
		}
		if !hasVal {
			if i+1 >= len(toks) {
				return l, fmt.Errorf("%w: --%s needs a value, e.g. --%s VALUE or --%s=VALUE", ErrSyntax, name, name, name)
			}
			i++
			val = toks[i].text
		}
		l.flags[name] = val
		l.order = append(l.order, name)
	}
	return l, nil
}
