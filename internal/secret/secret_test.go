package secret

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestSecret_NeverShowsItsValue(t *testing.T) {
	s := Secret("xoxb-very-secret-value")
	j, err := json.Marshal(struct{ Token Secret }{s})
	if err != nil {
		t.Fatal(err)
	}
	txt, _ := s.MarshalText()
	for name, got := range map[string]string{
		"%s": fmt.Sprintf("%s", s), "%v": fmt.Sprintf("%v", s), "%#v": fmt.Sprintf("%#v", s),
		"json": string(j), "text": string(txt),
	} {
		if strings.Contains(got, "very-secret") || !strings.Contains(got, Redacted) {
			t.Errorf("%s = %q: want %s and no value", name, got, Redacted)
		}
	}
	if s.Reveal() != "xoxb-very-secret-value" {
		t.Errorf("Reveal = %q", s.Reveal())
	}
	if Secret("").String() != "" {
		t.Error("an empty secret should print empty, so a missing one is visible")
	}
}
