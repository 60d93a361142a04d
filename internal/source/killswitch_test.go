package source

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
)

type fakeView struct {
	mu     sync.Mutex
	levels map[string]core.Level
}

var _ KillSwitchView = (*fakeView)(nil)

func (v *fakeView) KillSwitch() map[string]core.Level {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]core.Level, len(v.levels))
	for k, l := range v.levels {
		out[k] = l
	}
	return out
}

func (v *fakeView) set(scope string, l core.Level) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.levels[scope] = l
}

func getKS(t *testing.T, h http.Handler, auth, etag string) (*httptest.ResponseRecorder, KillSwitchDoc) {
	t.Helper()
	req := httptest.NewRequest("GET", "/v1/killswitch", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var doc KillSwitchDoc
	if rec.Code == 200 {
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
	}
	return rec, doc
}

func TestKillSwitch_PublishesLevelsWithETag(t *testing.T) {
	t.Parallel()
	view := &fakeView{levels: map[string]core.Level{"global": core.LevelOff, "group:majors": core.LevelReduceOnly}}
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	mux := http.NewServeMux()
	NewKillSwitch(view, "prod", "", func() time.Time { return now }).Register(mux)

	rec, doc := getKS(t, mux, "", "")
	if rec.Code != 200 || doc.Environment != "prod" || doc.Default != core.LevelOff || !doc.GeneratedAt.Equal(now) {
		t.Fatalf("got %d %+v", rec.Code, doc)
	}
	if len(doc.Levels) != 1 || doc.Levels["group:majors"] != core.LevelReduceOnly {
		t.Errorf("levels %v, want only group:majors=reduce_only (off is the default)", doc.Levels)
	}
	etag := rec.Header().Get("ETag")
	if rec, _ := getKS(t, mux, "", etag); rec.Code != http.StatusNotModified {
		t.Errorf("unchanged with If-None-Match: %d, want 304", rec.Code)
	}
	view.set("global", core.LevelHalt)
	rec, doc = getKS(t, mux, "", etag)
	if rec.Code != 200 || doc.Levels["global"] != core.LevelHalt || rec.Header().Get("ETag") == etag {
		t.Errorf("after a change: %d %+v etag %q, want 200 with halt and a new tag", rec.Code, doc, rec.Header().Get("ETag"))
	}
	req := httptest.NewRequest("PUT", "/v1/killswitch", nil)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %d, want 405 (read-only)", w.Code)
	}
}

func TestKillSwitch_Token(t *testing.T) {
	t.Parallel()
	h := NewKillSwitch(&fakeView{levels: map[string]core.Level{}}, "dev", "read-tok", nil)
	cases := []struct {
		auth string
		want int
	}{{"", 401}, {"Bearer nope", 401}, {"Bearer read-tok", 200}, {"bearer read-tok", 200}}
	for _, tc := range cases {
		if rec, _ := getKS(t, h, tc.auth, ""); rec.Code != tc.want {
			t.Errorf("auth %q: %d, want %d", tc.auth, rec.Code, tc.want)
		}
	}
}
