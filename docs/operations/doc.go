// Package operations holds the Botwarden operations kit and the tests that
// keep it true to the service: a hardened systemd unit (systemd/),
// Prometheus alerting rules and their unit tests (prometheus/), a Grafana
// dashboard (grafana/), one runbook page per condition the service links
// to (runbooks/), and the container image (../../Dockerfile).
//
// The package has no API. Its tests build the real botwarden binary, start
// it on a temporary data folder, drive one command through its Slack
// endpoint and assert that every metric the alerts and the dashboard use is
// one the service exposes; they run promtool (check and unit-test the
// rules) and systemd-analyze when present, collect every runbook key the
// Go source can link to and require a page for each, and check the
// Dockerfile's required properties. In CI (CI=true) a missing promtool is
// a failure: .ci/run installs Debian's prometheus package.
package operations
