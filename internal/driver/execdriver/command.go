package execdriver

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/botwarden/botwarden/internal/core"
)

// Command is one configured command outside the bot operations (used by
// the actions for non-bot operations). It runs under the same rules as a
// bot's commands: no shell, an environment built from scratch, secrets by
// reference and never in argv, a timeout, a redacted output tail.
type Command struct {
	Argv        []string          `yaml:"argv"`
	Dir         string            `yaml:"dir"`
	Timeout     time.Duration     `yaml:"timeout"` // default 30s
	Env         map[string]string `yaml:"env"`
	SecretEnv   map[string]string `yaml:"secret_env"`
	SecretFiles map[string]string `yaml:"secret_files"`
}

// Validate checks the command's argv and variable names.
func (c Command) Validate() error {
	if len(c.Argv) == 0 || c.Argv[0] == "" {
		return fmt.Errorf("exec command: argv is required")
	}
	if c.Timeout < 0 {
		return fmt.Errorf("exec command: negative timeout")
	}
	seen := map[string]bool{}
	for _, m := range []map[string]string{c.Env, c.SecretEnv, c.SecretFiles} {
		for k := range m {
			if !envName.MatchString(k) || isReserved(k) || seen[k] {
				return fmt.Errorf("exec command: variable %q is invalid, reserved or set twice", k)
			}
			seen[k] = true
		}
	}
	return nil
}

// Exec runs c for op. vars are the BOTWARDEN_* variables the command gets
// (names must start with BOTWARDEN_); Idempotency is the caller's. The
// Result is redacted and safe to keep; the error, for anything but exit 0,
// carries the exit status and the output tail.
func (d *Driver) Exec(ctx context.Context, c Command, op core.Op, commandID string, vars map[string]string) (Result, error) {
	if err := c.Validate(); err != nil {
		return Result{}, err
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		if !strings.HasPrefix(k, "BOTWARDEN_") || !envName.MatchString(k) {
			return Result{}, fmt.Errorf("exec %s: variable %q must be BOTWARDEN_*", op, k)
		}
		env = append(env, k+"="+v)
	}
	res, _, err := d.run(ctx, c, op, commandID, env)
	if err != nil {
		return res, fmt.Errorf("%s: %w%s", op, err, outputSuffix(res.Output))
	}
	return res, nil
}
