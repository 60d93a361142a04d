package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
)

// Document is a policy as it is in force: every default filled in and
// every list sorted, so that two files that grant the same permissions
// give the same Document, whatever their comments, order or spelling
// of defaults. The core records it in the ledger when the service starts
// with a policy other than the last one recorded, so that an auditor can
// tell, for any entry, who held which role and who had to confirm what.
type Document struct {
	// Durations are Go durations as time.Duration.String writes them
	// ("5m0s"): exact, whatever unit the file used.
	ChallengeWindow        string                         `json:"challenge_window"`
	AllowedChannels        []string                       `json:"allowed_channels"` // empty: any channel
	MaxGateOverride        string                         `json:"max_gate_override"`
	MaxMonitoringDisable   string                         `json:"max_monitoring_disable"`
	SupportBundleDangerous bool                           `json:"support_bundle_dangerous"`
	Roles                  map[string]map[string][]string `json:"roles"`  // role -> environment or "*" -> ops; empty lists left out
	Actors                 map[string][]string            `json:"actors"` // actor -> roles
	Dangerous              DangerousDoc                   `json:"dangerous"`
}

// DangerousDoc says who must confirm each dangerous op.
type DangerousDoc struct {
	Default RequirementDoc            `json:"default"`
	Ops     map[string]RequirementDoc `json:"ops"` // ops whose requirement differs from Default
}

// RequirementDoc is a Requirement as recorded.
type RequirementDoc struct {
	Role         string `json:"role"`
	Approvers    int    `json:"approvers"`
	SecondPerson bool   `json:"second_person"`
}

// Document returns the policy in force, normalised (see Document).
func (p *Policy) Document() Document {
	d := Document{
		ChallengeWindow:        p.window.String(),
		AllowedChannels:        sorted(p.channels),
		MaxGateOverride:        p.maxOverride.String(),
		MaxMonitoringDisable:   p.maxMonitoring.String(),
		SupportBundleDangerous: p.bundleDangerous,
		Roles:                  make(map[string]map[string][]string, len(p.roleOps)),
		Actors:                 make(map[string][]string, len(p.actors)),
		Dangerous:              DangerousDoc{Default: reqDoc(p.defaultReq), Ops: make(map[string]RequirementDoc, len(p.reqs))},
	}
	for role, envs := range p.roleOps {
		m := make(map[string][]string, len(envs))
		for env, ops := range envs {
			if len(ops) > 0 {
				m[env] = sorted(ops)
			}
		}
		d.Roles[role] = m
	}
	for actor, roles := range p.actors {
		d.Actors[actor] = sorted(roles)
	}
	for op, r := range p.reqs {
		if r != p.defaultReq {
			d.Dangerous.Ops[op] = reqDoc(r)
		}
	}
	return d
}

// Canonical returns the policy's Document as compact JSON (object members
// sorted by name) and its digest, "sha256:" and the hex SHA-256 of those
// bytes. Equal policies have equal digests.
func (p *Policy) Canonical() (doc []byte, digest string) {
	b, err := json.Marshal(p.Document())
	if err != nil {
		// Maps of strings, slices of strings, numbers and booleans.
		panic("policy document: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return b, "sha256:" + hex.EncodeToString(sum[:])
}

func reqDoc(r Requirement) RequirementDoc {
	return RequirementDoc{Role: r.Role, Approvers: r.Approvers, SecondPerson: r.SecondPerson}
}

// sorted returns a sorted copy of s, never nil (so it is recorded as []).
func sorted(s []string) []string {
	out := slices.Clone(s)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
