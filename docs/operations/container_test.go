package operations

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// image is the final stage of the Dockerfile as a container runtime sees
// it: the files it copies from the build stage and how it starts.
type image struct {
	copies     []imageCopy
	uid, gid   int
	volume     string
	port       string // the first EXPOSE
	entrypoint []string
	cmd        []string
}

// imageCopy is one COPY --from=<build stage> line.
type imageCopy struct {
	src, dst string
	uid, gid int // --chown; 0 (root) without it
}

// readImage reads the final stage of the Dockerfile. Only the
// instructions it understands may appear there, so that a new one is not
// silently left out of the container test.
func readImage(t *testing.T, stages []stage) image {
	t.Helper()
	build, final := stages[0], stages[len(stages)-1]
	var img image
	for _, in := range final.Body {
		switch in.Cmd {
		case "COPY":
			c, err := parseCopy(in.Args, build.Name)
			if err != nil {
				t.Fatal(err)
			}
			img.copies = append(img.copies, c)
		case "USER":
			u, g, _ := strings.Cut(in.Args, ":")
			var err1, err2 error
			img.uid, err1 = strconv.Atoi(u)
			img.gid, err2 = strconv.Atoi(g)
			if err1 != nil || err2 != nil {
				t.Fatalf("USER %q: want numeric UID:GID (distroless has no user database to look names up in)", in.Args)
			}
		case "VOLUME":
			img.volume = strings.Trim(in.Args, `[]" `)
		case "EXPOSE":
			if img.port == "" {
				img.port = strings.TrimSuffix(strings.Fields(in.Args)[0], "/tcp")
			}
		case "ENTRYPOINT", "CMD":
			var argv []string
			if err := json.Unmarshal([]byte(in.Args), &argv); err != nil || len(argv) == 0 {
				t.Fatalf("%s %s: want the exec (JSON array) form: there is no shell in the image", in.Cmd, in.Args)
			}
			if in.Cmd == "CMD" {
				img.cmd = argv
			} else {
				img.entrypoint = argv
			}
		default:
			t.Fatalf("the final stage has %s, which TestDockerfile_RunsAsTheImage does not emulate: teach it", in.Cmd)
		}
	}
	if img.uid == 0 || img.volume == "" || img.port == "" || len(img.entrypoint) == 0 {
		t.Fatalf("final stage %+v: want USER, VOLUME, EXPOSE and ENTRYPOINT", img)
	}
	return img
}

// parseCopy reads "--from=STAGE [--chown=U:G] SRC DST".
func parseCopy(args, from string) (imageCopy, error) {
	c := imageCopy{}
	var rest []string
	fromOK := false
	for _, f := range strings.Fields(args) {
		switch {
		case f == "--from="+from:
			fromOK = true
		case strings.HasPrefix(f, "--chown="):
			u, g, _ := strings.Cut(strings.TrimPrefix(f, "--chown="), ":")
			var err1, err2 error
			c.uid, err1 = strconv.Atoi(u)
			c.gid, err2 = strconv.Atoi(g)
			if err1 != nil || err2 != nil {
				return c, fmt.Errorf("COPY %s: want a numeric --chown", args)
			}
		case strings.HasPrefix(f, "--"):
			return c, fmt.Errorf("COPY %s: flag %s is not emulated", args, f)
		default:
			rest = append(rest, f)
		}
	}
	if !fromOK || len(rest) != 2 {
		return c, fmt.Errorf("COPY %s: want --from=%s SRC DST", args, from)
	}
	c.src, c.dst = rest[0], rest[1]
	return c, nil
}

