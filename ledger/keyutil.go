package ledger

import (
	"crypto/ed25519"
	"crypto/sha256"
)

func ed25519Public(seed []byte) ed25519.PublicKey {
	return ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
