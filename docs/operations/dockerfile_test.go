package operations

import (
	"debug/elf"
	"errors"
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	Cmd  string // upper case: FROM, RUN, COPY, ...
	Args string
}

// stage is one FROM and the instructions after it.
type stage struct {
	Image, Name string
	Body        []instruction
}

func parseDockerfile(text string) []stage {
	var stages []stage
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)}
		if in.Cmd == "FROM" {
			f := strings.Fields(in.Args)
			var s stage
			if len(f) > 0 {
				s.Image = f[0]
			}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.Name = f[2]
			}
			stages = append(stages, s)
			return
		}
		if len(stages) > 0 {
			stages[len(stages)-1].Body = append(stages[len(stages)-1].Body, in)
		}
	}
	for _, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") {
			continue
		}
		if body, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(strings.TrimSpace(body) + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	return stages
}

func (s stage) all(cmd string) []string {
	var out []string
	for _, in := range s.Body {
		if in.Cmd == cmd {
			out = append(out, in.Args)
		}
	}
	return out
}

func TestParseDockerfile(t *testing.T) {
	st := parseDockerfile("# c\nFROM a:1 AS b\nRUN x \\\n  y\nFROM c\nUSER 1\n")
	if len(st) != 2 || st[0].Name != "b" || st[0].all("RUN")[0] != "x y" || st[1].Image != "c" || st[1].all("USER")[0] != "1" {
		t.Fatalf("parsed %+v", st)
	}
}

func FuzzParseDockerfile(f *testing.F) {
	f.Add("FROM a AS b\nRUN x \\\n y\nFROM c\nUSER 1\n")
	f.Fuzz(func(t *testing.T, text string) {
		for _, s := range parseDockerfile(text) {
			for _, in := range s.Body {
				if in.Cmd == "FROM" || strings.Contains(in.Cmd, " ") {
					t.Fatalf("instruction %+v in a stage body", in)
				}
			}
		}
	})
}

func TestDockerfile_Properties(t *testing.T) {
	root := repoRoot(t)
	stages := parseDockerfile(string(readFile(t, filepath.Join(root, "Dockerfile"))))
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, got %d stage(s)", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(string(readFile(t, filepath.Join(root, "go.mod"))))
	if goVersion == nil || !strings.HasPrefix(build.Image, "golang:"+goVersion[1]) || build.Name == "" {
		t.Errorf("builder %q (as %q): want golang:%v AS NAME, matching go.mod", build.Image, build.Name, goVersion)
	}
	if !strings.HasPrefix(final.Image, "gcr.io/distroless/static") && final.Image != "scratch" {
		t.Errorf("final image %q: want distroless static or scratch", final.Image)
	}

	runs := strings.Join(build.all("RUN"), "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/botwarden", ldflagsVersion(t, root)} {
		if !strings.Contains(runs, want) {
			t.Errorf("builder RUN lacks %q", want)
		}
	}
	copied := strings.Join(final.all("COPY"), "\n")
	if !strings.Contains(copied, "--from="+build.Name+" ") {
		t.Errorf("final stage copies nothing from %q", build.Name)
	}

	users := final.all("USER")
	if len(users) == 0 {
		t.Error("final stage has no USER: it would run as root")
	}
	for _, u := range users {
		if name, _, _ := strings.Cut(u, ":"); name == "root" || name == "0" {
			t.Errorf("USER %s is root", u)
		}
	}
	if vols := strings.Join(final.all("VOLUME"), " "); !strings.Contains(vols, "/var/lib/botwarden") {
		t.Errorf("VOLUME %q: want /var/lib/botwarden", vols)
	}
	if len(final.all("EXPOSE")) == 0 {
		t.Error("no EXPOSE")
	}
	if hc := final.all("HEALTHCHECK"); len(hc) > 0 && !strings.HasPrefix(hc[0], "NONE") {
		t.Errorf("HEALTHCHECK %q cannot run in distroless (no shell, no curl)", hc[0])
	}
	entry, cmd := strings.Join(final.all("ENTRYPOINT"), " "), strings.Join(final.all("CMD"), " ")
	if !strings.Contains(entry, "/usr/local/bin/botwarden") || !strings.Contains(copied, "/usr/local/bin/botwarden") {
		t.Errorf("ENTRYPOINT %q is not the copied binary", entry)
	}
	if !strings.Contains(cmd, `"--data", "/var/lib/botwarden"`) || !strings.Contains(cmd, `"serve"`) {
		t.Errorf("CMD %q must serve with --data on the volume", cmd)
	}
}

