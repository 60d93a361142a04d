// Package coretest provides fakes of the core's ports (Auditor, Clock,
// Driver, Actions, Bundler) and a helper that builds a real core.Engine on
// them with the demo policy, for tests of the core and of its adapters.
// Every fake is safe for concurrent use.
package coretest
