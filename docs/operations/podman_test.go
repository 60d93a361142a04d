package operations

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestImage_BuiltAndRun builds the image from the Dockerfile, unchanged,
// with buildah (the builder under `podman build`), and runs it with podman
// on runc the way docs/operations/README.md runs it with docker: a named
// volume on /var/lib/botwarden, the config folder mounted read-only on
// /etc/botwarden, and here also a read-only root file system, /tmp
// included, so the service can write nothing but the volume. Then the
// same operator steps as TestDockerfile_RunsAsTheImage, through `podman
// exec` and `podman stop`.
//
// This machine cannot reach a container registry, so the two base images
// are local stand-ins under the names the FROM lines give (standIns): Go
// from this machine's own toolchain of the same minor version, and
// distroless/static's few files. The build borrows this machine's module
// and build caches, as BuildKit cache mounts would, so `go mod download`
// finds every module already there.
func TestImage_BuiltAndRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: rootful podman and buildah with chroot isolation")
	}
	needTools(t, "buildah", "podman", "runc", "busybox")
	canContain(t)
	t.Parallel()
	repo := repoRoot(t)
	stages, img := dockerfile(t)
	staticBinary(t) // fills the build cache the image's build borrows
	s := newStore(t)
	s.standIns(t, stages)

	const tag = "localhost/botwarden:test"
	s.build(t, repo, tag)
	s.checkConfig(t, tag, img)
	s.checkFiles(t, tag, img)

	etc := t.TempDir()
	if err := os.Chmod(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	pool := writeConfig(t, etc, img)
	s.podman(t, "volume", "create", "botwarden-data")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	tok := firstRun(ctx, t, s.run(t, "botwarden-1", tag, etc, img, pool), img)
	vol := strings.TrimSpace(s.podman(t, "volume", "inspect", "--format", "{{.Mountpoint}}", "botwarden-data"))
	if err := ownedBy(vol, img.uid); err != nil {
		t.Errorf("volume: %v", err)
	}
	if _, err := os.Stat(filepath.Join(vol, "ledger")); err != nil {
		t.Errorf("the ledger is not in the volume: %v", err)
	}
	secondRun(ctx, t, s.run(t, "botwarden-2", tag, etc, img, pool), tok)
}

// needTools skips the test (fails it in CI, where .ci/run installs them)
// when one of the programs is missing.
func needTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found: .ci/run must install it", n)
			}
			t.Skipf("%s not found; to run this test: apt-get install buildah podman runc busybox-static docker.io", n)
		}
	}
}

// canContain skips the test where the sandbox forbids what any container
// runtime needs: new mount, PID, network, IPC and UTS namespaces.
func canContain(t *testing.T) {
	t.Helper()
	busybox, _ := exec.LookPath("busybox")
	cmd := exec.Command(busybox, "true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID |
		syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS}
	if err := cmd.Run(); errors.Is(err, syscall.EPERM) {
		t.Skipf("cannot run a container here: %v (a runtime needs new namespaces)", err)
	} else if err != nil {
		t.Fatalf("busybox true in new namespaces: %v", err)
	}
}

// store is a private container storage in a temporary folder, used by
// buildah and podman alike: the test's images, containers and volumes are
// not the machine's. (The tools still keep a blob cache and lock files in
// their usual places.)
type store struct {
	dir   string
	flags []string
}

func newStore(t *testing.T) *store {
	dir := t.TempDir()
	s := &store{dir: dir, flags: []string{"--root", filepath.Join(dir, "root"),
		"--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs"}}
	t.Cleanup(func() {
		// Containers hold mounts (/dev/shm) in the run root: end them
		// before the folder is removed.
		_, _ = s.cmd("podman", "rm", "--all", "--force", "--time", "0")
		_, _ = s.cmd("buildah", "rm", "--all")
	})
	return s
}