// ldflagsVersion is the version stamp as the Makefile writes it.
func ldflagsVersion(t *testing.T, root string) string {
	m := regexp.MustCompile(`-X (main\.version)=`).FindString(string(readFile(t, filepath.Join(root, "Makefile"))))
	if m == "" {
		t.Fatal("Makefile no longer stamps -X main.version=")
	}
	return m
}

// staticBinary builds cmd/botwarden once per test run the way the
// image's build stage does (its `go build` line, which
// TestDockerfile_Properties pins), outside Docker.
func staticBinary(t *testing.T) string {
	t.Helper()
	staticOnce.Do(func() {
		text := string(readFile(t, filepath.Join(repoRoot(t), "Dockerfile")))
		if !strings.Contains(text, "CGO_ENABLED=0 GOOS=linux go build -trimpath -buildvcs=false") {
			staticErr = errors.New("the Dockerfile's build command changed: update staticBinary to run the new one")
			return
		}
		staticPath = filepath.Join(scratch(t), "botwarden-static")
		cmd := exec.Command(goTool(), "build", "-trimpath", "-buildvcs=false", "-ldflags", "-X main.version="+staticVersion, "-o", staticPath, "./cmd/botwarden")
		cmd.Dir = repoRoot(t)
		cmd.Env = append(cleanEnv(), "CGO_ENABLED=0", "GOOS=linux")
		if out, err := cmd.CombinedOutput(); err != nil {
			staticErr = fmt.Errorf("CGO_ENABLED=0 go build ./cmd/botwarden: %v\n%s", err, out)
		}
	})
	if staticErr != nil {
		t.Fatal(staticErr)
	}
	return staticPath
}

// staticVersion is the VERSION build argument staticBinary stamps.
const staticVersion = "static-test"

var (
	staticOnce sync.Once
	staticPath string
	staticErr  error
)

// TestDockerfile_BuildsStatic checks what the image's build command
// gives: a statically linked executable (no program interpreter, no
// dynamic section) that runs. This machine has no Docker engine;
// TestDockerfile_RunsAsTheImage and TestImage_BuiltAndRun run it as the image would.
func TestDockerfile_BuildsStatic(t *testing.T) {
	t.Parallel()
	bin := staticBinary(t)
	if err := isStatic(bin); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "botwarden") {
		t.Fatalf("static binary --help: %v\n%s", err, out)
	}
}

// isStatic returns an error unless the executable at path is statically
// linked: no program interpreter, no dynamic section.
func isStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			return fmt.Errorf("%s is dynamically linked (program header %v)", path, p.Type)
		}
	}
	return nil
}

// dockerignored reports whether a .dockerignore pattern list excludes p.
func dockerignored(patterns []string, p string) bool {
	ignored := false
	for _, pat := range patterns {
		neg := strings.HasPrefix(pat, "!")
		pat = strings.TrimPrefix(strings.TrimPrefix(pat, "!"), "/")
		if matchIgnore(pat, p) {
			ignored = !neg
		}
	}
	return ignored
}

// matchIgnore matches p or any of its parent folders against pat ("**/"
// matches any depth).
func matchIgnore(pat, p string) bool {
	for q := p; q != "." && q != "/"; q = path.Dir(q) {
		if ok, _ := path.Match(pat, q); ok {
			return true
		}
		if rest, ok := strings.CutPrefix(pat, "**/"); ok {
			parts := strings.Split(q, "/")
			for i := range parts {
				if ok, _ := path.Match(rest, strings.Join(parts[i:], "/")); ok {
					return true
				}
			}
		}
	}
	return false
}

func TestDockerignore(t *testing.T) {
	var patterns []string
	for _, l := range strings.Split(string(readFile(t, filepath.Join(repoRoot(t), ".dockerignore"))), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	for _, p := range []string{".git/config", "data/ledger/000001.vlog", "bin/botwarden", "botwarden"} {
		if !dockerignored(patterns, p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
	// What the build needs, including files embedded with go:embed.
	for _, p := range []string{"go.mod", "go.sum", "cmd/botwarden/main.go", "cmd/botwarden/demo/config.yaml",
		"internal/policy/testdata/demo.yaml", "docs/contracts/command.schema.json", "chatops/playground/assets/app.js"} {
		if dockerignored(patterns, p) {
			t.Errorf(".dockerignore excludes %s, which the build needs", p)
		}
	}
}
