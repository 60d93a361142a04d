package policy

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"time"

	"go.yaml.in/yaml/v3"
)

// ErrInvalid wraps every reason a policy document is refused.
var ErrInvalid = errors.New("invalid policy")

// OpAudit is the permission to read the ledger (head, verify, export).
// It is not a command; adapters ask MayRequest(actor, env, OpAudit).
const OpAudit = "audit"

// knownOps is the op vocabulary a policy may name: the core's command ops
// (docs/contracts/command.schema.json) plus the audit permission.
var knownOps = []string{
	"status", "start", "stop", "pause", "resume", "config_apply", "quarantine",
	"quarantine_release", "killswitch_set", "killswitch_release", "gate_override",
	"monitoring_disable", "secret_rotate", "data_op", "support_bundle", OpAudit,
}

// KnownOps returns the op names a policy may grant, in a stable order.
func KnownOps() []string { return slices.Clone(knownOps) }

// AnyEnvironment is the ops key that grants ops in every environment.
const AnyEnvironment = "*"

var environments = []string{"dev", "stage", "prod"}

// Defaults applied when the document leaves a value out.
const (
	DefaultChallengeWindow      = 5 * time.Minute
	DefaultMaxGateOverride      = time.Hour
	DefaultMaxMonitoringDisable = 30 * time.Minute
	DefaultApproverRole         = "approver"
)

//go:embed testdata/demo.yaml
var demo []byte

// Demo returns the demo policy (environment dev; see testdata/demo.yaml).
func Demo() *Policy {
	p, err := Parse(demo)
	if err != nil {
		// The demo is embedded and tested; failing here is a build defect.
		panic(fmt.Sprintf("embedded demo policy: %v", err))
	}
	return p
}

// DemoSource returns the demo policy document.
func DemoSource() []byte { return bytes.Clone(demo) }

// Requirement says who must confirm a dangerous op.
type Requirement struct {
	Role         string // role every approver must hold
	Approvers    int    // distinct approvers needed, >= 1
	SecondPerson bool   // the requester may not approve
}

// Policy is a validated, immutable authorisation policy.
type Policy struct {
	window          time.Duration
	channels        []string
	maxOverride     time.Duration
	maxMonitoring   time.Duration
	bundleDangerous bool
	roleOps         map[string]map[string][]string // role -> env or "*" -> ops
	actors          map[string][]string            // actor -> roles (sorted)
	defaultReq      Requirement
	reqs            map[string]Requirement
}

// Load reads and validates the policy file at path.
func Load(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	p, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Parse decodes and validates a policy document. Unknown keys are errors.
func Parse(data []byte) (*Policy, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f file
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: empty document", ErrInvalid)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	p, err := f.build()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return p, nil
}

// Roles returns the roles actor holds, sorted; nil for an unknown actor.
func (p *Policy) Roles(actor string) []string { return slices.Clone(p.actors[actor]) }

// HasRole reports whether actor holds role.
func (p *Policy) HasRole(actor, role string) bool { return slices.Contains(p.actors[actor], role) }

// MayRequest reports whether actor holds a role that may request op in env.
func (p *Policy) MayRequest(actor, env, op string) bool {
	for _, r := range p.actors[actor] {
		ops := p.roleOps[r]
		if slices.Contains(ops[env], op) || slices.Contains(ops[AnyEnvironment], op) {
			return true
		}
	}
	return false
}

// Requirement returns who must confirm op when it is dangerous.
func (p *Policy) Requirement(op string) Requirement {
	if r, ok := p.reqs[op]; ok {
		return r
	}
	return p.defaultReq
}

// ChallengeWindow is how long an issued challenge stays open.
func (p *Policy) ChallengeWindow() time.Duration { return p.window }

// ChannelAllowed reports whether commands may come from channel. An empty
// allow-list allows any channel, including none.
func (p *Policy) ChannelAllowed(channel string) bool {
	return len(p.channels) == 0 || slices.Contains(p.channels, channel)
}

// MaxGateOverride bounds a gate override's duration.
func (p *Policy) MaxGateOverride() time.Duration { return p.maxOverride }

// MaxMonitoringDisable bounds a monitoring disable's duration.
func (p *Policy) MaxMonitoringDisable() time.Duration { return p.maxMonitoring }

// BundleDangerous reports whether a support bundle needs a confirmed challenge.
func (p *Policy) BundleDangerous() bool { return p.bundleDangerous }

// Actors returns every actor the policy names, sorted.
func (p *Policy) Actors() []string {
	out := make([]string, 0, len(p.actors))
	for a := range p.actors {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}
