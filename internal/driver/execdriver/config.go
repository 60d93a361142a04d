package execdriver

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"go.yaml.in/yaml/v3"
)

// Config is one bot's `exec:` block. Secrets are references, never values:
// SecretEnv maps a variable the command gets to the variable of Botwarden's
// environment holding the value; SecretFiles maps it to a file.
type Config struct {
	Start         []string          `yaml:"start"`
	Stop          []string          `yaml:"stop"`
	Pause         []string          `yaml:"pause"`
	Resume        []string          `yaml:"resume"`
	Apply         []string          `yaml:"apply"`
	Status        []string          `yaml:"status"`
	Dir           string            `yaml:"dir"`            // working directory
	Timeout       time.Duration     `yaml:"timeout"`        // per operation, default 30s
	StatusTimeout time.Duration     `yaml:"status_timeout"` // default 5s
	Env           map[string]string `yaml:"env"`            // plain, non-secret variables
	SecretEnv     map[string]string `yaml:"secret_env"`     // VAR -> source variable name
	SecretFiles   map[string]string `yaml:"secret_files"`   // VAR -> file path
}

// Default timeouts.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultStatusTimeout = 5 * time.Second
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ConfigFromMap decodes a bot's `exec:` block (the generic map the config
// loader holds) and validates it. Unknown keys are an error.
func ConfigFromMap(m map[string]any) (Config, error) {
	var c Config
	raw, err := yaml.Marshal(m)
	if err != nil {
		return c, fmt.Errorf("exec driver config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("exec driver config: %w", err)
	}
	return c, c.validate()
}

// argv returns the command of op.
func (c Config) argv(op core.Op) []string {
	switch op {
	case core.OpStart:
		return c.Start
	case core.OpStop:
		return c.Stop
	case core.OpPause:
		return c.Pause
	case core.OpResume:
		return c.Resume
	case core.OpApply:
		return c.Apply
	case core.OpStatus:
		return c.Status
	}
	return nil
}

func (c Config) validate() error {
	for _, op := range []core.Op{core.OpStart, core.OpStop, core.OpStatus} {
		if len(c.argv(op)) == 0 {
			return fmt.Errorf("exec driver config: %s command is required", op)
		}
	}
	for _, op := range []core.Op{core.OpStart, core.OpStop, core.OpPause, core.OpResume, core.OpApply, core.OpStatus} {
		if a := c.argv(op); len(a) > 0 && a[0] == "" {
			return fmt.Errorf("exec driver config: %s command has an empty program", op)
		}
	}
	if c.Timeout < 0 || c.StatusTimeout < 0 {
		return errors.New("exec driver config: negative timeout")
	}
	seen := map[string]bool{}
	for _, m := range []map[string]string{c.Env, c.SecretEnv, c.SecretFiles} {
		for k := range m {
			if !envName.MatchString(k) || isReserved(k) || seen[k] {
				return fmt.Errorf("exec driver config: variable %q is invalid, reserved or set twice", k)
			}
			seen[k] = true
		}
	}
	return nil
}

func isReserved(k string) bool {
	return k == "PATH" || (len(k) >= 10 && k[:10] == "BOTWARDEN_")
}

func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.StatusTimeout == 0 {
		c.StatusTimeout = DefaultStatusTimeout
	}
	return c
}

// command returns what runs for op: its argv with the bot's directory,
// environment, secrets and the op's timeout.
func (c Config) command(op core.Op) Command {
	t := c.Timeout
	if op == core.OpStatus {
		t = c.StatusTimeout
	}
	return Command{Argv: c.argv(op), Dir: c.Dir, Timeout: t, Env: c.Env, SecretEnv: c.SecretEnv, SecretFiles: c.SecretFiles}
}
