package main

import (
	"strings"
	"testing"
)

func TestListenConfig_NonLoopbackNeedsTLS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		listen ListenConfig
		want   string // "" = accepted
	}{
		{"loopback without TLS", ListenConfig{HTTP: "127.0.0.1:8080"}, ""},
		{"all interfaces without TLS", ListenConfig{HTTP: "0.0.0.0:8080"}, "needs TLS"},
		{"empty host without TLS", ListenConfig{HTTP: ":8080"}, "needs TLS"},
		{"public address with TLS", ListenConfig{HTTP: "10.0.0.5:8443", TLSCert: "c.pem", TLSKey: "k.pem"}, ""},
		{"cert without key", ListenConfig{HTTP: "127.0.0.1:8080", TLSCert: "c.pem"}, "go together"},
	} {
		err := tc.listen.checkTLS()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestParseConfig_RefusesPublicBindWithoutTLS(t *testing.T) {
	t.Parallel()
	doc := strings.Replace(string(demoConfig), "http: 127.0.0.1:8080", "http: 0.0.0.0:8080", 1)
	if _, err := parseConfig([]byte(doc)); err == nil || !strings.Contains(err.Error(), "listen.tls_cert") {
		t.Fatalf("parseConfig = %v, want a refusal naming listen.tls_cert", err)
	}
}
