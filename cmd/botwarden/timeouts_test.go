package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startTimed serves h on 127.0.0.1 with the service's server and short
// timeouts.
func startTimed(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(h, httpTimeouts{header: 200 * time.Millisecond, request: 300 * time.Millisecond, idle: 300 * time.Millisecond})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// closedWithin reports whether the server closes conn within d (reads
// drain whatever it answered first).
func closedWithin(conn net.Conn, d time.Duration) bool {
	_ = conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	return err == nil || !(errors.As(err, &ne) && ne.Timeout())
}

func TestHTTPServer_Timeouts(t *testing.T) {
	t.Parallel()
	addr := startTimed(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if r.URL.Path == "/slow" { // a command waiting on a slow driver
			select {
			case <-time.After(time.Second):
			case <-r.Context().Done():
				http.Error(w, "cancelled", http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = io.WriteString(w, "done")
	}))

	t.Run("a trickled body is cut", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, _ = io.WriteString(conn, "POST /cmd HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"op\":")
		if !closedWithin(conn, 3*time.Second) {
			t.Fatal("the server still waits for the body 3 s later")
		}
	})
	t.Run("an idle connection is closed", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, _ = io.WriteString(conn, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("first request: %v %v", resp, err)
		}
		resp.Body.Close()
		if !closedWithin(conn, 3*time.Second) {
			t.Fatal("an idle keep-alive connection is still open 3 s later")
		}
	})
	t.Run("a handler outlives the read timeout", func(t *testing.T) {
		resp, err := http.Post("http://"+addr+"/slow", "application/json", strings.NewReader(`{"op":"start"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(body) != "done" {
			t.Fatalf("a 1 s handler behind a 300 ms read timeout: %s %q", resp.Status, body)
		}
	})
}
