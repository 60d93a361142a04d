// Package bundle builds support bundles: one deterministic .tar.gz with
// everything the person on call needs to diagnose a stuck or failed bot,
// proven secret-free before it is released.
//
// How the parts fit:
//
//   - Sources declares what a bundle reads, through small interfaces the
//     service adapts to: the core's Snapshot (fleet, safety, gates,
//     kill-switch, open challenges), the ledger (Ledger: export, head,
//     entries by seq, verifier key), driver diagnostics, a Prometheus
//     Gatherer, the effective configuration, the secret values the
//     process knows, and a Ring of recent service log lines.
//   - Builder.Build (it implements core.Bundler) stages each file in a
//     private folder under the bundle directory, redacting everything but
//     the ledger export (which must verify byte for byte, and which never
//     holds a secret by construction), writes manifest.json with every
//     file's size and SHA-256 and the redaction counts, and packs the files
//     in sorted order with fixed modes, owners and times into a .tar.gz
//     with github.com/mholt/archives.
//   - Before the bundle is released, the finished archive is re-read as a
//     stream and every file is scanned for every known secret form and
//     every redaction rule (package bundle/redact). Any hit deletes the
//     bundle and returns a *redact.LeakError naming the file and rule,
//     never the secret; the core audits that as a denial.
//   - Prune applies retention (count and age) after each successful build.
//   - Inspect re-reads a bundle, re-verifies every file against the
//     manifest and the embedded ledger export with ledger.VerifyExport.
//
// docs/bundles.md describes the layout and the guarantees.
package bundle
