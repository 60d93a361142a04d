package operations

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// standIns makes, in the store, a local image under each name the
// Dockerfile's FROM lines give, since this machine cannot pull them. Each
// holds what the build uses of the real one; a base image it does not
// know fails the test, so a new FROM line is not silently built on
// nothing.
func (s *store) standIns(t *testing.T, stages []stage) {
	t.Helper()
	for _, st := range stages {
		switch {
		case strings.HasPrefix(st.Image, "golang:"):
			s.goStandIn(t, st.Image)
		case strings.HasPrefix(st.Image, "gcr.io/distroless/static"):
			s.distrolessStandIn(t, st.Image)
		default:
			t.Fatalf("FROM %s: TestImage_BuiltAndRun has no stand-in for this base image: teach standIns", st.Image)
		}
	}
}

// goStandIn stands in for the official golang image: this machine's Go
// toolchain, which must be of the tag's version, at /usr/local/go, a
// shell and the CA certificates, with the official image's environment.
func (s *store) goStandIn(t *testing.T, ref string) {
	t.Helper()
	out, err := exec.Command(goTool(), "env", "GOROOT", "GOVERSION").Output()
	f := strings.Fields(string(out))
	if err != nil || len(f) != 2 {
		t.Fatalf("go env GOROOT GOVERSION: %v %q", err, out)
	}
	goroot, version := f[0], f[1]
	if tag := strings.TrimPrefix(ref, "golang:"); version != "go"+tag && !strings.HasPrefix(version, "go"+tag+".") {
		t.Fatalf("FROM %s, but this machine's Go is %s: the stand-in would not be that image", ref, version)
	}
	c, root := s.scratch(t)
	for _, d := range []string{"bin", "etc/ssl/certs", "usr/local", "root", "go"} {
		mkdir(t, filepath.Join(root, d), 0o755)
	}
	mkdir(t, filepath.Join(root, "tmp"), 0o777|os.ModeSticky)
	busybox, _ := exec.LookPath("busybox")
	copyInto(t, busybox, filepath.Join(root, "bin", "busybox"))
	copyInto(t, goroot, filepath.Join(root, "usr", "local", "go"))
	copyInto(t, "/etc/ssl/certs/ca-certificates.crt", filepath.Join(root, "etc", "ssl", "certs", "ca-certificates.crt"))
	write(t, filepath.Join(root, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n")
	s.buildah(t, "run", "--isolation=chroot", c, "--", "/bin/busybox", "--install", "-s", "/bin")
	s.buildah(t, "config", "--workingdir", "/go", "--env", "GOPATH=/go", "--env", "GOTOOLCHAIN=local",
		"--env", "PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", c)
	s.buildah(t, "commit", "--rm", "--quiet", c, qualified(ref))
}

// distrolessStandIn stands in for gcr.io/distroless/static:nonroot: a
// user database naming nonroot (65532), the CA certificates, /tmp and the
// user's home, run as that user. The real image's tzdata is left out.
func (s *store) distrolessStandIn(t *testing.T, ref string) {
	t.Helper()
	c, root := s.scratch(t)
	mkdir(t, filepath.Join(root, "etc", "ssl", "certs"), 0o755)
	mkdir(t, filepath.Join(root, "tmp"), 0o777|os.ModeSticky)
	home := filepath.Join(root, "home", "nonroot")
	mkdir(t, home, 0o700)
	if err := os.Chown(home, 65532, 65532); err != nil {
		t.Fatal(err)
	}
	copyInto(t, "/etc/ssl/certs/ca-certificates.crt", filepath.Join(root, "etc", "ssl", "certs", "ca-certificates.crt"))
	write(t, filepath.Join(root, "etc", "passwd"), "root:x:0:0:root:/root:/sbin/nologin\n"+
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")
	write(t, filepath.Join(root, "etc", "group"), "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n")
	s.buildah(t, "config", "--user", "65532", "--workingdir", "/home/nonroot",
		"--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"--env", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt", c)
	s.buildah(t, "commit", "--rm", "--quiet", c, qualified(ref))
}

// scratch starts an empty working container and returns it and its root.
func (s *store) scratch(t *testing.T) (id, root string) {
	t.Helper()
	c := strings.TrimSpace(s.buildah(t, "from", "scratch"))
	return c, strings.TrimSpace(s.buildah(t, "mount", c))
}

// qualified is ref with the registry Docker would pull it from, so a
// build's FROM finds the local image by its short name.
func qualified(ref string) string {
	first, _, found := strings.Cut(ref, "/")
	switch {
	case !found:
		return "docker.io/library/" + ref
	case strings.ContainsAny(first, ".:") || first == "localhost":
		return ref
	default:
		return "docker.io/" + ref
	}
}

func mkdir(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, p, text string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyInto copies a file or a whole tree, keeping modes and links.
func copyInto(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v\n%s", src, dst, err, out)
	}
}
