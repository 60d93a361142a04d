package operations

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestImage_DockerEngine builds the image from the Dockerfile, unchanged,
// with Docker's own engine (dockerd and its builder, `docker build`), and
// runs it with `docker run` as docs/operations/README.md does: a named
// volume, the config folder read-only, a read-only root file system. Then
// the operator steps of TestDockerfile_RunsAsTheImage, through `docker
// exec` and `docker stop`. The test starts its own dockerd, on a socket
// and data root of its own.
//
// This machine cannot reach a registry: the base images are the local
// stand-ins TestImage_BuiltAndRun uses, built with buildah and loaded into
// dockerd under the FROM lines' names. The build's `go mod download`
// fetches through the Dockerfile's GOPROXY build argument from a module
// proxy the test serves on 127.0.0.1 out of this machine's module cache,
// as a build behind a company's proxy would.
func TestImage_DockerEngine(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: dockerd")
	}
	needTools(t, "dockerd", "docker", "buildah", "runc", "busybox")
	canContain(t)
	t.Parallel()
	repo := repoRoot(t)
	stages, img := dockerfile(t)
	d := startDockerd(t)
	s := newStore(t)
	began := time.Now()
	s.standIns(t, stages)
	for _, st := range stages {
		if st.Image == "" || slices.ContainsFunc(stages, func(o stage) bool { return o.Name == st.Image }) {
			continue
		}
		archive := filepath.Join(t.TempDir(), "base.tar")
		s.buildah(t, "push", "--quiet", qualified(st.Image), "docker-archive:"+archive+":"+st.Image)
		d.docker(t, "load", "--input", archive)
	}

	const tag = "botwarden:dockertest"
	proxy := moduleProxy(t, repo)
	t.Logf("base images loaded into dockerd in %s", time.Since(began).Round(time.Second))
	began = time.Now()
	d.docker(t, "build", "--network", "host", "--build-arg", "VERSION="+staticVersion,
		"--build-arg", "GOPROXY="+proxy, "--tag", tag, repo)
	t.Logf("docker build (cold: a fresh engine has no build cache) in %s", time.Since(began).Round(time.Second))
	d.checkConfig(t, tag, img)

	etc := t.TempDir()
	if err := os.Chmod(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	pool := writeConfig(t, etc, img)
	d.docker(t, "volume", "create", "botwarden-data")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tok := firstRun(ctx, t, d.run(t, "botwarden-1", tag, etc, img, pool), img)
	secondRun(ctx, t, d.run(t, "botwarden-2", tag, etc, img, pool), tok)
}

// dockerd is a Docker engine the test started.
type dockerd struct {
	host string // DOCKER_HOST
}

// startDockerd starts dockerd with its own socket, data and exec roots
// (no bridge, no iptables: containers get no network but their loopback)
// and stops it when the test ends. It takes overlay2, or vfs (slower, but
// needing nothing of the kernel) where dockerd refuses overlay2, and skips
// the test where dockerd cannot run at all.
func startDockerd(t *testing.T) *dockerd {
	t.Helper()
	var why []string
	for _, driver := range []string{"overlay2", "vfs"} {
		d, err := launchDockerd(t, driver)
		if err == nil {
			return d
		}
		why = append(why, driver+": "+err.Error())
	}
	t.Skipf("dockerd cannot run here:\n%s", strings.Join(why, "\n"))
	return nil
}

