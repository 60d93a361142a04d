// Package redact removes secrets from text and JSON and proves, by a
// streaming scan, that none is left.
//
// A Redactor holds two kinds of rules:
//
//   - the secret values the process knows (Slack tokens, signing secret,
//     driver and webhook credentials), matched exactly and in the encoded
//     forms a value takes when it is copied around: base64 (standard and
//     URL alphabets, padded, unpadded and at any byte alignment inside a
//     longer base64 stream), URL query and path escaping, JSON escaping
//     and hex;
//   - patterns: well-known token shapes (Slack, AWS, JWT, bearer tokens,
//     private-key blocks, passwords in URLs, secret-named fields) and any
//     extra patterns the operator configures.
//
// Redaction replaces a match with a marker that keeps the surrounding
// structure, "[REDACTED:<rule>]", and counts replacements per rule so the
// bundle manifest can say what ran and what it did. Scan looks for the
// same rules in a stream and reports the first hit by rule name and
// offset, never by value: that is the proof a support bundle is
// secret-free before it is released.
package redact
