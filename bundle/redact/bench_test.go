package redact

import (
	"bytes"
	"fmt"
	"testing"
)

func benchInput() []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 4<<20; i++ {
		fmt.Fprintf(&b, `{"seq":%d,"hash":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","event":{"type":"bot.state.transition","target":"bot-%03d","actor":"U012345","from":"IDLE","to":"RUNNING_PAPER","command_id":"cmd-%d","secret_ref":"vault:x"}}`+"\n", i, i%100, i)
	}
	return b.Bytes()
}

// BenchmarkRedactor_Scan measures proof-scan throughput on ledger-like JSON.
func BenchmarkRedactor_Scan(b *testing.B) {
	r, err := New([]string{knownSlack, knownSigning, knownDriver}, nil)
	if err != nil {
		b.Fatal(err)
	}
	in := benchInput()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := r.Scan(bytes.NewReader(in)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedactor_Bytes measures redaction throughput on the same input.
func BenchmarkRedactor_Bytes(b *testing.B) {
	r, err := New([]string{knownSlack, knownSigning, knownDriver}, nil)
	if err != nil {
		b.Fatal(err)
	}
	in := benchInput()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		r.Bytes(bytes.Clone(in), nil)
	}
}
