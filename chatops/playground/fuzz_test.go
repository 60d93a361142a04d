package playground

import (
	"encoding/json"
	"testing"
)

// FuzzBotAnswers feeds arbitrary bot answers to the two places the
// playground parses them: a slash command's acknowledgement and a modal
// submission's response_action. Neither may panic; a submission stays
// open only for response_action "errors", "update" or "push".
func FuzzBotAnswers(f *testing.F) {
	for _, s := range []string{``, `{}`, `null`, `{"response_action":"errors","errors":{"typed_target":"no"}}`,
		`{"response_action":"update","view":{"type":"modal"}}`, `{"response_type":"in_channel","text":"hi"}`,
		`{"blocks":[{"type":"section"}]}`, `{"response_action":"clear"}`, `[1,2]`, `{"text":7}`} {
		f.Add([]byte(s))
	}
	pg, err := New(Config{SigningSecret: testSigning, BotToken: testToken, Users: testUsers, Channels: testChannels})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		pg.addAck("C0OPS", "U0OPERATOR", body)
		_, closed := pg.applySubmitAnswer("V-fuzz", body)
		var ans struct {
			Action string `json:"response_action"`
		}
		stays := json.Unmarshal(body, &ans) == nil && (ans.Action == "errors" || ans.Action == "update" || ans.Action == "push")
		if closed == stays {
			t.Fatalf("answer %q: closed=%v", body, closed)
		}
		pg.mu.Lock()
		pg.views = map[string]*modalStatus{}
		pg.locals = nil
		pg.mu.Unlock()
	})
}
