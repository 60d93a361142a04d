package action

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/driver/execdriver"
	"github.com/botwarden/botwarden/internal/driver/httpdriver"
	"go.yaml.in/yaml/v3"
)

// Spec is how one operation is carried out: exactly one of Exec or HTTP.
type Spec struct {
	Exec *execdriver.Command `yaml:"exec"`
	HTTP *httpdriver.Config  `yaml:"http"`
}

// Config maps action names to Specs. The names are KillSwitch and the op
// names of the other non-bot operations.
type Config map[string]Spec

// KillSwitch is the action name serving killswitch_set and
// killswitch_release.
const KillSwitch = "killswitch"

// opsOf maps an action name to the operations it serves.
var opsOf = map[string][]core.Op{
	KillSwitch:                       {core.OpKillSwitchSet, core.OpKillSwitchRelease},
	string(core.OpGateOverride):      {core.OpGateOverride},
	string(core.OpMonitoringDisable): {core.OpMonitoringDisable},
	string(core.OpSecretRotate):      {core.OpSecretRotate},
	string(core.OpDataOp):            {core.OpDataOp},
}

// Names lists the action names a Config may hold, sorted.
func Names() []string {
	out := make([]string, 0, len(opsOf))
	for n := range opsOf {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ConfigFromMap decodes the `actions:` block of the service config (the
// generic map the config loader holds) and validates it.
func ConfigFromMap(m map[string]any) (Config, error) {
	c := Config{}
	raw, err := yaml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("actions config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("actions config: %w", err)
	}
	return c, c.Validate()
}

// Validate checks every name is known and every Spec has one valid shape.
func (c Config) Validate() error {
	var errs []error
	for name, s := range c {
		if _, ok := opsOf[name]; !ok {
			errs = append(errs, fmt.Errorf("action %q: unknown (want one of %v)", name, Names()))
			continue
		}
		switch {
		case (s.Exec == nil) == (s.HTTP == nil):
			errs = append(errs, fmt.Errorf("action %q: set exactly one of exec or http", name))
		case s.Exec != nil:
			if err := s.Exec.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("action %q: %w", name, err))
			}
		case s.HTTP.URL == "":
			errs = append(errs, fmt.Errorf("action %q: http url is required", name))
		}
	}
	return errors.Join(errs...)
}
