package operations

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const backupUnitPath = "systemd/botwarden-backup.service"

// TestBackupUnit_Shape checks the backup unit's contract: a oneshot run
// as the service's user, only while the service runs, writing only its
// own state directory and talking only to loopback, exporting before it
// verifies.
func TestBackupUnit_Shape(t *testing.T) {
	u := parseUnit(t, backupUnitPath)
	want := map[string]map[string]string{
		"Unit": {"Requisite": "botwarden.service", "After": "botwarden.service"},
		"Service": {"Type": "oneshot", "User": "botwarden", "Group": "botwarden", "StateDirectory": "botwarden-backups",
			"ProtectSystem": "strict", "NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "IPAddressDeny": "any",
			"IPAddressAllow": "localhost", "UMask": "0077"},
	}
	for section, kv := range want {
		for k, v := range kv {
			if got := u[section][k]; len(got) != 1 || got[0] != v {
				t.Errorf("[%s] %s = %q, want %q", section, k, got, v)
			}
		}
	}
	if rw := u["Service"]["ReadWritePaths"]; len(rw) != 0 {
		t.Errorf("ReadWritePaths %q: the backup writes only its state directory", rw)
	}
	steps := u["Service"]["ExecStart"]
	if len(steps) != 4 || !strings.Contains(steps[0], " ledger export ") || !strings.Contains(steps[1], " ledger verify --export ") ||
		!strings.HasSuffix(steps[2], "/api_tokens.json") || !strings.HasSuffix(steps[3], "/ledger.keys") {
		t.Errorf("ExecStart %q: want export, then verify, then the token file and the key history copied", steps)
	}
	if timer := parseUnit(t, "systemd/botwarden-backup.timer"); len(timer["Timer"]["OnCalendar"]) != 1 || timer["Install"]["WantedBy"][0] != "timers.target" {
		t.Errorf("timer = %v", timer)
	}
}

// TestBackupUnit_RunsAgainstTheService runs the backup unit's ExecStart
// lines, with its paths moved into a temporary folder, against a really
// running service, twice (the second run replaces the first backup), and
// restores a new data folder from what they left.
func TestBackupUnit_RunsAgainstTheService(t *testing.T) {
	bin := binary(t)
	root := t.TempDir()
	data, backups := filepath.Join(root, "data"), filepath.Join(root, "backups")
	if err := os.MkdirAll(backups, 0o700); err != nil {
		t.Fatal(err)
	}
	_, stop := startPlainService(t, bin, root, data)
	defer stop()
	paths := strings.NewReplacer("/usr/local/bin/botwarden", bin,
		"/var/lib/botwarden-backups", backups, "/var/lib/botwarden", data)
	for run := 1; run <= 2; run++ {
		for _, line := range parseUnit(t, backupUnitPath)["Service"]["ExecStart"] {
			args := strings.Fields(paths.Replace(line))
			if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("run %d: %s: %v\n%s", run, strings.Join(args, " "), err, out)
			}
		}
	}
	for _, name := range []string{"ledger.jsonl", "ledger.jsonl.checkpoint", "api_tokens.json", "ledger.keys"} {
		if _, err := os.Stat(filepath.Join(backups, name)); err != nil {
			t.Errorf("backup lacks %s: %v", name, err)
		}
	}
	restored := filepath.Join(root, "restored")
	out, err := exec.Command(bin, "ledger", "restore", "--data", restored,
		"--export", filepath.Join(backups, "ledger.jsonl"), "--key", filepath.Join(backups, "ledger.keys")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok: restored") {
		t.Fatalf("restore from the unit's backup: %v\n%s", err, out)
	}
}

// startPlainService starts `botwarden serve` on data with the demo policy,
// waits until it answers /healthz and returns its base URL
// and a stop that kills it (SIGKILL: callers that want a clean stop
// signal it themselves).
func startPlainService(t *testing.T, bin, root, data string) (string, func()) {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(root, "config.yaml")
	conf := "environment: dev\nlisten: {http: 127.0.0.1:" + strconv.Itoa(port) + ", admin: 127.0.0.1:0, playground: 127.0.0.1:0}\n" +
		"policy_file: embedded:demo\nbots: [{id: alpha, group: majors, driver: sim}]\ndemo: {safety_feed: true}\n" +
		"api: {rate_per_actor: 1000000, burst: 1000000}\n" // load tests: no 429s
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, bin, "serve", "--config", cfg, "--data", data)
	cmd.Env = cleanEnv()
	logs, err := os.Create(filepath.Join(root, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cancel()
		<-exited
		logs.Close()
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := poll(ctx, "GET /healthz", func() (bool, error) {
		select {
		case err := <-exited:
			exited <- err
			return false, fmt.Errorf("serve exited: %v", err)
		default:
		}
		_, err := get(base + "/healthz") // served once the admin endpoint is published
		return err == nil, nil
	}); err != nil {
		stop()
		tail, _ := os.ReadFile(logs.Name())
		t.Fatalf("%v\n%s", err, lastLines(string(tail), 20))
	}
	return base, stop
}
