// Package fakeslack is a small in-memory Slack for tests and the local
// playground. It serves the Web API methods the Botwarden adapter uses
// (chat.*, views.*, the v2 file upload, conversations.history, auth.test)
// plus response_url endpoints, stores channels, messages, ephemerals,
// views and files, and records every call. Failures and rate limits can be
// injected per method.
//
// It also builds the requests Slack would send to an app — slash commands,
// block actions, view submissions and events — signed with a signing
// secret (payloads.go), so a test or a playground can drive a bot end to
// end over HTTP.
//
// Serve it with Start (an httptest server on 127.0.0.1) or mount Handler
// on any http.Server; point the bot's API URL at URL().
package fakeslack
