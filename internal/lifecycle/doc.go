// Package lifecycle is the fixed bot state machine of the control plane
// (spec §2): the states a bot can be in and which transitions are allowed.
// It is pure: no I/O, no clock, no policy. The core asks it whether a
// transition is allowed and what else the transition demands (gates,
// a confirmed challenge); the core enforces the rest.
package lifecycle