// launchDockerd starts dockerd on storage driver and waits until it
// answers; an error says why it exited instead.
func launchDockerd(t *testing.T, driver string) (*dockerd, error) {
	t.Helper()
	dir, err := os.MkdirTemp("", "dockerd-") // short: a unix socket path is at most 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	d := &dockerd{host: "unix://" + filepath.Join(dir, "docker.sock")}
	logs, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dockerd", "--host", d.host, "--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"), "--pidfile", filepath.Join(dir, "dockerd.pid"),
		"--storage-driver", driver, "--bridge", "none", "--iptables=false", "--ip6tables=false")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_, _ = d.cmd("rm", "--force", "botwarden-1", "botwarden-2")
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logs.Close()
		unmountUnder(dir) // dockerd leaves its network namespace bind-mounted
		_ = os.RemoveAll(dir)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if _, err := d.cmd("version"); err == nil {
			t.Cleanup(stop)
			return d, nil
		}
		select {
		case err := <-exited:
			exited <- err
			out, _ := os.ReadFile(logs.Name())
			stop()
			return nil, fmt.Errorf("%v\n%s", err, lastLines(string(out), 10))
		default:
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logs.Name())
			stop()
			t.Fatalf("dockerd (%s) did not answer within 30s:\n%s", driver, lastLines(string(out), 30))
		}
	}
}

// cmd runs the docker client against d; the legacy builder, which needs
// no buildx plugin and pulls nothing it is not asked to.
func (d *dockerd) cmd(args ...string) (string, error) {
	c := exec.Command("docker", args...)
	c.Env = append(os.Environ(), "DOCKER_HOST="+d.host, "DOCKER_BUILDKIT=0", "DOCKER_CONFIG="+filepath.Dir(strings.TrimPrefix(d.host, "unix://")))
	out, err := c.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %w\n%s", strings.Join(args, " "), err, lastLines(string(out), 30))
	}
	return string(out), nil
}

func (d *dockerd) docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := d.cmd(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkConfig checks the built image's configuration against what
// readImage reads from the Dockerfile.
func (d *dockerd) checkConfig(t *testing.T, tag string, img image) {
	t.Helper()
	var inspect []struct{ Config ociConfig }
	out := d.docker(t, "image", "inspect", tag)
	if err := json.Unmarshal([]byte(out), &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("docker image inspect: %v\n%s", err, out)
	}
	img.checkConfig(t, inspect[0].Config)
}

// run starts the image as README's `docker run -d` does, with no network
// but its own loopback (the test reaches the port from inside the
// container's network namespace) and a read-only root.
func (d *dockerd) run(t *testing.T, name, tag, etc string, img image, pool *x509.CertPool) *container {
	t.Helper()
	d.docker(t, "run", "--detach", "--name", name, "--network", "none", "--read-only",
		"--volume", "botwarden-data:"+img.volume, "--volume", etc+":/etc/botwarden:ro", tag)
	pid, err := strconv.Atoi(strings.TrimSpace(d.docker(t, "inspect", "--format", "{{.State.Pid}}", name)))
	if err != nil || pid <= 0 {
		out, _ := d.cmd("logs", name)
		t.Fatalf("%s is not running (pid %d, %v); its output:\n%s", name, pid, err, lastLines(out, 40))
	}
	return newContainer(t, &cliRun{cli: d.cmd, tool: "docker", name: name, img: img, pid1: pid}, img.port, pool)
}

// moduleProxy serves this machine's module cache as a Go module proxy
// (the cache's download folder has the proxy protocol's layout) on
// 127.0.0.1 and returns its URL. It first runs the Dockerfile's `go mod
// download` in repo on this machine, so that the cache holds every module
// the build will ask for: a fresh machine's builds and tests never fetch
// modules no Linux build needs (cobra's Windows-only mousetrap), but `go
// mod download` does.
func moduleProxy(t *testing.T, repo string) string {
	t.Helper()
	dl := exec.Command(goTool(), "mod", "download")
	dl.Dir = repo
	if out, err := dl.CombinedOutput(); err != nil {
		t.Fatalf("go mod download (to fill the module cache the proxy serves): %v\n%s", err, out)
	}
	out, err := exec.Command(goTool(), "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOMODCACHE: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(filepath.Join(strings.TrimSpace(string(out)), "cache", "download"))),
		ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// unmountUnder detaches every mount below dir, deepest first.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			points = append(points, f[4])
		}
	}
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	for _, p := range points {
		_ = unix.Unmount(p, unix.MNT_DETACH)
	}
}
