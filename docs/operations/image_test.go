package operations

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDockerfile_RunsAsTheImage runs the image the way a container
// runtime would, without a Docker engine (this machine has none): the
// final stage's file system is assembled from its COPY lines alone (no
// shell, no libc, no user database), the config and TLS files are mounted
// where docs/operations/README.md says, and its ENTRYPOINT + CMD run as
// its USER, chrooted there, in a network namespace of their own, bound to
// 0.0.0.0 on the exposed port with TLS. Then, as an operator would:
// /readyz, a token made and the ledger verified through `docker exec`, a
// command through the API, `docker stop` (a clean exit), and a second
// container on the same volume that still knows the command. The base
// image's own files (CA certificates, tzdata, /etc/passwd) are left out:
// the service must not need them.
func TestDockerfile_RunsAsTheImage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: it chroots, changes user and makes a network namespace, as a container runtime does")
	}
	t.Parallel()
	stages, img := dockerfile(t)
	root := t.TempDir()
	assemble(t, root, img, buildOutputs(t, stages[0], staticBinary(t)))
	pool := writeConfig(t, filepath.Join(root, "etc", "botwarden"), img)
	before := tree(t, root, img.volume, "/tmp")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	tok := firstRun(ctx, t, start(t, root, img, pool), img)

	// Everything the service wrote is in the volume, and is its user's.
	if after := tree(t, root, img.volume, "/tmp"); !maps.Equal(before, after) {
		t.Errorf("the container changed files outside %s and /tmp:\nbefore %v\nafter  %v", img.volume, before, after)
	}
	if err := ownedBy(img.volumePath(root), img.uid); err != nil {
		t.Errorf("volume: %v", err)
	}
	if _, err := os.Stat(filepath.Join(img.volumePath(root), "ledger")); err != nil {
		t.Errorf("the ledger is not in the volume: %v", err)
	}
	secondRun(ctx, t, start(t, root, img, pool), tok)
}

// dockerfile reads the repository's Dockerfile: its stages, and the image
// its final stage makes.
func dockerfile(t *testing.T) ([]stage, image) {
	t.Helper()
	stages := parseDockerfile(string(readFile(t, filepath.Join(repoRoot(t), "Dockerfile"))))
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, got %d stage(s)", len(stages))
	}
	return stages, readImage(t, stages)
}

// firstRun is what an operator does with a new container on an empty
// volume: wait for /readyz, make a token with `docker exec`, send a
// command through the API, verify the ledger, `docker stop`. It returns
// the token.
func firstRun(ctx context.Context, t *testing.T, c *container, img image) string {
	t.Helper()
	c.waitReady(ctx)
	if uid := processUID(t, c.pid()); uid != img.uid {
		t.Errorf("the service runs as uid %d, want the image's USER %d", uid, img.uid)
	}
	var health struct{ Version string }
	if code, body, err := c.get("/healthz"); err != nil || code != http.StatusOK || json.Unmarshal(body, &health) != nil {
		t.Fatalf("/healthz: %d %s %v", code, body, err)
	}
	if !strings.Contains(" "+health.Version+" ", " "+staticVersion+" ") {
		t.Errorf("/healthz version %q, want the build argument %q", health.Version, staticVersion)
	}
	out, err := c.exec("token", "create", "--data", img.volume, "--actor", "U0OPERATOR")
	tok := regexp.MustCompile(`bw_[A-Za-z0-9_-]+`).FindString(out)
	if err != nil || tok == "" {
		t.Fatalf("docker exec … token create: %v\n%s\ncontainer output:\n%s", err, out, c.output())
	}
	if got := c.post(t, tok, "container-1"); got != "applied" {
		t.Fatalf("POST /v1/commands status: %q, want applied", got)
	}
	if out, err := c.exec("ledger", "verify", "--data", img.volume); err != nil {
		t.Fatalf("docker exec … ledger verify: %v\n%s", err, out)
	}
	// The backup the ops README gives for a container: an export into the
	// volume while the service runs (the root file system is read-only).
	backup := path.Join(img.volume, "backup.jsonl")
	if out, err := c.exec("ledger", "export", "--data", img.volume, "--out", backup); err != nil {
		t.Fatalf("docker exec … ledger export: %v\n%s", err, out)
	}
	if out, err := c.exec("ledger", "verify", "--export", backup, "--key", path.Join(img.volume, "ledger.pub")); err != nil {
		t.Fatalf("docker exec … ledger verify --export: %v\n%s", err, out)
	}
	if err := c.stop(); err != nil {
		t.Fatalf("docker stop: %v\ncontainer output:\n%s", err, c.output())
	}
	return tok
}

// secondRun checks that a new container on the same volume still knows
// firstRun's command, and stops it.
func secondRun(ctx context.Context, t *testing.T, c *container, tok string) {
	t.Helper()
	c.waitReady(ctx)
	if got := c.outcome(t, tok, "container-1"); got != "applied" {
		t.Errorf("GET /v1/commands/container-1 after a restart on the same volume: %q, want applied", got)
	}
	if err := c.stop(); err != nil {
		t.Fatalf("docker stop (second container): %v\n%s", err, c.output())
	}
}

// post sends a status command with the given Idempotency-Key and returns
// the outcome's status.
func (c *container) post(t *testing.T, tok, key string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+"/v1/commands", strings.NewReader(`{"target":"alpha","op":"status"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	return c.outcomeOf(t, req)
}

// outcome GETs /v1/commands/{key} and returns the outcome's status.
func (c *container) outcome(t *testing.T, tok, key string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+"/v1/commands/"+key, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return c.outcomeOf(t, req)
}

func (c *container) outcomeOf(t *testing.T, req *http.Request) string {
	t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	var out struct{ Status string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s, %v", req.Method, req.URL.Path, resp.Status, err)
	}
	return out.Status
}

// processUID is the real uid of process pid.
func processUID(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				uid, err := strconv.Atoi(f[0])
				if err == nil {
					return uid
				}
			}
		}
	}
	t.Fatalf("no Uid line in /proc/%d/status", pid)
	return -1
}