// cmd runs buildah or podman on the store and returns their combined output.
func (s *store) cmd(tool string, args ...string) (string, error) {
	argv := slices.Clone(s.flags)
	if tool == "podman" {
		// runc: crun refuses this machine's hybrid cgroup hierarchy.
		argv = append(argv, "--runtime", "runc", "--cgroup-manager", "cgroupfs",
			"--tmpdir", filepath.Join(s.dir, "libpod"), "--events-backend", "none")
	}
	out, err := exec.Command(tool, append(argv, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", tool, strings.Join(args, " "), err, lastLines(string(out), 30))
	}
	return string(out), nil
}

func (s *store) buildah(t *testing.T, args ...string) string {
	t.Helper()
	out, err := s.cmd("buildah", args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (s *store) podman(t *testing.T, args ...string) string {
	t.Helper()
	out, err := s.cmd("podman", args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// build runs the Dockerfile's build as `docker build --build-arg
// VERSION=… -t tag .` would, with this machine's module and build caches
// mounted where the Go stage keeps them.
func (s *store) build(t *testing.T, repo, tag string) {
	t.Helper()
	out, err := exec.Command(goTool(), "env", "GOMODCACHE", "GOCACHE").Output()
	caches := strings.Fields(string(out))
	if err != nil || len(caches) != 2 {
		t.Fatalf("go env GOMODCACHE GOCACHE: %v %q", err, out)
	}
	s.buildah(t, "build", "--pull=never", "--isolation=chroot", "--layers=false",
		"-v", caches[0]+":/go/pkg/mod", "-v", caches[1]+":/root/.cache/go-build",
		"--build-arg", "VERSION="+staticVersion, "-t", tag, repo)
}

// ociConfig is the part of an image's OCI configuration a runtime starts
// it by.
type ociConfig struct {
	User         string
	ExposedPorts map[string]struct{}
	Volumes      map[string]struct{}
	Entrypoint   []string
	Cmd          []string
}

// checkConfig checks the built image's configuration against what
// readImage reads from the Dockerfile, which TestDockerfile_RunsAsTheImage
// trusts.
func (s *store) checkConfig(t *testing.T, tag string, img image) {
	t.Helper()
	var inspect struct {
		OCIv1 struct{ Config ociConfig }
	}
	out := s.buildah(t, "inspect", "--type", "image", tag)
	if err := json.Unmarshal([]byte(out), &inspect); err != nil {
		t.Fatalf("buildah inspect: %v\n%s", err, out)
	}
	img.checkConfig(t, inspect.OCIv1.Config)
}

// checkConfig checks a built image's configuration against img, what
// readImage reads from the Dockerfile.
func (img image) checkConfig(t *testing.T, cfg ociConfig) {
	t.Helper()
	if want := fmt.Sprintf("%d:%d", img.uid, img.gid); cfg.User != want {
		t.Errorf("image user %q, want %q", cfg.User, want)
	}
	if _, ok := cfg.Volumes[img.volume]; !ok || len(cfg.Volumes) != 1 {
		t.Errorf("image volumes %v, want only %s", cfg.Volumes, img.volume)
	}
	if _, ok := cfg.ExposedPorts[img.port+"/tcp"]; !ok {
		t.Errorf("image ports %v, want %s/tcp", cfg.ExposedPorts, img.port)
	}
	if !slices.Equal(cfg.Entrypoint, img.entrypoint) || !slices.Equal(cfg.Cmd, img.cmd) {
		t.Errorf("image starts %q %q, want %q %q", cfg.Entrypoint, cfg.Cmd, img.entrypoint, img.cmd)
	}
}

// checkFiles checks the built image's files: the entrypoint is a static
// executable and the volume's mount point belongs to the image's user.
func (s *store) checkFiles(t *testing.T, tag string, img image) {
	t.Helper()
	c := strings.TrimSpace(s.buildah(t, "from", "--pull=never", tag))
	root := strings.TrimSpace(s.buildah(t, "mount", c))
	if err := isStatic(filepath.Join(root, img.entrypoint[0])); err != nil {
		t.Error(err)
	}
	fi, err := os.Stat(img.volumePath(root))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != img.uid || int(st.Gid) != img.gid {
		t.Errorf("%s in the image is owned by %d:%d, want %d:%d", img.volume, st.Uid, st.Gid, img.uid, img.gid)
	}
	s.buildah(t, "rm", c)
}

// run starts the image as README's `docker run -d` does, with no network
// but its own loopback; the test reaches the exposed port from inside the
// container's network namespace. Podman's default limits (a million files
// and processes) are more than some sandboxes let a runtime set, so the
// container gets this process's file limit and 4096 processes.
func (s *store) run(t *testing.T, name, tag, etc string, img image, pool *x509.CertPool) *container {
	t.Helper()
	var nofile unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		t.Fatal(err)
	}
	_, err := s.cmd("podman", "run", "--detach", "--name", name, "--network", "none",
		"--read-only", "--read-only-tmpfs=false", // as docker's --read-only: not even /tmp
		"--log-driver", "k8s-file",
		"--ulimit", fmt.Sprintf("nofile=%d:%d", nofile.Cur, nofile.Max),
		"--ulimit", "nproc=4096:4096",
		"-v", "botwarden-data:"+img.volume, "-v", etc+":/etc/botwarden:ro", tag)
	if err != nil && strings.Contains(err.Error(), "OCI permission denied") {
		// The runtime could not set the container up (limits, cgroups,
		// mounts): this sandbox, not the image.
		t.Skipf("cannot run a container here: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s.podman(t, "inspect", "--format", "{{.State.Pid}}", name)))
	if err != nil || pid <= 0 {
		t.Fatalf("%s is not running (pid %d, %v); its output:\n%s", name, pid, err, s.logs(name))
	}
	podman := func(args ...string) (string, error) { return s.cmd("podman", args...) }
	return newContainer(t, &cliRun{cli: podman, tool: "podman", name: name, img: img, pid1: pid}, img.port, pool)
}

func (s *store) logs(name string) string {
	out, _ := s.cmd("podman", "logs", name)
	return lastLines(out, 40)
}

// cliRun is one container run by a docker-compatible CLI (podman, or
// docker against the test's dockerd): cli runs one of its commands.
type cliRun struct {
	cli  func(args ...string) (string, error)
	tool string // for messages
	name string
	img  image
	pid1 int
}

func (r *cliRun) pid() int      { return r.pid1 }
func (r *cliRun) netns() string { return fmt.Sprintf("/proc/%d/ns/net", r.pid1) }
func (r *cliRun) output() string {
	out, _ := r.cli("logs", r.name)
	return lastLines(out, 40)
}

func (r *cliRun) exec(args ...string) (string, error) {
	return r.cli(append([]string{"exec", r.name, r.img.entrypoint[0]}, args...)...)
}

func (r *cliRun) exited() error {
	out, err := r.cli("inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", r.name)
	if err != nil {
		return err
	}
	if running, code, _ := strings.Cut(strings.TrimSpace(out), " "); running != "true" {
		return fmt.Errorf("the container exited with code %s", code)
	}
	return nil
}

// stop is `docker stop`: SIGTERM, SIGKILL after 30 s, then the exit code.
func (r *cliRun) stop() error {
	if _, err := r.cli("stop", "--time", "30", r.name); err != nil {
		return err
	}
	out, err := r.cli("inspect", "--format", "{{.State.ExitCode}}", r.name)
	if err != nil {
		return err
	}
	if code := strings.TrimSpace(out); code != "0" {
		return fmt.Errorf("exit code %s after %s stop", code, r.tool)
	}
	return nil
}
