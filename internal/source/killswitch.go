package source

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	"github.com/botwarden/botwarden/internal/core"
)

// KillSwitchView gives the kill-switch levels per scope ("global",
// "group:NAME" or a bot id); a scope absent from the map is off. The lead
// adapts the engine's Snapshot to it.
type KillSwitchView interface {
	KillSwitch() map[string]core.Level
}

// KillSwitchFunc adapts a function to KillSwitchView, e.g.
// KillSwitchFunc(func() map[string]core.Level { return eng.Snapshot().KillSwitch }).
type KillSwitchFunc func() map[string]core.Level

// KillSwitch returns f().
func (f KillSwitchFunc) KillSwitch() map[string]core.Level { return f() }

// KillSwitchDoc is the body of GET /v1/killswitch. A bot's effective level
// is the tightest of "global", its "group:NAME" and its own id.
type KillSwitchDoc struct {
	SchemaVersion string                `json:"schema_version"`
	Environment   string                `json:"environment"`
	Default       core.Level            `json:"default"` // level of every scope not listed
	Levels        map[string]core.Level `json:"levels"`
	GeneratedAt   time.Time             `json:"generated_at"`
}

// KillSwitch serves GET /v1/killswitch, read-only. With a token set, the
// request needs it as a bearer token; without one, the levels are public to
// whoever can reach the listener. Responses carry an ETag over the levels,
// so pollers can send If-None-Match and get 304 until something changes.
type KillSwitch struct {
	view  KillSwitchView
	env   string
	token Secret
	now   func() time.Time
}

// NewKillSwitch returns the publication handler. now may be nil (wall clock).
func NewKillSwitch(view KillSwitchView, environment string, token Secret, now func() time.Time) *KillSwitch {
	if now == nil {
		now = time.Now
	}
	return &KillSwitch{view: view, env: environment, token: token, now: now}
}

// Register mounts GET /v1/killswitch on mux.
func (k *KillSwitch) Register(mux *http.ServeMux) {
	mux.Handle("GET /v1/killswitch", k)
}

// ServeHTTP answers with the current KillSwitchDoc.
func (k *KillSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if k.token != "" && !bearerOK(r, k.token) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="botwarden"`)
		writeReply(w, http.StatusUnauthorized, Reply{Status: "unauthorized", Detail: "a valid bearer token is required"})
		return
	}
	levels := make(map[string]core.Level)
	for scope, l := range k.view.KillSwitch() {
		if l != "" && l != core.LevelOff {
			levels[scope] = l
		}
	}
	key, _ := json.Marshal(struct {
		Env    string                `json:"e"`
		Levels map[string]core.Level `json:"l"`
	}{k.env, levels}) // map keys marshal sorted: a stable tag
	sum := sha256.Sum256(key)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(KillSwitchDoc{
		SchemaVersion: core.SchemaVersion, Environment: k.env, Default: core.LevelOff,
		Levels: levels, GeneratedAt: k.now().UTC(),
	})
}
