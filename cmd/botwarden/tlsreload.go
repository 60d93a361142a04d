package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// certReloader serves the main listener's certificate from its files and
// picks up a renewed pair (cert-manager, certbot, a rotated secret) at the
// next handshake, without a restart. A pair that does not load (half
// written, mismatched) is refused with a warning and the one already
// loaded goes on being served, so a rotation in progress never takes the
// listener down.
type certReloader struct {
	certFile, keyFile string
	log               zerolog.Logger
	every             time.Duration // how often the files' change times are checked at most
	now               func() time.Time

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // inodes, change times and sizes of the loaded files
	failed  string // the stamp of the last pair that did not load (warned about)
	checked time.Time
}

// newCertReloader loads the pair once; a pair that does not load at start
// is an error.
func newCertReloader(certFile, keyFile string, log zerolog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log, every: time.Second, now: time.Now}
	stamp, err := r.stampNow()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	r.cert, r.stamp, r.checked = &cert, stamp, r.now()
	return r, nil
}

// stampNow describes the files' current versions.
func (r *certReloader) stampNow() (string, error) {
	var stamp string
	for _, p := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(p)
		if err != nil {
			return "", err
		}
		var ino uint64 // a new file renamed (or a symlink swapped) into place
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			ino = st.Ino
		}
		stamp += fmt.Sprintf("%s:%d:%d:%d;", p, ino, fi.ModTime().UnixNano(), fi.Size())
	}
	return stamp, nil
}

// GetCertificate is tls.Config.GetCertificate.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.checked) >= r.every {
		r.checked = now
		r.reload()
	}
	return r.cert, nil
}

// reload loads the pair if its files changed since the last load. A pair
// that does not load is tried again at every check (the other file of the
// pair may not be written yet) but warned about once per version of the
// files. Callers hold mu.
func (r *certReloader) reload() {
	stamp, err := r.stampNow()
	if err != nil {
		stamp = "unreadable: " + err.Error()
	}
	if stamp == r.stamp {
		return
	}
	if err == nil {
		var cert tls.Certificate
		if cert, err = tls.LoadX509KeyPair(r.certFile, r.keyFile); err == nil {
			r.cert, r.stamp, r.failed = &cert, stamp, ""
			r.log.Info().Str("cert", r.certFile).Msg("TLS certificate reloaded")
			return
		}
	}
	if stamp != r.failed {
		r.failed = stamp
		r.log.Warn().Err(err).Msg("renewed TLS certificate does not load; serving the loaded certificate")
	}
}
