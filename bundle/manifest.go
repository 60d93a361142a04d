package bundle

import (
	"runtime/debug"
	"time"
)

// ManifestName is the manifest's path inside a bundle.
const ManifestName = "manifest.json"

// ManifestVersion is the version of the manifest format.
const ManifestVersion = "1"

// Manifest describes a bundle: who asked for it and why, what the service
// was, which ledger state it reflects, how it was redacted, and the size
// and SHA-256 of every other file in it.
type Manifest struct {
	ManifestVersion string    `json:"manifest_version"`
	ID              string    `json:"bundle_id"`
	Environment     string    `json:"environment"`
	Target          string    `json:"target"`
	Actor           string    `json:"actor"`
	Reason          string    `json:"reason,omitempty"` // redacted
	CommandID       string    `json:"command_id,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	Version         string    `json:"service_version"`
	// PolicyDigest is the digest of the policy in force (config/policy.json
	// holds it, byte for byte as the ledger records it), when the service
	// gave its policy.
	PolicyDigest string      `json:"policy_digest,omitempty"`
	Build        BuildInfo   `json:"build"`
	Ledger       LedgerSlice `json:"ledger"`
	Redaction    Redaction   `json:"redaction"`
	Notes        []string    `json:"notes,omitempty"` // sources not collected and why (redacted)
	Files        []FileEntry `json:"files"`
}

// BuildInfo is what the binary says about how it was built.
type BuildInfo struct {
	GoVersion string            `json:"go_version,omitempty"`
	Path      string            `json:"path,omitempty"`
	Module    string            `json:"module_version,omitempty"`
	Settings  map[string]string `json:"settings,omitempty"` // vcs.revision, vcs.time, vcs.modified, …
}

// LedgerSlice describes the embedded ledger export.
type LedgerSlice struct {
	From        uint64 `json:"from"`
	To          uint64 `json:"to"`
	Head        uint64 `json:"head"` // ledger size when the bundle was made
	Window      string `json:"window,omitempty"`
	Checkpoint  string `json:"checkpoint"` // the signed checkpoint for size To
	VerifierKey string `json:"verifier_key"`
	TargetSeqs  int    `json:"target_seqs"` // entries in the slice that concern the target
}

// Redaction records which rules ran and how many replacements each made.
// (A list of pairs rather than a map: a map keyed by rule names such as
// known_secret would itself look like a secret-named field.)
type Redaction struct {
	Rules       []RuleCount `json:"rules"`
	KnownValues int         `json:"known_values"` // how many secret values were searched for
}

// RuleCount is one redaction rule and its number of replacements.
type RuleCount struct {
	Rule         string `json:"rule"`
	Replacements int    `json:"replacements"`
}

// Count returns the replacements made by rule.
func (r Redaction) Count(rule string) int {
	for _, rc := range r.Rules {
		if rc.Rule == rule {
			return rc.Replacements
		}
	}
	return 0
}

// readBuildInfo returns the binary's build information.
func readBuildInfo() BuildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return BuildInfo{}
	}
	out := BuildInfo{GoVersion: bi.GoVersion, Path: bi.Path, Module: bi.Main.Version, Settings: map[string]string{}}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs", "vcs.revision", "vcs.time", "vcs.modified", "GOOS", "GOARCH", "CGO_ENABLED", "-race":
			out.Settings[s.Key] = s.Value
		}
	}
	return out
}
