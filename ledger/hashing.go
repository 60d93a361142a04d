package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"

	"golang.org/x/mod/sumdb/tlog"
)

// chainHasher computes chain hashes (see ChainHash) without allocating.
// It is not safe for concurrent use: one per goroutine.
type chainHasher struct {
	d   hash.Hash
	hdr [len(Domain) + 1 + 8 + 8 + 32]byte
	sum [32]byte
}

func newChainHasher() *chainHasher {
	c := &chainHasher{d: sha256.New()}
	copy(c.hdr[:], Domain)
	return c
}

// hash returns ChainHash(seq, unixNano, prev, event); prev is 32 bytes.
func (c *chainHasher) hash(seq uint64, unixNano int64, prev, event []byte) [32]byte {
	n := len(Domain) + 1
	binary.BigEndian.PutUint64(c.hdr[n:], seq)
	binary.BigEndian.PutUint64(c.hdr[n+8:], uint64(unixNano))
	copy(c.hdr[n+16:], prev)
	c.d.Reset()
	c.d.Write(c.hdr[:])
	c.d.Write(event)
	c.d.Sum(c.sum[:0])
	return c.sum
}

// leafHash is tlog.RecordHash(chain[:]) without allocating:
// SHA-256(0x00 || chain).
func leafHash(chain [32]byte) tlog.Hash {
	var b [1 + 32]byte
	copy(b[1:], chain[:])
	return sha256.Sum256(b[:])
}

// nodeHash is tlog.NodeHash without allocating: SHA-256(0x01 || l || r).
func nodeHash(l, r tlog.Hash) tlog.Hash {
	var b [1 + 2*tlog.HashSize]byte
	b[0] = 1
	copy(b[1:], l[:])
	copy(b[1+tlog.HashSize:], r[:])
	return sha256.Sum256(b[:])
}
