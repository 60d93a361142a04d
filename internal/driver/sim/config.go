package sim

import (
	"bytes"
	"fmt"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"go.yaml.in/yaml/v3"
)

// Config configures one simulated bot. The zero value of a field means its
// default (see DefaultConfig) except DieAfter and FailOps, whose zero is
// "never".
type Config struct {
	StartDelay time.Duration `yaml:"start_delay" json:"start_delay"` // Start blocks this long
	StopDelay  time.Duration `yaml:"stop_delay" json:"stop_delay"`   // Stopped this long after Stop
	DieAfter   time.Duration `yaml:"die_after" json:"die_after"`     // crash this long after running; 0: never
	FailOps    []core.Op     `yaml:"fail_ops" json:"fail_ops"`       // ops that always fail
}

// DefaultConfig is what a bot gets for fields left zero: a short start and a
// two-second stop, so STOPPING is visible in the demo.
func DefaultConfig() Config {
	return Config{StartDelay: 500 * time.Millisecond, StopDelay: 2 * time.Second}
}

// withDefaults fills zero delays from DefaultConfig. A negative delay means
// "no delay", so tests can ask for instant bots explicitly.
func (c Config) withDefaults() Config {
	def := DefaultConfig()
	if c.StartDelay == 0 {
		c.StartDelay = def.StartDelay
	}
	if c.StopDelay == 0 {
		c.StopDelay = def.StopDelay
	}
	c.StartDelay = max(c.StartDelay, 0)
	c.StopDelay = max(c.StopDelay, 0)
	return c
}

// ConfigFromMap decodes a bot's `sim:` block of the service config (as the
// generic map the config loader holds) into a Config. Unknown keys are an
// error, so a typo does not silently fall back to a default.
func ConfigFromMap(m map[string]any) (Config, error) {
	var c Config
	if len(m) == 0 {
		return c, nil
	}
	raw, err := yaml.Marshal(m)
	if err != nil {
		return c, fmt.Errorf("sim config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("sim config: %w", err)
	}
	if c.DieAfter < 0 {
		return c, fmt.Errorf("sim config: die_after %s is negative", c.DieAfter)
	}
	return c, nil
}
