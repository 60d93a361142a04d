// Package ledger is Botwarden's audit ledger: an append-only, hash-chained,
// Merkle-checkpointed log of audit events stored in Badger, that an auditor
// can verify offline with nothing but the ledger's public key.
//
// How the parts fit:
//
//   - Every entry has a dense sequence number (1, 2, …), the event bytes
//     exactly as given (one compact JSON object), its append time (UTC,
//     nanoseconds), the previous entry's chain hash and its own chain hash
//     (see ChainHash). The chain hashes are the leaves of an RFC 6962 Merkle
//     tree maintained with golang.org/x/mod/sumdb/tlog; the hashes tlog
//     stores above the leaves live in the value of the entry that
//     completes them, so an entry and its Merkle hashes are one write.
//   - Append is durable before it returns: each caller prepares its entry
//     (seq, time, prev, chain hash, Merkle hashes) under a short lock, in
//     seq order, while the previous batch commits; one committer goroutine
//     writes every waiting entry as one frame of the ledger's own
//     write-ahead log (write + fdatasync) and, in parallel, in one unsynced
//     Badger transaction, then wakes the waiters with their receipts. Open
//     replays the write-ahead log, so nothing Badger had not synced is lost
//     (wal.go explains why Badger's own sync is not used). AppendAll
//     queues several events together: consecutive seqs, usually one sync.
//     Queue and Pending.Wait split an append in two, so a caller can
//     learn the ledger's order under its own lock and wait outside it.
//     A writeback loop starts writing Badger's unsynced files early
//     (writeback.go), so that no sync meets a burst of them.
//   - The head (size and Merkle root) is signed as a C2SP tlog-checkpoint
//     (a signed note, golang.org/x/mod/sumdb/note, ed25519) on a schedule
//     and on demand. Every checkpoint is kept; the latest is also written to
//     a file beside the database so that Open refuses a log that is shorter
//     than, or forked from, what it has already signed.
//   - Verify re-walks entries, links and the stored Merkle hashes, in
//     aligned Merkle subtrees checked on every core and fed by one reader;
//     Scan and Export read
//     ahead in a goroutine; Export streams entries as JSON Lines plus a
//     trailer; VerifyExport checks an export offline against a signed
//     checkpoint and a verifier key. Walks release the table pages they
//     mapped, so a full replay does not stay in the service's RSS.
//
// docs/ledger.md is the byte-level specification of all of it.
package ledger
