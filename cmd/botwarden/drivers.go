package main

import (
	"context"
	"fmt"
	"os"

	"github.com/botwarden/botwarden/bundle"
	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/driver/execdriver"
	"github.com/botwarden/botwarden/internal/driver/httpdriver"
	"github.com/botwarden/botwarden/internal/driver/sim"
)

// drivers holds one instance of each driver kind the config uses; each
// serves all the bots configured with it.
type drivers struct {
	bots []core.BotConfig
	sim  *sim.Driver
	exec *execdriver.Driver
	http *httpdriver.Driver
	kind map[string]string // bot id -> driver kind
}

func newDrivers(cfg *Config, getenv func(string) string, secrets *secretSet) (*drivers, error) {
	d := &drivers{kind: map[string]string{}}
	for _, b := range cfg.Bots {
		drv, err := d.add(b, getenv, secrets)
		if err != nil {
			return nil, fmt.Errorf("bot %s: %w", b.ID, err)
		}
		d.kind[b.ID] = b.Driver
		d.bots = append(d.bots, core.BotConfig{ID: b.ID, Group: b.Group, Driver: drv})
	}
	return d, nil
}

func (d *drivers) add(b BotConfig, getenv func(string) string, secrets *secretSet) (core.Driver, error) {
	switch b.Driver {
	case "sim":
		c, err := sim.ConfigFromMap(b.Sim)
		if err != nil {
			return nil, err
		}
		if d.sim == nil {
			d.sim = sim.New(sim.SystemClock{})
		}
		return d.sim, d.sim.Add(b.ID, c)
	case "exec":
		c, err := execdriver.ConfigFromMap(b.Exec)
		if err != nil {
			return nil, err
		}
		secrets.addRefs(getenv, c.SecretEnv, c.SecretFiles)
		if d.exec == nil {
			d.exec = execdriver.New(execdriver.Options{Getenv: getenv})
		}
		return d.exec, d.exec.Add(b.ID, c)
	case "http":
		c, err := httpdriver.ConfigFromMap(b.HTTP)
		if err != nil {
			return nil, err
		}
		bot, err := c.Bot(getenv, os.ReadFile)
		if err != nil {
			return nil, err
		}
		secrets.add(string(bot.Secret))
		if d.http == nil {
			d.http = httpdriver.New(httpdriver.Options{})
		}
		return d.http, d.http.Add(b.ID, bot)
	}
	return nil, fmt.Errorf("unknown driver %q", b.Driver)
}

// diagnostics returns what the bot's driver offers for a support bundle.
func (d *drivers) diagnostics(_ context.Context, bot string) (any, error) {
	switch d.kind[bot] {
	case "sim":
		return d.sim.Diagnostics(bot)
	case "exec":
		return d.exec.Diagnostics(bot)
	case "http":
		return nil, fmt.Errorf("%w: http bots serve their own diagnostics", bundle.ErrNoDiagnostics)
	}
	return nil, fmt.Errorf("unknown bot %q", bot)
}
