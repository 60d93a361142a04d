package main

import (
	"fmt"
	"path/filepath"

	"github.com/botwarden/botwarden/internal/api"
	"github.com/botwarden/botwarden/internal/token"
)

// buildAPI opens the token store in the data folder and builds the
// operator API on the engine and the ledger.
func (s *service) buildAPI() error {
	var err error
	if s.tokens, err = token.Open(s.cfg.DataDir, nil); err != nil {
		return fmt.Errorf("api tokens: %w", err)
	}
	if err := s.tokens.Ensure(); err != nil {
		return fmt.Errorf("api tokens: %w", err)
	}
	s.api, err = api.New(api.Config{Rate: s.cfg.API.RatePerActor, Burst: s.cfg.API.Burst, MaxStreams: s.cfg.API.MaxStreams}, api.Deps{Core: s.engine, Ledger: s.ledger, Tokens: s.tokens,
		Logger: s.log.With().Str("component", "api").Logger(), Registerer: s.reg,
		BundleDir: filepath.Join(s.cfg.DataDir, "bundles")})
	if err != nil {
		return fmt.Errorf("operator api: %w", err)
	}
	return nil
}

// tokenAdmin lets `botwarden token` create and revoke tokens while the
// service holds the ledger (through the loopback admin listener).
func (s *service) tokenAdmin() *api.TokenAdmin {
	return &api.TokenAdmin{Store: s.tokens, Ledger: s.ledger, Environment: s.cfg.Environment}
}