// buildOutputs is what the build stage leaves behind: the binary of its
// `go build -o PATH` and the folders of its `mkdir -p`.
func buildOutputs(t *testing.T, build stage, bin string) map[string]string {
	t.Helper()
	runs := strings.Join(build.all("RUN"), "\n")
	out := map[string]string{}
	if m := regexp.MustCompile(`go build .*-o (\S+)`).FindStringSubmatch(runs); m != nil {
		out[m[1]] = bin
	}
	for _, m := range regexp.MustCompile(`mkdir -p ((?:\S+ ?)+)`).FindAllStringSubmatch(runs, -1) {
		for _, d := range strings.Fields(m[1]) {
			if strings.HasPrefix(d, "/") {
				out[d] = "" // an empty folder
			}
		}
	}
	return out
}

// assemble lays out the image's file system under root: what the final
// stage copies, and /tmp, which distroless has. Nothing else: no shell,
// no libc, no user database, so a binary that needed one would fail here.
func assemble(t *testing.T, root string, img image, outputs map[string]string) {
	t.Helper()
	for _, c := range img.copies {
		src, ok := outputs[c.src]
		if !ok {
			t.Fatalf("COPY %s: the build stage does not make it (or this test does not know how)", c.src)
		}
		dst := filepath.Join(root, c.dst)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if src == "" {
			if err := os.Mkdir(dst, 0o755); err != nil {
				t.Fatal(err)
			}
		} else if err := copyFile(src, dst, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(dst, c.uid, c.gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(root, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o755); err != nil { // t.TempDir is 0700
		t.Fatal(err)
	}
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// writeConfig writes into dir what docs/operations/README.md mounts at
// /etc/botwarden: a config binding 0.0.0.0 on the exposed port with TLS
// (the container section's listen line), and its certificate and key,
// readable by the image's user only where they must be.
func writeConfig(t *testing.T, etc string, img image) *x509.CertPool {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(etc, "tls"), 0o755); err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, pool := selfSigned(t)
	config := fmt.Sprintf(`environment: dev
listen: {http: "0.0.0.0:%s", admin: "127.0.0.1:0", tls_cert: tls/tls.crt, tls_key: tls/tls.key}
policy_file: embedded:demo
stop_timeout: 5s
bots: [{id: alpha, group: majors, driver: sim}]
demo: {safety_feed: true}
`, img.port)
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
		gid  int
	}{
		{"config.yaml", []byte(config), 0o644, 0},
		{"tls/tls.crt", certPEM, 0o644, 0},
		{"tls/tls.key", keyPEM, 0o640, img.gid},
	} {
		p := filepath.Join(etc, f.name)
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, 0, f.gid); err != nil {
			t.Fatal(err)
		}
	}
	return pool
}

// A runner is one run of the image by some container runtime.
type runner interface {
	netns() string                       // the container's network namespace
	pid() int                            // its first process, as the host sees it
	exec(args ...string) (string, error) // `docker exec` of the image's binary
	stop() error                         // `docker stop`: SIGTERM, then the exit status
	exited() error                       // non-nil once the container has ended
	output() string                      // what it printed so far (for failures)
}

// container is one run of the image and a client reaching its exposed
// port from inside its network namespace.
type container struct {
	runner
	t    *testing.T
	http *http.Client
	base string
}

func newContainer(t *testing.T, r runner, port string, pool *x509.CertPool) *container {
	t.Helper()
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := inNetns(r.netns(), func() error {
			var err error
			conn, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}
	return &container{runner: r, t: t, base: "https://127.0.0.1:" + port,
		http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DialContext: dial, TLSClientConfig: &tls.Config{RootCAs: pool}}}}
}

// chrootRun runs the image's process directly: chrooted, as its USER, in
// a network namespace of its own.
type chrootRun struct {
	root string
	img  image
	cmd  *exec.Cmd
	logs *os.File
	// done is closed once the process has ended; waitErr is then how.
	done    chan struct{}
	waitErr error
}

