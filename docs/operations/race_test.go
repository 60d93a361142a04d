//go:build race

package operations

const raceEnabled = true
