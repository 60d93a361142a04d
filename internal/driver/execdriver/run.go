package execdriver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// maxStdout bounds the status command's stdout.
const maxStdout = 64 << 10

// Result is one command run, as kept for diagnosis. Output is the
// redacted tail of stdout and stderr; Argv never holds a secret.
type Result struct {
	Op        core.Op       `json:"op"`
	CommandID string        `json:"command_id"`
	Argv      []string      `json:"argv"`
	At        time.Time     `json:"at"`
	Duration  time.Duration `json:"duration"`
	ExitCode  int           `json:"exit_code"` // -1: did not exit (timeout, not started)
	Output    string        `json:"output,omitempty"`
	Error     string        `json:"error,omitempty"`
}

// job is one bot operation to run.
type job struct {
	op        core.Op
	meta      core.BotMeta
	mode      lifecycle.Mode
	configRef string
}

// vars returns the BOTWARDEN_* variables of a bot operation.
func (j job) vars() []string {
	return []string{
		"BOTWARDEN_OP=" + string(j.op),
		"BOTWARDEN_MODE=" + string(j.mode),
		"BOTWARDEN_BOT=" + j.meta.Bot,
		"BOTWARDEN_COMMAND_ID=" + j.meta.CommandID,
		"BOTWARDEN_TRACE_ID=" + j.meta.TraceID,
		"BOTWARDEN_RUN_ID=" + j.meta.RunID,
		"BOTWARDEN_CONFIG_REF=" + j.configRef,
	}
}

// run executes c for op with the given BOTWARDEN_* vars. It returns the
// result, the command's stdout (bounded) and an error for anything but
// exit 0.
func (d *Driver) run(ctx context.Context, c Command, op core.Op, commandID string, vars []string) (Result, []byte, error) {
	res := Result{Op: op, CommandID: commandID, Argv: c.Argv, At: d.opts.Now(), ExitCode: -1}
	if len(c.Argv) == 0 {
		return res, nil, fmt.Errorf("%w: %s", ErrNotConfigured, op)
	}
	secrets, err := d.resolve(c)
	if err != nil {
		return res, nil, err
	}
	if err := argvClean(c.Argv, secrets); err != nil {
		res.Argv = nil // it holds a secret: keep it out of diagnostics too
		return res, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = d.env(c, vars, secrets)
	cmd.WaitDelay = 2 * time.Second
	killGroup(cmd)
	var out tail
	stdout := &limited{max: maxStdout}
	cmd.Stdout = io.MultiWriter(stdout, &out)
	cmd.Stderr = &out
	start := time.Now()
	err = cmd.Run()
	res.Duration = time.Since(start)
	res.Output = redact(out.bytes(), values(secrets))
	err = classify(ctx, c.Timeout, cmd, err)
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	if err != nil {
		res.Error = err.Error()
	}
	return res, stdout.buf.Bytes(), err
}

// classify turns cmd.Run's error into one callers can branch on.
func classify(ctx context.Context, timeout time.Duration, cmd *exec.Cmd, err error) error {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w after %s (process group killed)", ErrTimeout, timeout)
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &exit):
		return fmt.Errorf("%w: %s", ErrExit, exit.ProcessState.String())
	}
	return fmt.Errorf("%w: %s: %w", ErrNotStarted, cmd.Path, err)
}

// env builds the command's environment from scratch.
func (d *Driver) env(c Command, vars []string, secrets map[string]string) []string {
	env := append([]string{"PATH=" + d.opts.Path}, vars...)
	for k, v := range c.Env {
		env = append(env, k+"="+v)
	}
	for k, v := range secrets {
		env = append(env, k+"="+v)
	}
	return env
}

// resolve reads the bot's secrets now, so a rotated file is picked up.
func (d *Driver) resolve(c Command) (map[string]string, error) {
	out := make(map[string]string, len(c.SecretEnv)+len(c.SecretFiles))
	for k, src := range c.SecretEnv {
		v := d.opts.Getenv(src)
		if v == "" {
			return nil, fmt.Errorf("%w: %s: environment variable %s is empty", ErrSecret, k, src)
		}
		out[k] = v
	}
	for k, path := range c.SecretFiles {
		raw, err := d.opts.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrSecret, k, err)
		}
		if v := strings.TrimSpace(string(raw)); v != "" {
			out[k] = v
			continue
		}
		return nil, fmt.Errorf("%w: %s: file %s is empty", ErrSecret, k, path)
	}
	return out, nil
}

// argvClean refuses an argv that carries a secret value: argv is visible
// to every user of the machine (ps, /proc).
func argvClean(argv []string, secrets map[string]string) error {
	for _, a := range argv {
		for k, v := range secrets {
			if strings.Contains(a, v) {
				return fmt.Errorf("%w: the value of %s appears in the command line", ErrSecretInArgv, k)
			}
		}
	}
	return nil
}

func values(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// limited is a buffer that keeps the first max bytes and drops the rest.
type limited struct {
	buf bytes.Buffer
	max int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.max - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