// start runs ENTRYPOINT + CMD as the image's USER, chrooted to root, in
// a new network namespace, with the environment a runtime gives.
func start(t *testing.T, root string, img image, pool *x509.CertPool) *container {
	t.Helper()
	logs, err := os.CreateTemp(t.TempDir(), "container-*.log")
	if err != nil {
		t.Fatal(err)
	}
	argv := append(append([]string(nil), img.entrypoint...), img.cmd...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/home/nonroot"}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Chroot:     root,
		Credential: &syscall.Credential{Uid: uint32(img.uid), Gid: uint32(img.gid), Groups: []uint32{}},
		Cloneflags: syscall.CLONE_NEWNET,
		Pdeathsig:  syscall.SIGKILL,
	}
	if err := cmd.Start(); errors.Is(err, syscall.EPERM) {
		// Root, but in a sandbox that forbids new namespaces or chroot.
		t.Skipf("cannot run the image here: %v (a container runtime needs chroot and a network namespace)", err)
	} else if err != nil {
		t.Fatalf("start %v chrooted to %s: %v", argv, root, err)
	}
	r := &chrootRun{root: root, img: img, cmd: cmd, logs: logs, done: make(chan struct{})}
	go func() {
		r.waitErr = cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.done
	})
	if err := loopbackUp(r.netns()); err != nil {
		t.Fatal(err)
	}
	return newContainer(t, r, img.port, pool)
}

func (r *chrootRun) pid() int      { return r.cmd.Process.Pid }
func (r *chrootRun) netns() string { return fmt.Sprintf("/proc/%d/ns/net", r.pid()) }
func (r *chrootRun) output() string {
	b, _ := os.ReadFile(r.logs.Name())
	return lastLines(string(b), 40)
}

func (r *chrootRun) exited() error {
	select {
	case <-r.done:
		return fmt.Errorf("the container exited: %v", r.waitErr)
	default:
		return nil
	}
}

// exec runs the image's binary with args inside the running container
// (its root, network namespace and user), as `docker exec` does.
func (r *chrootRun) exec(args ...string) (string, error) {
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return "", err
	}
	argv := append([]string{"--net=" + r.netns(), "--root=" + r.root, "--wd=/",
		"--setgid=" + strconv.Itoa(r.img.gid), "--setuid=" + strconv.Itoa(r.img.uid), "--", r.img.entrypoint[0]}, args...)
	cmd := exec.Command(nsenter, argv...)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/nonroot"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// stop sends SIGTERM, as `docker stop` does, and waits for the exit.
func (r *chrootRun) stop() error {
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-r.done:
		return r.waitErr
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
		return errors.New("still running 30 s after SIGTERM")
	}
}

// get GETs path and returns the status code and body.
func (c *container) get(path string) (int, []byte, error) {
	resp, err := c.http.Get(c.base + path)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// waitReady polls /readyz until it answers 200.
func (c *container) waitReady(ctx context.Context) {
	c.t.Helper()
	err := poll(ctx, "GET /readyz in the container", func() (bool, error) {
		if err := c.exited(); err != nil {
			return false, err
		}
		code, _, err := c.get("/readyz")
		return err == nil && code == http.StatusOK, nil
	})
	if err != nil {
		c.t.Fatalf("%v\ncontainer output:\n%s", err, c.output())
	}
}

// tree lists every path under root with its owner, except under skip.
func tree(t *testing.T, root string, skip ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := "/" + strings.TrimPrefix(p[len(root):], "/")
		for _, s := range skip {
			if rel == s || strings.HasPrefix(rel, s+"/") {
				if d.IsDir() && rel == s {
					out[rel] = owner(p)
					return nil
				}
				return nil
			}
		}
		out[rel] = owner(p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func owner(p string) string {
	fi, err := os.Lstat(p)
	if err != nil {
		return err.Error()
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%d:%d %v", st.Uid, st.Gid, fi.Mode())
}

// ownedBy reports the first path under dir not owned by uid.
func ownedBy(dir string, uid int) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if got := fi.Sys().(*syscall.Stat_t).Uid; int(got) != uid {
			return fmt.Errorf("%s is owned by uid %d", p, got)
		}
		return nil
	})
}

// volumePath is the image's volume inside root.
func (img image) volumePath(root string) string { return filepath.Join(root, path.Clean(img.volume)) }
