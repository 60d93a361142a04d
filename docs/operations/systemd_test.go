package operations

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// unitFile is a systemd unit: section -> key -> values in order.
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, p string) unitFile {
	t.Helper()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(string(readFile(t, p))))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: bad line %q", p, line)
			}
			u[section][strings.TrimSpace(k)] = append(u[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return u
}

const unitPath = "systemd/botwarden.service"

func TestSystemdUnit_Hardening(t *testing.T) {
	svc := parseUnit(t, unitPath)["Service"]
	want := map[string]string{
		"User": "botwarden", "Group": "botwarden", "ProtectSystem": "strict", "ReadWritePaths": "/var/lib/botwarden",
		"StateDirectory": "botwarden", "NoNewPrivileges": "yes", "PrivateTmp": "yes", "ProtectHome": "yes",
		"CapabilityBoundingSet": "", "AmbientCapabilities": "", "Restart": "on-failure", "KillSignal": "SIGTERM",
	}
	for k, v := range want {
		got, ok := svc[k]
		if !ok || got[len(got)-1] != v {
			t.Errorf("[Service] %s = %q, want %q", k, got, v)
		}
	}
	if rw := svc["ReadWritePaths"]; len(rw) != 1 || strings.Contains(rw[0], " ") {
		t.Errorf("ReadWritePaths %q: the data folder must be the only writable path", rw)
	}
	if env := svc["EnvironmentFile"]; len(env) != 1 || !strings.HasPrefix(env[0], "/etc/botwarden/") {
		t.Errorf("EnvironmentFile %q: secrets come from a root-only file under /etc/botwarden", env)
	}
	exec := strings.Fields(strings.Join(svc["ExecStart"], " "))
	args := strings.Join(exec, " ")
	if len(exec) == 0 || exec[0] != "/usr/local/bin/botwarden" || !strings.Contains(args, " serve ") ||
		!strings.Contains(args, "--data /var/lib/"+svc["StateDirectory"][0]) || !strings.Contains(args, "--config /etc/botwarden/") {
		t.Errorf("ExecStart %q: want botwarden serve --config /etc/botwarden/… --data the state directory", args)
	}
}

// TestSystemdUnit_FlagsExist runs the real binary's serve --help: the unit
// must not pass a flag serve does not know.
func TestSystemdUnit_FlagsExist(t *testing.T) {
	out, err := exec.Command(binary(t), "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("serve --help: %v\n%s", err, out)
	}
	svc := parseUnit(t, unitPath)["Service"]
	for _, f := range regexp.MustCompile(`--[a-z-]+`).FindAllString(strings.Join(svc["ExecStart"], " "), -1) {
		if !strings.Contains(string(out), f+" ") {
			t.Errorf("ExecStart passes %s, which serve does not accept", f)
		}
	}
}

// TestSystemdUnit_Verify runs systemd-analyze verify when it is installed
// (not required) on every unit in systemd/ (the service, the backup
// service and its timer, together): any warning is a failure.
func TestSystemdUnit_Verify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	dir := t.TempDir()
	var units []string
	for _, pattern := range []string{"systemd/*.service", "systemd/*.timer"} {
		files, _ := filepath.Glob(filepath.Join(repoRoot(t), "docs/operations", pattern))
		for _, f := range files {
			unit := strings.ReplaceAll(string(readFile(t, f)), "/usr/local/bin/botwarden", binary(t))
			p := filepath.Join(dir, filepath.Base(f))
			if err := os.WriteFile(p, []byte(unit), 0o644); err != nil {
				t.Fatal(err)
			}
			units = append(units, p)
		}
	}
	if len(units) != 3 {
		t.Fatalf("units %v, want the service, the backup service and its timer", units)
	}
	out, err := exec.Command(sa, append([]string{"verify", "--man=no"}, units...)...).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestSystemdUnit_EnvExampleHasNoValues keeps secrets out of the repository.
func TestSystemdUnit_EnvExampleHasNoValues(t *testing.T) {
	n := 0
	for _, l := range strings.Split(string(readFile(t, "systemd/botwarden.env.example")), "\n") {
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok || v != "" || !regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`).MatchString(k) {
			t.Errorf("env example line %q: want NAME= with no value", l)
		}
		n++
	}
	if n == 0 {
		t.Error("env example names no variables")
	}
}
