package policy

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"go.yaml.in/yaml/v3"
)

// file is the YAML document as written; build validates it into a Policy.
type file struct {
	Version                int                 `yaml:"version"`
	ChallengeWindow        duration            `yaml:"challenge_window"`
	AllowedChannels        []string            `yaml:"allowed_channels"`
	MaxGateOverride        duration            `yaml:"max_gate_override"`
	MaxMonitoringDisable   duration            `yaml:"max_monitoring_disable"`
	SupportBundleDangerous bool                `yaml:"support_bundle_dangerous"`
	Roles                  map[string]roleSpec `yaml:"roles"`
	Actors                 map[string][]named  `yaml:"actors"`
	Dangerous              dangerousSpec       `yaml:"dangerous"`
}

type roleSpec struct {
	Ops map[envName][]opName `yaml:"ops"`
}

type dangerousSpec struct {
	Default *reqSpec           `yaml:"default"`
	Ops     map[opName]reqSpec `yaml:"ops"`
}

type reqSpec struct {
	Role         named `yaml:"role"`
	Approvers    int   `yaml:"approvers"`
	SecondPerson *bool `yaml:"second_person"`
	line         int
}

// UnmarshalYAML decodes a requirement strictly and remembers its line.
func (r *reqSpec) UnmarshalYAML(n *yaml.Node) error {
	type plain reqSpec
	var p plain
	if err := decodeStrict(n, &p, "role", "approvers", "second_person"); err != nil {
		return err
	}
	*r = reqSpec(p)
	r.line = n.Line
	return nil
}

// decodeStrict decodes the mapping n into v refusing keys outside known
// (yaml.Node.Decode alone does not honour KnownFields).
func decodeStrict(n *yaml.Node, v any, known ...string) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a mapping", n.Line)
	}
	for i := 0; i < len(n.Content); i += 2 {
		if k := n.Content[i]; !slices.Contains(known, k.Value) {
			return fmt.Errorf("line %d: field %s not found (known: %v)", k.Line, k.Value, known)
		}
	}
	return n.Decode(v)
}

// named is a string that remembers the line it was written on.
type named struct {
	Value string
	Line  int
}

// UnmarshalYAML decodes a scalar name.
func (s *named) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.Value == "" {
		return fmt.Errorf("line %d: want a non-empty name", n.Line)
	}
	*s = named{Value: n.Value, Line: n.Line}
	return nil
}

// opName is an op from the known vocabulary.
type opName string

// UnmarshalYAML refuses an op outside KnownOps, naming the line.
func (o *opName) UnmarshalYAML(n *yaml.Node) error {
	if !slices.Contains(knownOps, n.Value) {
		return fmt.Errorf("line %d: unknown op %q (known: %v)", n.Line, n.Value, knownOps)
	}
	*o = opName(n.Value)
	return nil
}

// envName is an environment name or "*".
type envName string

// UnmarshalYAML refuses anything but dev, stage, prod or "*".
func (e *envName) UnmarshalYAML(n *yaml.Node) error {
	if n.Value != AnyEnvironment && !slices.Contains(environments, n.Value) {
		return fmt.Errorf("line %d: unknown environment %q (want dev, stage, prod or \"*\")", n.Line, n.Value)
	}
	*e = envName(n.Value)
	return nil
}

// duration is a positive Go duration such as "5m".
type duration struct {
	D    time.Duration
	Line int
}

// UnmarshalYAML parses a positive Go duration, naming the line on error.
func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v <= 0 {
		return fmt.Errorf("line %d: %q is not a positive duration (like 30s or 5m)", n.Line, n.Value)
	}
	*d = duration{D: v, Line: n.Line}
	return nil
}

func orDefault(d duration, def time.Duration) time.Duration {
	if d.D == 0 {
		return def
	}
	return d.D
}

func (f *file) build() (*Policy, error) {
	if f.Version != 1 {
		return nil, fmt.Errorf("version must be 1 (got %d)", f.Version)
	}
	if len(f.Roles) == 0 {
		return nil, fmt.Errorf("no roles defined")
	}
	p := &Policy{
		window:          orDefault(f.ChallengeWindow, DefaultChallengeWindow),
		channels:        slices.Clone(f.AllowedChannels),
		maxOverride:     orDefault(f.MaxGateOverride, DefaultMaxGateOverride),
		maxMonitoring:   orDefault(f.MaxMonitoringDisable, DefaultMaxMonitoringDisable),
		bundleDangerous: f.SupportBundleDangerous,
		roleOps:         make(map[string]map[string][]string),
		actors:          make(map[string][]string),
		reqs:            make(map[string]Requirement),
	}
	for role, spec := range f.Roles {
		m := make(map[string][]string)
		for env, ops := range spec.Ops {
			for _, o := range ops {
				m[string(env)] = append(m[string(env)], string(o))
			}
		}
		p.roleOps[role] = m
	}
	if err := f.buildActors(p); err != nil {
		return nil, err
	}
	return p, f.buildRequirements(p)
}

func (f *file) buildActors(p *Policy) error {
	for actor, roles := range f.Actors {
		for _, r := range roles {
			if _, ok := f.Roles[r.Value]; !ok {
				return fmt.Errorf("line %d: actor %s has unknown role %q", r.Line, actor, r.Value)
			}
			if !slices.Contains(p.actors[actor], r.Value) {
				p.actors[actor] = append(p.actors[actor], r.Value)
			}
		}
		sort.Strings(p.actors[actor])
	}
	return nil
}

func (f *file) buildRequirements(p *Policy) error {
	def := Requirement{Role: DefaultApproverRole, Approvers: 1, SecondPerson: true}
	if f.Dangerous.Default != nil {
		r, err := f.requirement(*f.Dangerous.Default, def)
		if err != nil {
			return err
		}
		def = r
	} else if _, ok := f.Roles[def.Role]; !ok {
		return fmt.Errorf("dangerous.default is missing and the default approver role %q is not defined", def.Role)
	}
	p.defaultReq = def
	for op, spec := range f.Dangerous.Ops {
		r, err := f.requirement(spec, def)
		if err != nil {
			return err
		}
		p.reqs[string(op)] = r
	}
	return nil
}

func (f *file) requirement(s reqSpec, def Requirement) (Requirement, error) {
	r := def
	if s.Role.Value != "" {
		if _, ok := f.Roles[s.Role.Value]; !ok {
			return r, fmt.Errorf("line %d: unknown approver role %q", s.Role.Line, s.Role.Value)
		}
		r.Role = s.Role.Value
	}
	if s.Approvers != 0 {
		if s.Approvers < 1 || s.Approvers > 10 {
			return r, fmt.Errorf("line %d: approvers must be between 1 and 10 (got %d)", s.line, s.Approvers)
		}
		r.Approvers = s.Approvers
	}
	if s.SecondPerson != nil {
		r.SecondPerson = *s.SecondPerson
	}
	return r, nil
}
