// Package playground is the local stand-in for Slack that `botwarden
// serve` starts when it has no Slack credentials: the whole Slack
// experience of the app on one machine, with no workspace.
//
// It plays Slack on both sides of the bot:
//
//   - towards the bot, it serves the Web API methods the adapter calls
//     (chatops/fakeslack mounted under /api/, /upload/, /response/); the
//     adapter reaches it through its configurable API base URL and the
//     fake accepts only the bot token the process generated;
//   - towards the person, it serves an embedded web page (assets/, no CDN)
//     that looks and behaves like a Slack client for this app: pick a demo
//     user, type /warden commands in a channel, click buttons, fill modals,
//     open the App Home tab. Each of those becomes the request Slack would
//     send — a form-encoded slash command, a block_actions or
//     view_submission payload, an app_home_opened event — signed with the
//     signing secret and posted to the bot's real /slack/* endpoints (relay.go).
//     The playground has no other way into the core.
//
// The signing secret stays in this process: the page talks to the
// playground, the playground talks to the bot, as Slack's servers would.
//
// The page renders what the fake stored (messages, ephemerals, responses to
// response_urls, modals, Home tabs, uploaded files) for the chosen user
// only (state.go), long-polling for changes, and shows the audit ledger's
// head and last events with links to an offline-verifiable export
// (ledger.go). The server refuses requests whose Host is not a loopback
// name, so a web page elsewhere cannot drive it through DNS rebinding.
package playground
