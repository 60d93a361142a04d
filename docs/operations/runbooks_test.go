package operations

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// runbookBaseURL is where the service's runbook links point by default
// (core.DefaultRunbookBaseURL; TestRunbooks_BaseURL keeps them equal).
const runbookBaseURL = "https://github.com/botwarden/botwarden/blob/main/docs/operations/runbooks/"

// runbookFuncs are the functions that turn a key into a runbook link:
// core's Engine.runbook (and Runbook, which the API calls) and chatops'
// Adapter.runbookHint.
var runbookFuncs = map[string]bool{"runbook": true, "Runbook": true, "runbookHint": true}

// failureModes are pages the kit has beyond the keys the code links to:
// conditions alerts point at (issue 9's list).
var failureModes = []string{"error", "quarantined", "slack_posting"}

// linkedKeys parses every non-test Go file of the repository and returns
// each runbook key the service can link to, with where it was found: the
// core's Reason constants (denials link to "<reason>.md") and every string
// literal passed to a runbook-link function.
func linkedKeys(t *testing.T) map[string]string {
	t.Helper()
	root := repoRoot(t)
	keys := map[string]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil // another engineer's file mid-edit; the compiler reports it
		}
		rel, _ := filepath.Rel(root, path)
		collectKeys(f, fset, rel, keys)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The collector must find the keys we know exist, or it finds nothing.
	for _, k := range []string{"ledger_unavailable", "gate_unknown", "safety_not_normal", "stuck_stopping", "interrupted", "api_token", "rate_limited"} {
		if _, ok := keys[k]; !ok {
			t.Fatalf("key %q not found in the Go source: the collector is broken or the code changed (found %v)", k, sortedKeys(keys))
		}
	}
	return keys
}

func collectKeys(f *ast.File, fset *token.FileSet, rel string, keys map[string]string) {
	isCore := filepath.ToSlash(filepath.Dir(rel)) == "internal/core"
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.ValueSpec:
			if id, ok := n.Type.(*ast.Ident); isCore && ok && id.Name == "Reason" {
				for _, v := range n.Values {
					if s, ok := stringLit(v); ok {
						keys[s] = fset.Position(v.Pos()).String()
					}
				}
			}
		case *ast.CallExpr:
			if runbookFuncs[funcName(n.Fun)] && len(n.Args) == 1 {
				if s, ok := stringLit(n.Args[0]); ok {
					keys[s] = fset.Position(n.Pos()).String()
				}
			}
		}
		return true
	})
}

func funcName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	}
	return ""
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

func TestRunbooks_EveryLinkedKeyHasPage(t *testing.T) {
	keys := linkedKeys(t)
	for _, k := range sortedKeys(keys) {
		if _, err := os.Stat(filepath.Join("runbooks", k+".md")); err != nil {
			t.Errorf("runbooks/%s.md is missing (linked from %s)", k, keys[k])
		}
	}
	for _, k := range failureModes {
		if _, err := os.Stat(filepath.Join("runbooks", k+".md")); err != nil {
			t.Errorf("failure mode page: %v", err)
		}
	}
}

var (
	heading  = regexp.MustCompile(`(?m)^## (.+)$`)
	commands = regexp.MustCompile("`(/warden [^`]+|botwarden [^`]+)`|```")
)

// The sections every page has, in this order.
var pageSections = []string{"What the service shows", "What to check", "What to run"}

func TestRunbooks_PagesHaveSections(t *testing.T) {
	pages, err := filepath.Glob(filepath.Join("runbooks", "*.md"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no runbook pages: %v", err)
	}
	for _, p := range pages {
		if filepath.Base(p) == "README.md" {
			continue
		}
		text := string(readFile(t, p))
		if !strings.HasPrefix(text, "# ") {
			t.Errorf("%s: must start with a title", p)
		}
		if moved, ok := strings.CutPrefix(text[strings.Index(text, "\n")+1:], "\nMoved: "); ok {
			checkMoved(t, p, moved)
			continue
		}
		var got []string
		for _, m := range heading.FindAllStringSubmatch(text, -1) {
			got = append(got, m[1])
		}
		if strings.Join(got, "|") != strings.Join(pageSections, "|") {
			t.Errorf("%s: sections %q, want %q", p, got, pageSections)
			continue
		}
		run := text[strings.Index(text, "## What to run"):]
		if !commands.MatchString(run) {
			t.Errorf("%s: 'What to run' names no `/warden …` or `botwarden …` command", p)
		}
	}
}

// checkMoved accepts an alias page: "Moved: [key](key.md)" to a real page.
func checkMoved(t *testing.T, page, rest string) {
	m := regexp.MustCompile(`^\[[^\]]+\]\(([a-z_]+\.md)\)`).FindStringSubmatch(rest)
	if m == nil {
		t.Errorf("%s: alias page must read 'Moved: [name](page.md)'", page)
		return
	}
	if _, err := os.Stat(filepath.Join("runbooks", m[1])); err != nil {
		t.Errorf("%s: alias target: %v", page, err)
	}
}

func TestRunbooks_IndexListsEveryPage(t *testing.T) {
	index := string(readFile(t, filepath.Join("runbooks", "README.md")))
	pages, _ := filepath.Glob(filepath.Join("runbooks", "*.md"))
	for _, p := range pages {
		if b := filepath.Base(p); b != "README.md" && !strings.Contains(index, "("+b+")") {
			t.Errorf("runbooks/README.md does not link %s", b)
		}
	}
}

// TestRunbooks_BaseURL keeps the kit's links, the core's default and the
// embedded demo config pointing at this folder.
func TestRunbooks_BaseURL(t *testing.T) {
	root := repoRoot(t)
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(root, "internal", "core", "engine.go"), nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var def string
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Names) == 1 && vs.Names[0].Name == "DefaultRunbookBaseURL" && len(vs.Values) == 1 {
			def, _ = stringLit(vs.Values[0])
		}
		return def == ""
	})
	if def != runbookBaseURL {
		t.Errorf("core.DefaultRunbookBaseURL = %q, want %q", def, runbookBaseURL)
	}
	var demo struct {
		Runbooks string `yaml:"runbook_base_url"`
	}
	if err := yaml.Unmarshal(readFile(t, filepath.Join(root, "cmd", "botwarden", "demo", "config.yaml")), &demo); err != nil {
		t.Fatal(err)
	}
	if demo.Runbooks != runbookBaseURL {
		t.Errorf("demo config runbook_base_url = %q, want %q", demo.Runbooks, runbookBaseURL)
	}
	if !strings.HasSuffix(runbookBaseURL, "/docs/operations/runbooks/") {
		t.Errorf("base URL %q does not point at docs/operations/runbooks/", runbookBaseURL)
	}
}
